// Carries out a WebGPU plan made by the core (core/backend/webgpu/plan.h): creates every buffer, pipeline
// and bind group once, uploads weights straight from the model file, then per forward call writes the
// step buffer, encodes the dispatch list in one compute pass, submits once and reads back the few bytes
// of the result (the top-k candidates; the full logits only on request). Nothing is created per token
// besides the command encoder WebGPU requires.
//
// Under structured output the host writes the allowed tokens (a bitset) to the mask buffer and the masked
// sampling dispatch runs instead of the plain one. The forward pass and the sampling can also go as two
// submissions (submitForward, submitSample), so the next forward runs on the GPU while the host works out
// the mask for the token after it. When the core shifts the context, the host runs the plan's `shift` list
// (shift) before the next forward call.

import { DispatchTimer } from './dispatch_timer.mjs';

const WRITE_CHUNK = 16 << 20;  // bytes per queue.writeBuffer while uploading
const READBACK_SLOTS = 4;      // steps that may be in flight at once
const SAMPLE = 'sample';       // the labels of a list's sampling tail (plan.h): one of the first two
const SAMPLE_MASKED = 'sample_masked';  // runs per call, then the merge
const SAMPLE_MERGE = 'sample_merge';

/**
 * @typedef {{name: string, role: string, size: number, uploads: number[][], fills: number[][]}} PlanBuffer
 * @typedef {{key: string, code: string, layout: [number, string][]}} PlanPipeline
 * @typedef {{label: string, pipeline: number, groups: number[], token_tile: number, bindings: number[][]}} PlanDispatch
 * @typedef {{kind: string, max_batch: number, context_size: number, n_vocab: number, top_k: number,
 *   step_buffer: number, result_buffer: number, logits_buffer: number, mask_buffer: number, shift_buffer: number,
 *   weight_bytes: number, total_bytes: number, buffers: PlanBuffer[], pipelines: PlanPipeline[], decode: PlanDispatch[],
 *   prefill: PlanDispatch[], verify?: PlanDispatch[], verify_batch?: number, shift?: PlanDispatch[]}} Plan
 * @typedef {(fileOffset: number, size: number) => Promise<Uint8Array>} ReadRange
 */

export class DeviceLostError extends Error {
  constructor(info) {
    super(`the GPU device was lost (${info?.reason ?? 'unknown'}): ${info?.message ?? ''} — reload the model to continue`);
    this.name = 'DeviceLostError';
    this.info = info;
  }
}

export class PlanExecutor {
  /**
   * Creates the plan's buffers, pipelines and bind groups. Weights are uploaded separately (uploadWeights).
   * @param {GPUDevice} device
   * @param {Plan} plan
   * @param {Uint8Array} blob the plan's computed bytes (kernel parameters, RoPE table)
   * @param {{onLost?: (error: DeviceLostError) => void}} [options]
   */
  static async create(device, plan, blob, options = {}) {
    const ex = new PlanExecutor(device, plan, blob, options);
    await ex.init();
    return ex;
  }

  constructor(device, plan, blob, { onLost } = {}) {
    this.device = device;
    this.plan = plan;
    this.blob = blob;
    /** @type {DeviceLostError | null} */
    this.lost = null;
    device.lost.then((info) => {
      if (info?.reason === 'destroyed' && this.destroyed) return;
      this.lost = new DeviceLostError(info);
      onLost?.(this.lost);
    });
  }

