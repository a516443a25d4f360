// One model of an engine: its file, its runner on the backend chosen for it, and what belongs to it alone
// (the prefix cache, the KV pager, a lost device's error). The engine (engine.mjs) queues the requests and
// the loads; this is what it loads and frees.
import { capabilityReport, chooseBackend } from '../capabilities.mjs';
import { isEmbeddingHeader } from '../embeddings.mjs';
import { TabllmAPIError } from '../errors.mjs';
import { openModel } from '../loader/index.mjs';
import { fitBackend, memoryNeed, modelShape } from '../loader/memory.mjs';

export class LoadedModel {
  /**
   * @param {object} options the engine's options with this model's over them (engine_options.mjs)
   * @param {{shared: import('./shared.mjs').SharedMachinery, cloud: object|null,
   *   metrics: import('../metrics/engine_metrics.mjs').EngineMetrics, profile: import('../profiles/engine_profile.mjs').EngineProfile}} engine
   *   metrics counts loads and fallbacks; the energy profile sets threads, context and the adapter's power preference
   */
  constructor(options, { shared, cloud, metrics, profile }) {
    this.options = options;
    this.shared = shared;
    this.cloud = cloud;
    this.metrics = metrics;
    this.profile = profile;
    this.name = options.name ?? null;  // known once the file's header is read, unless given
    this.runner = null;
    this.source = null;
    this.lost = null;        // the device-lost error, until reload
    this.loadError = null;   // why the model could not be loaded, when the cloud fallback took the engine on without it
    this.backend = null;     // 'webgpu' | 'wasm' once loaded
    this.backendReason = '';
    this.embedding = false;  // an embedding model (embeddings.mjs isEmbeddingHeader), known once the header is read
    this.info = null;
    this.prefixCacheForgotten = false;  // forget() closed the prefix cache: the next request opens a new one
    this.need = null;        // {total, weights, kvCache, context}: bytes the memory budget counts, from the header
    this.bytes = 0;          // what the model holds once loaded: WebAssembly heap plus GPU buffers
    this.heapBytes = 0;
    this.gpuBytes = 0;
    this.users = 0;          // requests using or waiting for the model (never evicted meanwhile)
    this.lastUsed = 0;
  }

  get contextSize() {
    return this.runner?.contextSize ?? 0;
  }

