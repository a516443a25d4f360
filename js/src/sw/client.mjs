// createServiceWorkerEngine: createEngine's API for a page whose Service Worker runs serveOpenAI
// (tabllm/sw). The page stands for host (host.mjs): one tab of the origin loads the model, the others wait
// for it and see its progress. Requests go through the Service Worker as fetches, each with an id and a
// seed, so that a stream cut by a stopped Service Worker or a closed host tab is asked for again from the
// event where it stopped, and continues with the same text.
import { readSse } from '../cloud.mjs';
import { engineOptions } from '../engine_options.mjs';
import { TabllmAPIError, abortError, deserializeError } from '../errors.mjs';
import { createFetchHandler } from '../fetch_handler.mjs';
import { readLoadCount, standForHost } from './host.mjs';
import { ABORT_REQUEST, CHANNEL, REQUEST_HEADER, RESUME_HEADER } from './protocol.mjs';

/** Attempts of one request while the Service Worker or the host is away, and the first pause between them. */
const ATTEMPTS = 6;
const FIRST_PAUSE_MS = 100;

/**
 * @param {object} options createWorkerEngine's options (the model the host tab loads: give every tab the
 *   same), plus `baseURL`, where serveOpenAI answers (default: this origin's /v1)
 */
export async function createServiceWorkerEngine(options = {}) {
  const { baseURL = `${location.origin}/v1`, ...rest } = options;
  const { onProgress, ...hostOptions } = engineOptions(rest, { worker: true, api: 'createServiceWorkerEngine' });
  if (!('serviceWorker' in navigator) || !navigator.locks) throw new Error('createServiceWorkerEngine needs Service Workers and Web Locks (a secure context: https or localhost)');
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    // The page loaded before its Service Worker took control (its first visit): wait for clients.claim().
    await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
  }
  const engine = new ServiceWorkerEngine(baseURL.replace(/\/+$/, ''), onProgress);
  standForHost(hostOptions, () => { engine.host = true; });
  await engine.ready();
  return engine;
}

// The response, or the OpenAI error it carries, thrown.
async function answerOf(response) {
  if (!response.ok) throw TabllmAPIError.fromJSON(await response.json().catch(() => null), response.status);
  return response;
}

class ServiceWorkerEngine {
  #base;
  #channel = new BroadcastChannel(CHANNEL);
  #state = { status: 'loading' };
  #waiters = new Set();

  constructor(base, onProgress) {
    this.#base = base;
    this.backend = null;
    this.backendReason = '';
    this.modelInfo = null;
    this.modelId = 'model';
    this.contextSize = 0;
    this.runtime = {};
    this.host = false;  // whether this tab hosts the model
    this.#channel.onmessage = (e) => {
      if (e.data?.type === 'progress') onProgress?.(e.data.event);
      if (e.data?.type === 'state') this.#setState(e.data.state);
    };
    this.chat = { completions: { create: (request, opts) => this.#create('chat/completions', request, opts) } };
    this.completions = { create: (request, opts) => this.#create('completions', request, opts) };
    this.embeddings = { create: (request, opts) => this.#create('embeddings', request, opts) };
    this.models = { list: () => this.#send(async () => answerOf(await fetch(`${this.#base}/models`))).then((r) => r.json()) };
    this.fetch = createFetchHandler(this);
  }

  #setState(state) {
    this.#state = state;
    if (state.status === 'ready') {
      const { backend, backendReason, modelId, modelInfo, contextSize, runtime } = state;
      Object.assign(this, { backend, backendReason, modelId, modelInfo, contextSize, runtime });
    }
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  /** Resolves when the host tab has loaded the model; rejects with its error if it could not. */
  async ready() {
    this.#channel.postMessage({ type: 'hello' });
    while (this.#state.status === 'loading') await new Promise((resolve) => this.#waiters.add(resolve));
    if (this.#state.status === 'failed') throw deserializeError(this.#state.error);
  }

  /** engine.forget(), done by the tab that hosts the model (its engine holds the stored things' index). */
  async forget() {
    await this.#askHost('forget');
  }

  /** engine.metrics() of the engine in the tab that hosts the model (docs/metrics.md). */
  metrics() {
    return this.#askHost('metrics');
  }

  // A question to the host tab over the BroadcastChannel ({type, id}), answered by {type: 'answer', id, value?, error?}.
  async #askHost(type) {
    const id = crypto.randomUUID();
    const channel = new BroadcastChannel(CHANNEL);
    try {
      const answer = new Promise((resolve) => {
        channel.onmessage = (e) => { if (e.data?.type === 'answer' && e.data.id === id) resolve(e.data); };
      });
      channel.postMessage({ type, id });
      const { value, error } = await answer;
      if (error) throw deserializeError(error);
      return value;
    } finally {
      channel.close();
    }
  }

  /** {status, loads, host, backend, modelId}: the host's state; `loads` counts the origin's model loads,
   * `host` says whether this tab is the one that hosts the model. */
  async status() {
    return { status: this.#state.status, loads: await readLoadCount(), host: this.host, backend: this.backend, modelId: this.modelId };
  }

  // One fetch, tried again while the Service Worker or the host is away (a network error: no response).
  async #send(attempt, signal) {
    for (let i = 1; ; i++) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof TypeError) || signal?.aborted || i === ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, FIRST_PAUSE_MS * 2 ** (i - 1)));
      }
    }
  }

  async #create(path, request, { signal } = {}) {
    if (signal?.aborted) throw abortError(signal);
    // A seed of its own, unless the request has one: a request run again after its host tab closed gives
    // the same tokens, so its stream continues rather than starts over. (Embeddings sample nothing.)
    const plain = request !== null && typeof request === 'object' && !Array.isArray(request);
    const seeded = plain && request.seed === undefined && path !== 'embeddings';
    const body = JSON.stringify(seeded ? { ...request, seed: Math.floor(Math.random() * 2 ** 31) } : request);
    const id = crypto.randomUUID();
    // The page's abort of a fetch does not reach the Service Worker before the response comes: said aloud.
    signal?.addEventListener('abort', () => navigator.serviceWorker.controller?.postMessage({ type: ABORT_REQUEST, id }), { once: true });
    let from = 0;
    const post = async () => answerOf(await fetch(`${this.#base}/${path}`, {
      method: 'POST', body, signal,
      headers: { 'content-type': 'application/json', [REQUEST_HEADER]: id, [RESUME_HEADER]: String(from) },
    }));
    // A whole JSON answer is asked for again, from the start, if it was cut: the host replays it.
    if (!(plain && request.stream)) return this.#send(async () => (await post()).json(), signal);
    const response = await this.#send(post, signal);
    const self = this;
    return (async function* events() {
      let current = response;
      let stalled = 0;  // resumes in a row that brought no event
      for (;;) {
        const before = from;
        try {
          for await (const event of readSse(current.body)) {
            if (event.event === 'error') throw TabllmAPIError.fromJSON(JSON.parse(event.data), 500);
            if (event.data === '[DONE]') return;
            from++;
            yield JSON.parse(event.data);
          }
          throw new TypeError('the stream ended before data: [DONE]');
        } catch (error) {
          stalled = from === before ? stalled + 1 : 0;
          if (!(error instanceof TypeError) || signal?.aborted || stalled === ATTEMPTS) throw error;
          current = await self.#send(post, signal);  // the Service Worker was stopped: resume after the events we have
        }
      }
    })();
  }
}
