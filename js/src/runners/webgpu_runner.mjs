// The model on WebGPU: weights streamed from the file to GPU buffers (js/src/gpu), never into the
// WebAssembly heap, which holds only the header-only model (tokenizer, config) and a session whose
// forward pass this runner carries out: greedy requests take the GPU's argmax (over the tokens the core
// allows, under a response_format), others read the logits back and let the core sample.
//
// Under a kvBudget the GPU's cache holds the window the budget holds; at each shift the rows it drops are
// read back before the shift runs and handed to the core, which writes them as KV pages to the spill
// (kv_pager.mjs), as on WebAssembly. With a prefix cache, a request's new pages are read back from the GPU
// after it, and restored pages are written to the GPU before the next one.
import { planLimits } from '../gpu/limits.mjs';
import { GpuModel } from '../gpu/model_runner.mjs';
import { requestWebgpuDevice } from '../capabilities.mjs';
import { startWasm } from '../wasm_module.mjs';
import { uploadReader } from './upload_reader.mjs';
import { runRequest, stepLoop } from './step_loop.mjs';
import { DraftGpuModel, SpeculationMemory, SpeculativeSteps, speculativeMethod } from './webgpu_speculative.mjs';
import { KvPagerCounts, openKvPageSpill } from '../kv_pager.mjs';

// Positions a verification call takes: the pending token and up to 8 drafts (the requests' default k).
const VERIFY_BATCH = 9;

export class WebgpuRunner {
  /**
   * @param {{size: number, read: (offset: number, length: number) => Promise<Uint8Array>}} source
   * @param {{contextSize?: number, kvType?: 'f16'|'q8_0'|'f32', kvBudget?: number, kvRecall?: boolean, encryptPages?: boolean,
   *   onProgress?: Function, onLost?: (error: Error) => void, device?: GPUDevice, limits?: Record<string, number>,
   *   maxBatch?: number, powerPreference?: GPUPowerPreference, kvPages?: {spill: KvPageSpill, close: () => Promise<void>}, wasm?: object}} options
   *   kvBudget: bytes of GPU memory the KV cache may take; older rows go out as pages to kvPages (default: a
   *   fresh spill of openKvPageSpill, kv_pager.mjs), which the runner closes. kvRecall is not available here
   *   yet (runtime.kvRecall says so).
   *   wasm: a lease on a started module (models/shared.mjs) for the header-only model, released when the
   *   runner is destroyed; without it the runner starts one of its own
   *   powerPreference: the adapter asked for when no device is given (the energy profile's)
   *   draft: a draft model's file, with the model's vocabulary: loaded on the same device, it drafts for
   *   requests with speculative method "draft" (webgpu_speculative.mjs)
   */
  static async create(source, { contextSize, kvType = 'f16', kvBudget, kvRecall = false, encryptPages = false, onProgress, onLost, device, limits, maxBatch, powerPreference, kvPages, wasm, draft } = {}) {
    wasm ??= await startWasm({ variant: 'single' });
    let gpu = null;
    let model = null;
    let session = null;
    let pages = null;
    let draftModel = null;
    try {
      const heapBefore = wasm.tabllm.heapStats().in_use_bytes;
      model = await wasm.tabllm.loadModelHeader((offset, length) => source.read(offset, length), source.size);
      const info = model.info();
      const context = Math.min(contextSize || Math.min(info.context, 4096), info.context);
      if (!device) ({ device, limits } = await requestWebgpuDevice({ powerPreference }));
      else limits ??= planLimits(device.limits);
      const reading = uploadReader(source, onProgress);
      // Pages are written and never read back here (no recall on WebGPU yet).
      pages = kvBudget ? kvPages ?? await openKvPageSpill({ encrypt: encryptPages, readBack: false }) : null;
      session = model.createExternalSession({ contextSize: context, kvType, kvBudget, kvPageStore: pages?.spill });
      const { kv_window: window, kv_bytes_per_token: perToken } = session.info();
      // verify_batch: speculative decoding's verification runs up to VERIFY_BATCH positions in one call.
      const options = { limits, context_size: window, kv_type: kvType, onLost, verify_batch: VERIFY_BATCH };
      if (maxBatch) options.max_batch = maxBatch;
      gpu = await GpuModel.load(model, device, reading, options);
      if (kvBudget && gpu.plan.kv_bytes_per_token !== perToken) {
        throw new Error(`the GPU's KV cache takes ${gpu.plan.kv_bytes_per_token} bytes a position where the core pages ${perToken}`);
      }
      if (draft) draftModel = await loadDraft(wasm, draft, device, limits, info, context);
      const runner = new WebgpuRunner(wasm, model, session, gpu, device, info, context, pages, draftModel);
      if (kvRecall) runner.details.kvRecall = 'off: pages are not recalled on WebGPU yet';
      gpu.executor.startTimer();  // GPU time per kind of dispatch, sampled (engine.metrics())
      runner.memory = { heap: wasm.tabllm.heapStats().in_use_bytes - heapBefore, gpu: runner.gpuBuffers().reduce((sum, b) => sum + b.size, 0) };
      return runner;
    } catch (e) {
      draftModel?.destroy();
      gpu?.destroy();
      session?.free();
      await pages?.close();
      model?.free();
      wasm.release();
      throw e;
    }
  }

