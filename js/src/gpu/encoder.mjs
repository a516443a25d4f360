// An embedding model on WebGPU (bert, nomic-bert, or a decoder such as Qwen3-Embedding): the core plans the
// whole pass (Model.planWebgpu gives core/backend/webgpu/encoder_plan.h's plan for an embedding model), the
// executor creates and uploads everything, and a call runs many inputs in one forward pass — each attending
// only to itself — pooled and L2-normalised on the GPU, reading back one vector per input.
import { PlanExecutor } from './executor.mjs';

export class GpuEncoder {
  /**
   * @param {{planWebgpu: (options: object) => {plan: object, blob: Uint8Array}, info: () => {dim: number}}} model
   *   the core's header-only model of an embedding model
   * @param {GPUDevice} device
   * @param {{size: number, read: (offset: number, size: number) => Promise<Uint8Array>}} file the GGUF file
   * @param {{limits?: object, max_batch?: number, tok_tile?: number, onLost?: Function}} options plan options
   *   (max_batch: tokens per forward pass, 2048 unless given)
   */
  static async load(model, device, file, options = {}) {
    const { onLost, ...planOptions } = options;
    const { plan, blob } = model.planWebgpu({ max_batch: 2048, ...planOptions });
    if (plan.kind !== 'encoder') throw new Error(`the plan is a ${plan.kind} plan, not an encoder's`);
    const executor = await PlanExecutor.create(device, plan, blob, { onLost });
    try {
      await executor.uploadWeights((offset, size) => file.read(offset, size));
      return new GpuEncoder(executor, model.info().dim);
    } catch (e) {
      executor.destroy();
      throw e;
    }
  }

  constructor(executor, dim) {
    this.executor = executor;
    this.plan = executor.plan;
    this.dim = dim;
    const { device } = executor;
    const B = this.plan.max_batch;
    this.seqs = new Uint32Array(4 + 3 * B + 1);
    this.pooled = executor.buffers[executor.bufferIndex('pooled')];
    this.seqsBuffer = executor.buffers[this.plan.seqs_buffer];
    // One staging buffer for the vectors, made once (a pass reads back at most max_batch of them).
    this.read = device.createBuffer({ label: 'pooled-read', size: this.pooled.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.queue = Promise.resolve();  // calls run one after another: they share the staging buffer
  }

  /** The GPU buffers the encoder holds (the plan's and the staging buffer). */
  get buffers() {
    return [...this.executor.buffers, this.read];
  }

  /**
   * Unit-length embeddings of token-id arrays (each 1 to the model's context long), in passes of up to
   * max_batch tokens (a pass holds whole inputs).
   * @param {ArrayLike<number>[]} inputs
   * @returns {Promise<Float32Array[]>}
   */
  embed(inputs) {
    const run = this.queue.then(() => this.#embed(inputs));
    this.queue = run.catch(() => {});
    return run;
  }

  async #embed(inputs) {
    const B = this.plan.max_batch;
    const out = [];
    let first = 0;
    while (first < inputs.length) {
      let end = first + 1;
      let tokens = inputs[first].length;
      if (tokens > B) throw new RangeError(`input ${first} has ${tokens} tokens, more than a forward pass holds (${B}): load the model with a maxBatch of at least ${tokens}`);
      while (end < inputs.length && tokens + inputs[end].length <= B) tokens += inputs[end++].length;
      out.push(...await this.#pass(inputs.slice(first, end), tokens));
      first = end;
    }
    return out;
  }

  // One forward pass over inputs of `n` tokens together.
  async #pass(inputs, n) {
    const { executor, seqs, dim } = this;
    const B = this.plan.max_batch;
    const ids = new Uint32Array(n);
    seqs[0] = inputs.length;
    seqs[1] = B;
    let t = 0;
    for (const [i, input] of inputs.entries()) {
      seqs[4 + 2 * B + i] = t;
      for (let p = 0; p < input.length; p++, t++) {
        ids[t] = input[p];
        seqs[4 + t] = seqs[4 + 2 * B + i];
        seqs[4 + B + t] = input.length;
      }
    }
    seqs[4 + 2 * B + inputs.length] = t;
    executor.device.queue.writeBuffer(this.seqsBuffer, 0, seqs, 0, 4 + 2 * B + inputs.length + 1);
    executor.encode(ids, 0, 'prefill', { sample: false });
    const bytes = 4 * dim * inputs.length;
    const enc = executor.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.pooled, 0, this.read, 0, bytes);
    executor.device.queue.submit([enc.finish()]);
    try {
      await this.read.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      throw executor.lost ?? e;
    }
    const all = new Float32Array(this.read.getMappedRange(0, bytes).slice(0));
    this.read.unmap();
    return inputs.map((_, i) => all.subarray(i * dim, (i + 1) * dim));
  }

  destroy() {
    this.executor.destroy();
    this.read.destroy();
  }
}
