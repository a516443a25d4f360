// A model on WebGPU, driven from JavaScript: the core plans (Model.planWebgpu, js/src/core/wasm.mjs), the
// executor runs the plan, and this class steps generation — prefill in chunks of the plan's batch, then one token per step,
// sampling greedily on the GPU (or reading back top-k candidates). The WebAssembly engine stays the owner
// of tokenizing and of any sampling that needs the logits (see docs/webgpu.md).
import { importNodeOnly } from '../node_only.mjs';
import { PlanExecutor } from './executor.mjs';
import { planFeatures } from './limits.mjs';

// Greedy steps the GPU runs ahead of the one being read back. Reading a step back in Node took 1-2 ms more
// than the step on an H200, as long as a 1B model's step: with one step ahead the GPU waited, with two
// Llama-3.2-1B decoded 5 % faster (docs/webgpu.md, "Running ahead"). The executor has 4 readback slots.
const AHEAD = 2;

export class GpuModel {
  /**
   * @param {{planWebgpu: (options: object) => {plan: object, blob: Uint8Array}}} model the core's model of the
   *   file (header-only: tabllm.loadModelHeader), which plans from the header it parsed
   * @param {GPUDevice} device
   * @param {{size: number, read: (offset: number, size: number) => Promise<Uint8Array>}} file the GGUF file
   * @param {object} options plan options (limits, context_size, max_batch, top_k; `subgroups` and `dot8`
   *   default to what the device offers: limits.mjs planFeatures)
   */
  static async load(model, device, file, options = {}) {
    const { onLost, ...planOptions } = options;
    const { plan, blob } = model.planWebgpu({ ...planFeatures(device), ...planOptions });
    const executor = await PlanExecutor.create(device, plan, blob, { onLost });
    await executor.uploadWeights((offset, size) => file.read(offset, size));
    return new GpuModel(executor);
  }

  constructor(executor) {
    this.executor = executor;
    this.plan = executor.plan;
    this.pos = 0;
  }

  /**
   * Processes `tokens` after what the cache holds; returns the last token's candidates (sampled among the
   * allowed tokens when `mask` is given: see PlanExecutor.writeMask). Every chunk is submitted before
   * this returns (the only wait is the last readback), so a caller may queue more work behind it first.
   */
  async feed(tokens, { readLogits = false, mask = null } = {}) {
    let out = null;
    const B = this.plan.max_batch;
    for (let i = 0; i < tokens.length; i += B) {
      const chunk = tokens.slice(i, i + B);
      const last = i + B >= tokens.length;
      // Only the last chunk's result matters; earlier chunks are submitted without waiting.
      if (last) out = await this.executor.forward(chunk, this.pos, { readLogits, mask });
      else this.executor.submitForward(chunk, this.pos);
      this.pos += chunk.length;
    }
    return out;
  }

  /**
   * Greedy tokens after `tokens` (fed after what the cache holds), one per iteration, sampled on the GPU.
   * The GPU runs up to AHEAD steps ahead: each takes its input token from the step before it, on the GPU,
   * and is submitted before the tokens before it are read back, so reading back (whose latency varies with
   * the host) and encoding overlap the GPU's work. Stop iterating whenever you like; `pos` then counts
   * exactly the tokens handed out (the steps run ahead are dropped). With `limit`, at most that many
   * tokens, and no step is run past the last (a draft model's k tokens).
   * @returns {AsyncGenerator<number>}
   */
  async *greedyStream(tokens, { limit = Infinity } = {}) {
    const B = this.plan.max_batch;
    for (let i = 0; i + B < tokens.length; i += B) {
      this.executor.submitForward(tokens.slice(i, i + B), this.pos);
      this.pos += B;
    }
    const lastChunk = tokens.slice(Math.floor((tokens.length - 1) / B) * B);
    const queue = [this.executor.submit(lastChunk, this.pos)];  // steps submitted and not yet handed out
    this.pos += lastChunk.length;
    try {
      for (let handed = 1; ; handed++) {
        // The steps after the first pending one, at the positions after it. (A rejection is seen when its
        // step is next; unless the consumer stops first, which drops it.)
        while (queue.length <= AHEAD) {
          const at = this.pos + queue.length - 1;
          if (at >= this.plan.context_size || handed + queue.length - 1 >= limit) break;
          const step = this.executor.submit(null, at, { chained: true });
          step.catch(() => {});
          queue.push(step);
        }
        yield (await queue.shift()).ids[0];
        if (queue.length === 0) return;
        this.pos++;  // the token just handed out is in the cache now
      }
    } finally {
      // Dropped steps still settle before the caller goes on (it may destroy the device next).
      for (const step of queue) await step.catch(() => {});
    }
  }

  /** Greedy generation: `count` tokens after `prompt` (ids), starting from an empty cache. */
  async greedy(prompt, count, { eos = -1 } = {}) {
    this.pos = 0;
    const out = [];
    if (count <= 0) return out;
    for await (const token of this.greedyStream(prompt)) {
      out.push(token);
      if (token === eos || out.length === count) break;
    }
    return out;
  }

  destroy() {
    this.executor.destroy();
  }
}

/** A file on disk as the reader GpuModel.load takes (Node). */
export async function nodeFileReader(path) {
  const fs = await importNodeOnly('node:fs/promises');
  const handle = await fs.open(path, 'r');
  const { size } = await handle.stat();
  return {
    size,
    async read(offset, length) {
      const bytes = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(bytes, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return bytes.subarray(0, done);
    },
    close: () => handle.close(),
  };
}