  /** The GPU buffers the model holds (its plan's, the readback buffers, the dispatch timer's, its draft model's); all
   * destroyed by destroy(). */
  gpuBuffers() {
    const held = (ex) => (ex ? [...ex.buffers, ...ex.resultReads, ...(ex.logitsRead ? [ex.logitsRead] : []), ...(ex.timer?.buffers ?? [])] : []);
    return [...held(this.gpu?.executor), ...held(this.draft?.gpu.executor)];
  }

  constructor(wasm, model, session, gpu, device, info, contextSize, kvPages = null, draft = null) {
    this.wasm = wasm;
    this.model = model;
    this.session = session;
    this.gpu = gpu;
    this.device = device;
    this.info = info;
    this.contextSize = contextSize;
    this.backend = 'webgpu';
    this.details = {
      adapter: device.adapterInfo?.description || device.adapterInfo?.vendor || null,
      kvType: gpu.plan.kv_type,
      kvBytesPerToken: gpu.plan.kv_bytes_per_token,
      kvWindow: gpu.plan.context_size,
    };
    this.window = gpu.plan.context_size;  // positions the GPU's cache holds: contextSize unless paged
    this.kvPages = kvPages;
    this.draft = draft;  // a DraftGpuModel, or null
    this.speculation = new SpeculationMemory();  // how speculation compared with plain decoding here
    if (draft) this.details.draftModel = draft.name;
    this.kvCounts = kvPages ? new KvPagerCounts(kvPages.spill, this.window) : null;
    if (kvPages) this.details.kvPageStore = kvPages.spill.store.kind;
  }

  tokenize(text, addBos) {
    return this.model.tokenize(text, addBos);
  }

  /** Generates a request (see runRequest) with core params (tabllm.h); see stepLoop. */
  run(request, params, control) {
    return runRequest(this.model, request, params, (prepared, startParams) => this.#generate(prepared, startParams, control));
  }

  async *#generate(prepared, startParams, control) {
    if (this.prefixCache) {
      await this.prefixCache.restore(this.session, prepared);
      for (const { start, count, rows } of this.session.takeKvWrites()) this.gpu.executor.writeKvRows(start, count, rows);
    }
    const method = speculativeMethod(this.gpu, prepared, startParams);
    if (method === 'draft' && !this.draft) throw new Error('speculative method "draft" needs a draft model: load the model with the draftModel option');
    this.session.start(prepared, startParams);
    const plain = this.session.hostCanSample() ? this.#greedySteps(this.session) : { step: this.#sampledStep(this.session), settle: async () => {} };
    const speculative = method && new SpeculativeSteps(this.session, this.gpu, (s) => this.#shift(s), plain,
      { method, draft: method === 'draft' ? this.draft : null, minSpeedup: prepared.minSpeedup ?? 1, memory: this.speculation });
    let out;
    try {
      out = yield* stepLoop(this.session, speculative ? speculative.step : plain.step, control);
    } finally {
      // A forward pass run ahead maps nothing, but it still finishes before the generation returns (the
      // caller may destroy the device next).
      await plain.settle();
    }
    if (speculative) out.result.speculative = speculative.usage(out.result.speculative);
    if (this.prefixCache) await this.#savePages();
    this.kvCounts?.add(out.result);
    return out;
  }