  async init() {
    const { device, plan } = this;
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    this.buffers = plan.buffers.map((b) => {
      const usage = b.role === 'params'
        ? GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST
        : GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
      return device.createBuffer({ label: b.name, size: b.size, usage });
    });
    for (const [i, b] of plan.buffers.entries()) {
      for (const [blobOffset, size, offset] of b.fills) {
        device.queue.writeBuffer(this.buffers[i], offset, this.blob, blobOffset, size);
      }
    }
    const resultSize = plan.result_buffer >= 0 ? plan.buffers[plan.result_buffer].size : 16;
    // Readback buffers for the results of steps in flight (a chained step is submitted before the previous
    // one is read back), all made here: nothing is created per token.
    this.resultReads = Array.from({ length: READBACK_SLOTS }, (_, i) =>
      device.createBuffer({ label: `result-read.${i}`, size: resultSize, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
    this.freeReads = [...this.resultReads];
    this.logitsRead = plan.logits_buffer >= 0
      ? device.createBuffer({ label: 'logits-read', size: plan.buffers[plan.logits_buffer].size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
      : null;
    this.stepWords = new Uint32Array(4 + plan.max_batch);

    this.layouts = plan.pipelines.map((p) => device.createBindGroupLayout({
      label: p.key,
      entries: p.layout.map(([binding, type]) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } })),
    }));
    // Synchronous creation: Dawn's createComputePipelineAsync aborts the process on SwiftShader (a glibc
    // thread-priority assertion), and pipelines are created once per model anyway.
    this.pipelines = [];
    for (const [i, p] of plan.pipelines.entries()) {
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ label: p.key, code: p.code });
      const pipeline = device.createComputePipeline({
        label: p.key,
        layout: device.createPipelineLayout({ bindGroupLayouts: [this.layouts[i]] }),
        compute: { module, entryPoint: 'main' },
      });
      const error = await device.popErrorScope();
      if (error) {
        const info = await module.getCompilationInfo?.();
        const messages = (info?.messages ?? []).map((m) => `  ${m.lineNum}:${m.linePos} ${m.message}`).join('\n');
        throw new Error(`WebGPU rejected kernel ${p.key}: ${error.message}${messages ? '\n' + messages : ''}`);
      }
      this.pipelines.push(pipeline);
    }
    // Each list as its forward pass and its two sampling tails, plain and masked, each with the merge
    // (absent from single-op plans); `all` in plan order (profiling). The shift list has no sampling.
    this.lists = {};
    for (const name of ['decode', 'prefill', 'verify', 'shift']) {
      const list = { forward: [], sample: null, masked: null, all: [] };
      for (const d of plan[name] ?? []) {
        const dispatch = {
          label: d.label,
          pipeline: this.pipelines[d.pipeline],
          groups: d.groups,
          tile: d.token_tile,
          bindGroup: device.createBindGroup({
            label: d.label,
            layout: this.layouts[d.pipeline],
            entries: d.bindings.map(([binding, buffer, offset, size]) => ({ binding, resource: { buffer: this.buffers[buffer], offset, size } })),
          }),
        };
        list.all.push(dispatch);
        if (d.label === SAMPLE) list.sample = [dispatch];
        else if (d.label === SAMPLE_MASKED) list.masked = [dispatch];
        else if (d.label === SAMPLE_MERGE) for (const tail of [list.sample, list.masked]) tail?.push(dispatch);
        else list.forward.push(dispatch);
      }
      this.lists[name] = list;
    }
    const oom = await device.popErrorScope();
    const invalid = await device.popErrorScope();
    if (oom) throw new Error(`the GPU ran out of memory creating the plan's buffers (${plan.total_bytes} bytes): ${oom.message}`);
    if (invalid) throw new Error(`WebGPU rejected the plan: ${invalid.message}`);
  }

  /** Number of dispatches of a forward call through `list` ('decode' or 'prefill'), sampling included. */
  dispatchCount(list = 'decode') {
    const { forward, sample } = this.lists[list];
    return forward.length + (sample?.length ?? 0);
  }