  /** Marks the model as in use until the returned function is called (once is enough; more do nothing). */
  hold() {
    this.users++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.users--;
    };
  }

  /**
   * Loads the model. makeRoom(model) runs once the header is read and model.need is known, before the
   * weights are read: it may unload other models, or throw when this one cannot fit.
   */
  async load({ makeRoom } = {}) {
    const o = this.options;
    const { onProgress: progress } = o;
    // A load the model store served (fromCache) counts as a hit of the weights store (engine.metrics()).
    const onProgress = (event) => {
      if (event.phase === 'ready' && 'fromCache' in event) this.metrics.observeLoad(event);
      progress?.(event);
    };
    const profiled = await this.profile.loadSettings({ threads: o.threads, contextSize: o.contextSize });
    // Only 'auto' needs the capability report; an explicit choice fails on its own with the reason.
    let choice;
    if (o.backend === 'wasm') choice = { backend: 'wasm', reason: 'asked for the WebAssembly backend' };
    else if (o.backend === 'webgpu') choice = { backend: 'webgpu', reason: 'asked for the WebGPU backend' };
    const report = o.backend === 'auto' ? await capabilityReport() : null;
    if (report) choice = chooseBackend('auto', report, { allowSoftwareAdapter: o.allowSoftwareAdapter });
    const { signal, sha256, revision, hfEndpoint, cacheDir, contextSize, kvType, kvBudget, gpuMemory } = o;
    // The memory need is checked from the header, before a download starts.
    const beforeLoad = async (model) => {
      choice = fitBackend(choice, model, { auto: !!report, report, contextSize: profiled.contextSize, kvType, kvBudget, gpuMemory });
      this.embedding = isEmbeddingHeader(model.header);
      this.name ??= model.header.metadata.get('general.name') ?? model.name ?? null;
      // What the memory budget counts: the weights and the KV cache at the context the model will get.
      const { weights, kvCache, context } = memoryNeed(modelShape(model.header, model.size), profiled.contextSize, kvType, kvBudget);
      this.need = { total: weights + kvCache, weights, kvCache, context };
      await makeRoom?.(this);
    };
    try {
      const stores = await this.shared.stores({ cacheDir });
      this.source = await openModel(o.model, { onProgress, signal, sha256, revision, hfEndpoint, cacheDir, stores, beforeLoad });
      try {
        ({ runner: this.runner, ...choice } = await this.#startRunner(choice, { contextSize: profiled.contextSize, threads: profiled.threads, powerPreference: profiled.powerPreference, kvType, kvBudget: o.kvBudget, kvRecall: o.kvRecall, encryptPages: o.encryption !== false, onProgress }));
        checkContextSize(contextSize, this.runner.info.context);
        if (o.prefixCache) await this.openPrefixCache();
      } catch (e) {
        await this.runner?.destroy();
        this.runner = null;
        await this.source.close?.();
        this.source = null;
        throw e;
      }
    } catch (e) {
      // A model this device cannot hold, with the cloud fallback on: the engine goes on without it and
      // its requests go to the cloud endpoint (with the user's consent).
      if (!this.cloud?.takesLoadFailure(e)) throw e;
      this.loadError = e;
      this.backend = null;
      this.backendReason = `no local backend can run the model (${e.message}): requests go to the cloud endpoint`;
      progress?.({ phase: 'ready', backend: null, reason: this.backendReason });
      return;
    }
    this.lost = null;
    this.loadError = null;
    this.backend = choice.backend;
    this.backendReason = choice.reason;
    this.info = this.runner.info;
    this.name ??= this.info.name || this.source.name || 'model';
    ({ heap: this.heapBytes, gpu: this.gpuBytes } = this.runner.memory);
    this.bytes = this.heapBytes + this.gpuBytes;
    progress?.({ phase: 'ready', backend: this.backend, reason: this.backendReason });
  }

  /** Frees the model: its heap pieces, GPU buffers, and its share of the WebAssembly module. */
  async release() {
    const runner = this.runner;
    this.runner = null;
    this.info = null;
    this.bytes = this.heapBytes = this.gpuBytes = 0;
    await runner?.prefixCache?.flush();  // pages of finished requests are stored before the model goes
    await runner?.destroy();
    await this.source?.close?.();
    this.source = null;
  }

  /** Throws the 503 a request gets when the model cannot answer. */
  checkUsable() {
    if (this.lost) throw new TabllmAPIError(`${this.lost.message}. Call engine.reload() to load the model again.`, { status: 503, type: 'engine_unavailable', code: 'device_lost' });
    if (!this.runner && this.loadError) throw new TabllmAPIError(`no local backend can run the model: ${this.loadError.message}`, { status: 503, type: 'engine_unavailable', code: 'model_not_loaded' });
    if (!this.runner) throw new TabllmAPIError('no model is loaded: call engine.reload()', { status: 503, type: 'engine_unavailable', code: 'model_not_loaded' });
  }

  async openPrefixCache() {
    const runner = this.runner;
    const { openPrefixCache } = await import('../prefix_cache.mjs');
    const { VERSION } = await import('../version.mjs');
    const source = this.source;
    // The file's hash is not always known (a fresh download computes it, a stored copy remembers it), so
    // the model is its URL or name and its size; a page's layout and tokens are checked again on restore.
    const identity = JSON.stringify({ tabllm: VERSION, model: source.url ?? source.name, size: source.size,
      kv: runner.details.kvType, backend: runner.backend, context: runner.contextSize });
    const options = this.options.prefixCache === true ? {} : this.options.prefixCache;
    const { atRestKeys } = await import('../at_rest/keys.mjs');
    let keys;
    try {
      keys = await atRestKeys(this.options.encryption ?? true, { cacheDir: this.options.cacheDir });
    } catch (error) {
      // No key, nothing stored in plain: the model runs without the prefix cache.
      runner.details.prefixCache = `off: the at-rest key is unavailable (${error.message})`;
      console.warn(`tabllm: the prefix cache is off: the at-rest key is unavailable (${error.message})`);
      return;
    }
    runner.prefixCache = await openPrefixCache({ identity, cacheDir: this.options.cacheDir, maxBytes: options.maxBytes, keys });
    runner.details.prefixCache = `on (${runner.prefixCache.store.kind})`;
  }

  // The runner of the chosen backend. Under 'auto', a model that WebGPU cannot hold or read (a tensor type
  // its kernels lack, buffers beyond the adapter's limits, an adapter or device failure, the device lost
  // while loading) runs on WebAssembly instead, and the reason says why.
  async #startRunner(choice, common) {
    if (choice.backend === 'wasm') return { runner: await this.#startWasm(common), ...choice };
    try {
      return { runner: await this.#startWebgpu(common), ...choice };
    } catch (gpuError) {
      if (this.options.backend !== 'auto' || gpuError?.name === 'AbortError') throw gpuError;
      const why = `WebGPU could not load the model (${gpuError.message})`;
      this.metrics.observeFallback();
      try {
        return { runner: await this.#startWasm(common), backend: 'wasm', reason: `${why}; running on the WebAssembly CPU backend instead` };
      } catch (cpuError) {
        throw new Error(`neither backend can run this model. ${why}. WebAssembly: ${cpuError.message}`, { cause: cpuError });
      }
    }
  }

  async #startWasm({ threads, powerPreference, ...common }) {
    const { WasmRunner } = await import('../runners/wasm_runner.mjs');
    const wasm = await this.shared.wasm({ threads, variant: this.options.wasmVariant });
    return WasmRunner.create(this.source, { ...common, wasm });
  }

  async #startWebgpu({ threads, powerPreference, ...common }) {
    // An embedding model has a runner of its own: one pass over many inputs, no session.
    const Runner = this.embedding ? (await import('../runners/webgpu_embed_runner.mjs')).WebgpuEmbedRunner : (await import('../runners/webgpu_runner.mjs')).WebgpuRunner;
    const { device, limits } = await this.shared.gpu({ powerPreference });
    const wasm = await this.shared.wasm({ variant: 'single' });
    let loading = true;
    let lostWhileLoading = null;
    // The draft model's file is read while loading only: its weights go to the GPU.
    const { draftModel, signal, cacheDir } = this.options;
    const draft = draftModel === undefined ? null : await openModel(draftModel, { signal, cacheDir, stores: await this.shared.stores({ cacheDir }) });
    const runner = await Runner.create(this.source, {
      ...common, wasm, device, limits, maxBatch: this.options.maxBatch, draft,
      onLost: (error) => {
        this.shared.deviceLost(device);  // the next model loaded gets a new device
        if (loading) lostWhileLoading = error;
        else this.lost = error;
        if (!loading) this.options.onDeviceLost?.(error);
      },
    }).finally(() => draft?.close?.());
    // A loss during the upload is reported once device.lost settles: give it that turn.
    await Promise.race([runner.device.lost, new Promise((resolve) => setTimeout(resolve, 0))]);
    loading = false;
    if (lostWhileLoading) {
      await runner.destroy();
      const info = lostWhileLoading.info;
      throw new Error(`the GPU device was lost while the model was loading (${[info?.reason, info?.message].filter(Boolean).join(': ') || lostWhileLoading.message})`);
    }
    return runner;
  }
}

// A context larger than the model was trained for is refused, not cut down to the model's without a word.
function checkContextSize(asked, modelContext) {
  if (asked !== undefined && asked > modelContext) {
    throw new RangeError(`contextSize ${asked} is more than the model's context of ${modelContext} tokens: give at most ${modelContext}, or leave contextSize out for min(${modelContext}, 4096)`);
  }
}