  // The prefix cache copies the pages it lacks from rows read back from the GPU.
  async #savePages() {
    const from = this.prefixCache.firstUnsaved(this.session);
    const count = this.session.info().cached_tokens.length - from;
    if (count > 0) this.session.stageRows(from, count, await this.gpu.executor.readKvRows(from, count));
    try {
      this.prefixCache.save(this.session);
    } finally {
      this.session.stageRows(null);
    }
  }

  // Before the shift runs: under a kvBudget the rows it drops are read back and go out as KV pages; a
  // failed read back drops them with a warning, as a plain shift does.
  async #shift(shift) {
    if (this.kvPages) {
      let rows = null, failure = '';
      const started = performance.now();
      try {
        rows = await this.gpu.executor.readKvRows(shift.keep, shift.discard);
      } catch (e) {
        failure = `the GPU's KV rows could not be read back (${e.message})`;
      }
      this.kvCounts.readBackMs += performance.now() - started;
      this.session.pageOut(rows, failure);
    }
    this.gpu.executor.shift(shift);  // the context was full: the core dropped its older half
  }

  // Sampling with temperature, penalties, bias or logprobs: the core samples from the logits read back.
  #sampledStep(session) {
    return async () => {
      const { tokens, pos, shift } = session.pending();
      if (tokens.length === 0) return session.advance(null);
      let out;
      try {
        if (shift) await this.#shift(shift);
        this.gpu.pos = pos;  // the core reuses the cached prefix: run from where it says
        out = await this.gpu.feed(Array.from(tokens), { readLogits: true });
      } catch (e) {
        session.abort();
        throw e;
      }
      return session.advance(out.all);
    };
  }

  // Greedy: the argmax on the GPU (under a response_format, over the tokens the core allows). The
  // forward pass and the sampling go as separate submissions: once token k is read back, the core
  // takes it and works out the mask for the next sampling while the GPU already runs the forward pass
  // over token k (chained: it reads the token on the GPU). Per step:
  //   mask = allowed tokens → submit masked sampling of the pending logits → submit the next forward pass
  //   → await the sampled token → the core takes it.
  // settle() waits for a pass run ahead and forgets it (a step that follows runs from where the core says).
  #greedySteps(session) {
    const executor = this.gpu.executor;
    let ahead = null;  // the position whose forward pass was submitted without its sampling
    const step = async () => {
      const { tokens, pos, shift } = session.pending();
      if (tokens.length === 0) return session.advance(null);
      let out;
      try {
        // A shift comes when the context is full, where nothing was run ahead (next < window below).
        if (shift) await this.#shift(shift);
        const mask = session.allowedTokens();
        let result;
        if (ahead === pos && tokens.length === 1) result = executor.submitSample(mask);
        else {
          this.gpu.pos = pos;
          result = this.gpu.feed(Array.from(tokens), { mask });  // submits everything before it returns
        }
        result.catch(() => {});  // seen below, unless submitting the next forward pass fails first
        ahead = null;
        const next = pos + tokens.length;
        if (next < this.window) {
          executor.submitForward(null, next, { chained: true });
          ahead = next;
        }
        out = await result;
      } catch (e) {
        session.abort();
        throw e;
      }
      return session.advanceToken(out.ids[0]);
    };
    const settle = async () => {
      if (ahead !== null) await executor.settle();
      ahead = null;
    };
    return { step, settle };
  }

  /** The paging's counts under a kvBudget (see WasmRunner.kvPagerStats); null without one. */
  kvPagerStats() {
    return this.kvCounts?.stats() ?? null;
  }

  async destroy() {
    this.draft?.destroy();
    this.gpu?.destroy();
    this.session?.free();
    await this.kvPages?.close();
    this.model?.free();
    this.gpu = this.session = this.model = this.draft = null;
    this.wasm?.release();
    this.wasm = null;
  }
}

// The draft model of method "draft": header-only in the same module, its weights on the same device, a
// cache as long as the model's context (it follows the history from position 0).
async function loadDraft(wasm, source, device, limits, info, context) {
  const header = await wasm.tabllm.loadModelHeader((offset, length) => source.read(offset, length), source.size);
  try {
    const draftInfo = header.info();
    if (draftInfo.vocab !== info.vocab) {
      throw new Error(`the draft model has a vocabulary of ${draftInfo.vocab} tokens, the model ${info.vocab}: a draft must share the model's vocabulary`);
    }
    const gpu = await GpuModel.load(header, device, source, { limits, context_size: Math.min(context, draftInfo.context), max_batch: 64 });
    return new DraftGpuModel(gpu, header, draftInfo.name || 'draft');
  } catch (e) {
    header.free();
    throw e;
  }
}