  /**
   * Uploads every weight range of the plan, in file order, from `readRange` (a file, a stream's buffered
   * window, an HTTP range request). Only one chunk is held at a time.
   * @param {ReadRange} readRange
   * @param {(done: number, total: number) => void} [onProgress]
   */
  async uploadWeights(readRange, onProgress) {
    const uploads = [];
    for (const [i, b] of this.plan.buffers.entries()) {
      for (const [fileOffset, size, offset] of b.uploads) uploads.push({ buffer: this.buffers[i], fileOffset, size, offset });
    }
    uploads.sort((a, b) => a.fileOffset - b.fileOffset);
    const total = uploads.reduce((s, u) => s + u.size, 0);
    let done = 0;
    this.device.pushErrorScope('validation');
    for (const u of uploads) {
      for (let at = 0; at < u.size; at += WRITE_CHUNK) {
        const n = Math.min(WRITE_CHUNK, u.size - at);
        let bytes = await readRange(u.fileOffset + at, n);
        if (bytes.byteLength !== n) throw new Error(`reading the model file: asked ${n} bytes at ${u.fileOffset + at}, got ${bytes.byteLength}`);
        if (n % 4 !== 0) {  // writeBuffer takes multiples of 4 bytes; the binding range was padded
          const padded = new Uint8Array(n + 4 - (n % 4));
          padded.set(bytes);
          bytes = padded;
        }
        this.device.queue.writeBuffer(u.buffer, u.offset + at, bytes);
        done += n;
        onProgress?.(done, total);
      }
    }
    const invalid = await this.device.popErrorScope();
    if (invalid) throw new Error(`uploading weights failed: ${invalid.message}`);
  }

