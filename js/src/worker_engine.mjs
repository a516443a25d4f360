// createWorkerEngine: the engine in a Web Worker (Node: worker_threads) behind a main-thread proxy with
// the same API as createEngine's, so the page never blocks on model work. Requests, streamed chunks and
// aborts cross over as messages.
import { engineOptions, modelOptions } from './engine_options.mjs';
import { deserializeError } from './errors.mjs';
import { createFetchHandler } from './fetch_handler.mjs';
import { messageStream } from './message_stream.mjs';
import { modelNotFound } from './models/registry.mjs';
import { importNodeOnly, isNode } from './node_only.mjs';
import { forgetStored } from './at_rest/forget.mjs';
import { autoProfile } from './profiles/battery.mjs';

// A Worker running ./worker.mjs, or the one the caller made. The browser's is written out as the pattern
// bundlers (Vite, webpack) follow: they build worker.mjs with its imports as a worker entry.
async function startWorker(worker) {
  if (worker) return worker;
  if (isNode) {
    // Out of bundlers' sight: named neither Worker nor written as new URL('literal', import.meta.url).
    const threads = await importNodeOnly('node:worker_threads');
    const script = './worker.mjs';
    return new threads.Worker(new URL(script, import.meta.url));
  }
  return new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' });
}

/**
 * @param {import('./types').WorkerEngineOptions} options as createEngine's (no functions but onProgress
 *   and onDeviceLost; the model as a URL, a path or a File/Blob), plus `worker` to pass your own Worker
 */
export async function createWorkerEngine(options = {}) {
  const { worker: given, onProgress, onDeviceLost, ...rest } = engineOptions(options, { worker: true });
  const worker = await startWorker(given);
  const proxy = new WorkerEngine(worker, onProgress, onDeviceLost, rest.cacheDir, rest.profile);
  try {
    await proxy.call({ type: 'init', options: rest });
  } catch (e) {
    if (!given) await worker.terminate();  // a worker of ours that could not load its model is not left running
    throw e;
  }
  return proxy;
}

class WorkerEngine {
  #worker;
  #nextId = 1;
  #pending = new Map();  // id → {resolve, reject} or a stream's {push, fail, end}
  #onProgress;
  #onDeviceLost;
  #cacheDir;
  #models = [];  // the worker's engine.models.info(), as of its last state
  #profile;

  constructor(worker, onProgress, onDeviceLost, cacheDir, profile) {
    this.#worker = worker;
    this.#cacheDir = cacheDir;
    this.#profile = profile;
    this.#onProgress = onProgress;
    this.#onDeviceLost = onDeviceLost;
    const receive = (message) => this.#receive(message);
    if (isNode && typeof worker.on === 'function') {
      worker.on('message', receive);
      worker.on('error', (e) => this.#failAll(e));
    } else {
      worker.addEventListener('message', (e) => receive(e.data));
      worker.addEventListener('error', (e) => this.#failAll(new Error(`the engine's worker failed: ${e.message ?? 'error'}`)));
    }
    this.backend = null;
    this.backendReason = '';
    this.modelInfo = null;
    this.modelId = 'model';
    this.contextSize = 0;
    this.runtime = {};
    this.chat = { completions: { create: (request, opts) => this.#create('chat', request, opts) } };
    this.completions = { create: (request, opts) => this.#create('completion', request, opts) };
    this.embeddings = { create: (request, opts) => this.#create('embedding', request, opts) };
    // As createEngine's, from the worker's state after the last load or unload (eviction happens only then).
    const entry = (m) => ({ id: m.id, object: 'model', created: 0, owned_by: 'tabllm' });
    this.models = {
      list: async () => ({ object: 'list', data: this.#models.map(entry) }),
      retrieve: async (name) => {
        const model = this.#models.find((m) => m.id === name);
        if (!model) throw modelNotFound(name, this.#models.map((m) => m.id));
        return entry(model);
      },
      info: () => this.#models.map((m) => ({ ...m, bytes: { ...m.bytes } })),
    };
    this.fetch = createFetchHandler(this);
  }

  #post(message) {
    this.#worker.postMessage(message);
  }

  #receive(message) {
    const { type, id } = message;
    if (type === 'progress') return this.#onProgress?.(message.event);
    if (type === 'lost') return this.#onDeviceLost?.(deserializeError(message.error));
    const pending = this.#pending.get(id);
    if (!pending) return;
    switch (type) {
      case 'ready': {
        const { models, ...state } = message.state;
        Object.assign(this, state);
        this.#models = models;
        this.#pending.delete(id);
        return pending.resolve();
      }
      case 'result':
      case 'done':
        this.#pending.delete(id);
        return pending.resolve(message.value);
      case 'chunk':
        return pending.push(message.value);
      case 'end':
        this.#pending.delete(id);
        return pending.end();
      case 'error':
        this.#pending.delete(id);
        return pending.reject(deserializeError(message.error));
    }
  }

  #failAll(error) {
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }

  call(message) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, push() {}, end: resolve });
      this.#post({ ...message, id });
    });
  }

  async #create(kind, request, { signal } = {}) {
    // The Battery Status API is the window's alone (workers lack it): `auto`, the request's or the engine's,
    // is read here and the request sent with the profile it names.
    if (request && typeof request === 'object' && (request.profile ?? this.#profile) === 'auto') request = { ...request, profile: (await autoProfile()).profile };
    const id = this.#nextId++;
    const abort = () => this.#post({ type: 'abort', id });
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : Object.assign(new Error('the request was aborted'), { name: 'AbortError' });
    signal?.addEventListener('abort', abort, { once: true });
    if (!request?.stream) {
      try {
        return await new Promise((resolve, reject) => {
          this.#pending.set(id, { resolve, reject, push() {}, end: resolve });
          this.#post({ type: 'create', id, kind, request });
        });
      } finally {
        signal?.removeEventListener('abort', abort);
      }
    }
    // Streaming: the first message settles create(), so a bad request rejects create() itself, as with createEngine.
    const chunks = messageStream({
      onFinish: () => signal?.removeEventListener('abort', abort),
      onCancel: () => {
        abort();  // the caller stopped reading
        this.#pending.delete(id);
      },
    });
    this.#pending.set(id, { push: chunks.push, end: chunks.end, reject: chunks.fail, resolve() {} });
    this.#post({ type: 'create', id, kind, request });
    try {
      await chunks.started;
    } catch (e) {
      signal?.removeEventListener('abort', abort);
      throw e;
    }
    return chunks.read();
  }

  interrupt() {
    this.#post({ type: 'interrupt' });
  }

  /** engine.kvPagerStats(name) of the worker's engine (a Promise here). */
  async kvPagerStats(name) {
    return (await this.call({ type: 'stats', name })).kvPager;
  }

  /** engine.prefixCacheStats(name) of the worker's engine (a Promise here). */
  async prefixCacheStats(name) {
    return (await this.call({ type: 'stats', name })).prefixCache;
  }

  /** engine.reload(name) in the worker. */
  reload(name) {
    return this.call({ type: 'reload', name });
  }

  /** engine.load(model, options) in the worker: the model as a URL, a path or a File/Blob. */
  async load(model, options = {}) {
    const entry = modelOptions({ ...options, model }, 'engine.load');
    await this.call({ type: 'load', model: entry.model, options: { ...entry, model: undefined } });
    return this.models.info().at(-1);  // the newest: models are listed in the order they were loaded
  }

  /** engine.unload(name) in the worker (every model without a name). */
  async unload(name) {
    await this.call({ type: 'unload', name });
  }

  /** engine.memory() of the worker's engine (a promise: it crosses to the worker). */
  memory() {
    return this.call({ type: 'memory' });
  }

  /** engine.metrics(name) of the worker's engine (docs/metrics.md). */
  metrics(name) {
    return this.call({ type: 'metrics', name });
  }

  /** engine.forget() in the worker, then what only this side reaches (a page's localStorage). */
  async forget() {
    await this.call({ type: 'forget' });
    await forgetStored({ cacheDir: this.#cacheDir });
  }

  /** Ends the worker (after unload, or to drop everything at once). */
  terminate() {
    this.#failAll(new Error('the engine was terminated'));
    return this.#worker.terminate();
  }
}