  /** Writes a buffer of the plan by name (tests fill inputs of single-op plans this way). */
  writeBuffer(name, data, offset = 0) {
    const i = this.bufferIndex(name);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4 === 0) this.device.queue.writeBuffer(this.buffers[i], offset, bytes);
    else {
      const padded = new Uint8Array(bytes.byteLength + 4 - (bytes.byteLength % 4));
      padded.set(bytes);
      this.device.queue.writeBuffer(this.buffers[i], offset, padded);
    }
  }

  /** Reads a whole buffer back (tests; creates a staging buffer, so not for the token loop). */
  async readBuffer(name) {
    const i = this.bufferIndex(name);
    const size = this.plan.buffers[i].size;
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.buffers[i], 0, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = staging.getMappedRange().slice(0);
    staging.unmap();
    staging.destroy();
    return out;
  }

  bufferIndex(name) {
    const i = this.plan.buffers.findIndex((b) => b.name === name);
    if (i < 0) throw new Error(`the plan has no buffer named ${name}`);
    return i;
  }

  /**
   * Encodes and submits one forward call: `tokens` at positions [pos, pos + tokens.length). With
   * `chained`, `tokens` is ignored: one token is processed, the one the previous step sampled on the GPU.
   * With `mask` (the allowed tokens, see writeMask) the masked sampling runs; with `sample` false, none.
   * @param {ArrayLike<number> | null} tokens at most plan.max_batch
   * @param {number} pos
   * @param {'decode' | 'prefill'} [list] default: decode for one token, prefill otherwise
   * @param {{readLogits?: boolean, chained?: boolean, resultRead?: GPUBuffer, mask?: Uint32Array | null,
   *   sample?: boolean}} [options]
   */
  encode(tokens, pos, list, { readLogits = false, chained = false, resultRead = null, mask = null, sample = true } = {}) {
    if (this.lost) throw this.lost;
    const n = chained ? 1 : tokens.length;
    if (n < 1 || n > this.plan.max_batch) throw new Error(`a forward call takes 1..${this.plan.max_batch} tokens, got ${n}`);
    if (this.plan.context_size && pos + n > this.plan.context_size) {
      throw new Error(`position ${pos + n} is past the context of ${this.plan.context_size} tokens`);
    }
    const words = this.stepWords;
    words[0] = n;
    words[1] = pos;
    words[2] = chained ? 1 : 0;
    if (!chained) for (let i = 0; i < n; i++) words[4 + i] = tokens[i];
    const name = list ?? (n === 1 ? 'decode' : 'prefill');
    const { forward, sample: plain, masked } = this.lists[name];
    if (mask) this.writeMask(mask);
    this.device.queue.writeBuffer(this.buffers[this.plan.step_buffer], 0, words, 0, chained ? 4 : 4 + n);
    const enc = this.device.createCommandEncoder();
    const sampling = !sample ? null : mask ? masked : plain;
    // A decode call the timer samples (metrics: dispatch_timer.mjs) runs a pass per dispatch; others one pass.
    const timed = name === 'decode' && n === 1 && this.timer?.wants();
    if (timed) this.timer.encode(enc, sampling ? [...forward, ...sampling] : forward, (pass, d) => dispatch(pass, d, n));
    else {
      const pass = enc.beginComputePass();
      for (const d of forward) dispatch(pass, d, n);
      for (const d of sampling ?? []) dispatch(pass, d, n);
      pass.end();
    }
    if (resultRead) enc.copyBufferToBuffer(this.buffers[this.plan.result_buffer], 0, resultRead, 0, resultRead.size);
    // The rows the call wrote: the last token's (decode, prefill), every token's (verify).
    const rows = name === 'verify' ? n : 1;
    if (readLogits && this.logitsRead) enc.copyBufferToBuffer(this.buffers[this.plan.logits_buffer], 0, this.logitsRead, 0, 4 * rows * this.plan.n_vocab);
    this.device.queue.submit([enc.finish()]);
    if (timed) this.timer.collect();
  }

  /**
   * Writes the tokens allowed at the next sampling: a bitset of the vocabulary (bit id % 32 of word
   * id / 32), as the core's allowedTokens gives it. Queue-ordered: a sampling already submitted still
   * sees the previous mask.
   * @param {Uint32Array} words
   */
  writeMask(words) {
    const at = this.plan.mask_buffer;
    if (at < 0) throw new Error('this plan has no mask buffer');
    if (words.length !== Math.ceil(this.plan.n_vocab / 32)) {
      throw new Error(`the token mask has ${words.length} words; the vocabulary of ${this.plan.n_vocab} tokens needs ${Math.ceil(this.plan.n_vocab / 32)}`);
    }
    this.device.queue.writeBuffer(this.buffers[at], 0, words);
  }

  /**
   * Submits one forward call and returns the promise of its readback: the top-k candidates of the last
   * token (k = plan.top_k), and its logits when asked. Several may be in flight (at most READBACK_SLOTS - 1
   * besides a logits read); they settle in submission order.
   * @returns {Promise<{ids: Uint32Array, logits: Float32Array, all?: Float32Array}>}
   */
  submit(tokens, pos, { list, readLogits = false, chained = false, mask = null } = {}) {
    const resultRead = this.takeRead();
    try {
      this.encode(tokens, pos, list, { readLogits, chained, resultRead, mask });
    } catch (e) {
      this.freeReads.push(resultRead);
      throw e;
    }
    return this.readResult(resultRead, readLogits);
  }

  /**
   * Submits a forward call without its sampling and without readback: its logits stay on the GPU for a
   * submitSample to come. (Nothing is mapped, so nothing needs settling but the queue; see settle.)
   */
  submitForward(tokens, pos, { list, chained = false } = {}) {
    this.encode(tokens, pos, list, { chained, sample: false });
  }

  /**
   * Samples the logits the last forward call left (masked when `mask` is given, see writeMask) and
   * returns the promise of the readback, as submit does. Its result is what a chained step reads next.
   * @param {Uint32Array | null} [mask]
   * @returns {Promise<{ids: Uint32Array, logits: Float32Array}>}
   */
  submitSample(mask = null) {
    if (this.lost) throw this.lost;
    const { sample, masked } = this.lists.decode;
    if (!sample) throw new Error('this plan has no sampling dispatch');
    const resultRead = this.takeRead();
    try {
      if (mask) this.writeMask(mask);
      const enc = this.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (const d of mask ? masked : sample) dispatch(pass, d, 1);
      pass.end();
      enc.copyBufferToBuffer(this.buffers[this.plan.result_buffer], 0, resultRead, 0, resultRead.size);
      this.device.queue.submit([enc.finish()]);
    } catch (e) {
      this.freeReads.push(resultRead);
      throw e;
    }
    return this.readResult(resultRead, false);
  }

  /**
   * Shifts the KV cache as the core asks (Session.pending().shift, tabllm_generate_pending_shift): drops
   * the rows of positions [keep, keep + discard), moves those of [keep + discard, end) down by discard and
   * rotates their keys back by discard. Queue-ordered: the next forward call sees the shifted cache.
   * @param {{keep: number, discard: number, end: number}} shift
   */
  shift({ keep, discard, end }) {
    if (this.lost) throw this.lost;
    if (this.plan.shift_buffer < 0 || this.lists.shift.all.length === 0) throw new Error('this plan has no context shift');
    const moved = end - keep - discard;
    if (!(keep >= 0 && discard >= 1 && moved >= 0 && moved <= discard && end <= this.plan.context_size)) {
      throw new Error(`invalid context shift (keep ${keep}, discard ${discard}, end ${end}): the core plans shifts that drop at least as many rows as they move, within the context of ${this.plan.context_size}`);
    }
    this.device.queue.writeBuffer(this.buffers[this.plan.shift_buffer], 0, new Uint32Array([keep, discard, end, 0]));
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const d of this.lists.shift.all) dispatch(pass, d, 1);
    pass.end();
    this.device.queue.submit([enc.finish()]);
  }

  /**
   * The KV rows of positions [start, start + count) as KV pages lay them out (per layer, the key rows then
   * the value rows; plan.kv_rows): copied to a mappable buffer in queue order (after every step submitted,
   * before anything submitted later, such as the shift that overwrites them) and read back.
   * @returns {Promise<Uint8Array>}
   */
  async readKvRows(start, count) {
    if (this.lost) throw this.lost;
    const { bytes, copies } = this.kvCopies(start, count);
    const staging = this.device.createBuffer({ label: 'kv-read', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const enc = this.device.createCommandEncoder();
      for (const [buffer, offset, at, size] of copies) enc.copyBufferToBuffer(this.buffers[buffer], offset, staging, at, size);
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      return new Uint8Array(staging.getMappedRange().slice(0));
    } finally {
      staging.destroy();
    }
  }

  /** Writes rows laid out as readKvRows gives them at positions [start, start + count) (queue-ordered). */
  writeKvRows(start, count, rows) {
    if (this.lost) throw this.lost;
    const { bytes, copies } = this.kvCopies(start, count);
    if (rows.byteLength !== bytes) throw new Error(`KV rows of ${count} positions take ${bytes} bytes, got ${rows.byteLength}`);
    for (const [buffer, offset, at, size] of copies) this.device.queue.writeBuffer(this.buffers[buffer], offset, rows, at, size);
  }

  // [buffer, offset, offset in the rows, size] of each layer's key and value rows of [start, start + count).
  kvCopies(start, count) {
    const { kv_rows: layers, kv_row_bytes: rowBytes, context_size: context } = this.plan;
    if (!layers?.length) throw new Error('this plan has no KV cache');
    if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count > 0 && start + count <= context)) {
      throw new Error(`KV rows [${start}, ${start + count}) lie outside the cache of ${context} positions`);
    }
    const size = count * rowBytes;
    const copies = [];
    for (const [kBuffer, kOffset, vBuffer, vOffset] of layers) {
      copies.push([kBuffer, kOffset + start * rowBytes, copies.length * size, size]);
      copies.push([vBuffer, vOffset + start * rowBytes, copies.length * size, size]);
    }
    return { bytes: copies.length * size, copies };
  }

  /** Resolves once the GPU has done everything submitted (or the device is lost). */
  async settle() {
    await this.device.queue.onSubmittedWorkDone().catch(() => {});
  }

  takeRead() {
    const resultRead = this.freeReads.pop();
    if (!resultRead) throw new Error(`more than ${READBACK_SLOTS} forward calls in flight`);
    return resultRead;
  }

  async readResult(resultRead, readLogits) {
    await this.mapped(...(readLogits ? [resultRead, this.logitsRead] : [resultRead]));
    const words = new Uint32Array(resultRead.getMappedRange().slice(0));
    resultRead.unmap();
    this.freeReads.push(resultRead);
    const k = this.plan.top_k;
    const ids = new Uint32Array(k);
    const logits = new Float32Array(k);
    const bits = new Float32Array(words.buffer);
    for (let i = 0; i < k; i++) {
      ids[i] = words[2 * i];
      logits[i] = bits[2 * i + 1];
    }
    const out = { ids, logits };
    if (readLogits) {
      out.all = new Float32Array(this.logitsRead.getMappedRange(0, 4 * this.plan.n_vocab).slice(0));
      this.logitsRead.unmap();
    }
    return out;
  }

  /**
   * Speculative decoding's verification (plan.h `verify`): `tokens` (at most plan.verify_batch) at positions
   * [pos, pos + n) in one forward call. Returns the argmax of every token's logits row (ids[t], ties to the
   * lowest id), or with `readLogits` the rows themselves (rows: n × n_vocab floats) for the core to choose from.
   * @returns {Promise<{ids?: Uint32Array, rows?: Float32Array}>}
   */
  async verify(tokens, pos, { readLogits = false } = {}) {
    const n = tokens.length;
    if (!(n >= 1 && n <= (this.plan.verify_batch ?? 0))) throw new Error(`a verify call takes 1..${this.plan.verify_batch ?? 0} tokens (the plan's verify_batch), got ${n}`);
    if (readLogits) {
      this.encode(tokens, pos, 'verify', { readLogits, sample: false });
      await this.mapped(this.logitsRead);
      const rows = new Float32Array(this.logitsRead.getMappedRange(0, 4 * n * this.plan.n_vocab).slice(0));
      this.logitsRead.unmap();
      return { rows };
    }
    const resultRead = this.takeRead();
    try {
      this.encode(tokens, pos, 'verify', { resultRead });
      await this.mapped(resultRead);
    } catch (e) {
      this.freeReads.push(resultRead);
      throw e;
    }
    const words = new Uint32Array(resultRead.getMappedRange(0, 8 * n).slice(0));
    resultRead.unmap();
    this.freeReads.push(resultRead);
    return { ids: words.filter((_, i) => i % 2 === 0) };
  }

  // Maps a readback buffer, reporting a lost device as such.
  async mapped(...buffers) {
    try {
      await Promise.all(buffers.map((b) => b.mapAsync(GPUMapMode.READ)));
    } catch (e) {
      // Chromium fails the mapping before device.lost settles: give the loss a moment to be reported.
      if (!this.lost) await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 50))]);
      throw this.lost ?? e;
    }
  }

  /** One forward call with its readback (see submit). */
  forward(tokens, pos, options = {}) {
    return this.submit(tokens, pos, options);
  }

  /** Runs a forward call and waits for the GPU, without readback (single-op tests). */
  async run(tokens, pos, list = 'decode', { mask = null } = {}) {
    this.encode(tokens, pos, list, { mask });
    await this.device.queue.onSubmittedWorkDone();
    if (this.lost) throw this.lost;
  }

  /** Samples the GPU time of each kind of dispatch (dispatch_timer.mjs) where the device has
   * timestamp-query: the timer, or null. */
  startTimer(options) {
    this.timer ??= DispatchTimer.forDevice(this.device, this.lists.decode.all.length, options);
    return this.timer;
  }

  destroy() {
    this.destroyed = true;
    this.timer?.destroy();
    for (const b of this.buffers ?? []) b.destroy();
    for (const b of this.resultReads ?? []) b.destroy();
    this.logitsRead?.destroy();
  }
}

function dispatch(pass, d, nTokens) {
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(d.groups[0], d.groups[1], d.tile ? Math.ceil(nTokens / d.tile) : d.groups[2]);
}
