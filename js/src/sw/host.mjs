// The hosting tab: the one page of the origin that holds the Web Lock HOST_LOCK loads the model (in its
// Web Worker, createWorkerEngine) and serves every tab's requests, which the Service Worker brings over a
// MessagePort. When the tab closes, the browser releases the lock and the next waiting tab becomes host.
//
// Requests are kept by id with the events they produced (chunks, then the end, a result or an error), for
// KEEP_MS after they end: a Service Worker that was stopped, or a client that lost its stream, asks again
// with the same id and the number of events it has, and gets the rest without the model running twice.
// Tabs take turns: each client (page) has its own queue, served round-robin, one request at a time.
import { TabllmAPIError, abortError, serializeError } from '../errors.mjs';
import { createWorkerEngine } from '../worker_engine.mjs';
import { forgetStored } from '../at_rest/forget.mjs';
import { CHANNEL, HOST_LOCK, HOST_PORT, LOADS_KEY, NEED_HOST, STATE_CACHE } from './protocol.mjs';

/** How long a finished request's events are kept for a resume. */
const KEEP_MS = 60_000;

/**
 * Joins the election: when this page gets the lock, it loads the model with `options` and serves it until
 * the page closes. Returns at once.
 * @param {object} options createWorkerEngine's options
 * @param {() => void} onElected called when this page becomes the host
 */
export function standForHost(options, onElected) {
  navigator.locks.request(HOST_LOCK, async () => {
    onElected();
    const host = new EngineHost();
    await host.serve(options);
    await new Promise(() => {});  // the lock is held while this page lives
  }).catch((error) => console.warn(`tabllm: this tab cannot host the model: ${error.message}`));
}

/** The number of times a tab of this origin loaded the model (kept in Cache Storage). */
export async function readLoadCount() {
  const response = await (await caches.open(STATE_CACHE)).match(LOADS_KEY);
  return response ? Number(await response.text()) : 0;
}

class EngineHost {
  #engine = null;
  #records = new Map();  // request id → {id, client, kind, request, events, done, controller, subscribers}
  #queues = new Map();   // client id → records waiting their turn
  #turns = [];           // client ids, in the order they take turns
  #running = false;
  #channel = new BroadcastChannel(CHANNEL);
  #state = { status: 'loading' };

  async serve(options) {
    this.#channel.onmessage = (e) => {
      if (e.data?.type === 'hello') this.#broadcastState();
      if (e.data?.type === 'forget') this.#answer(e.data.id, () => this.#forget());
      if (e.data?.type === 'metrics') this.#answer(e.data.id, () => this.#metrics());
    };
    navigator.serviceWorker.addEventListener('message', (e) => { if (e.data?.type === NEED_HOST) this.#handPort(e.source); });
    navigator.serviceWorker.addEventListener('controllerchange', () => this.#handPort(navigator.serviceWorker.controller));
    navigator.serviceWorker.startMessages();
    this.#handPort((await navigator.serviceWorker.ready).active);  // requests may queue while the model loads

    // The count is read and written under the host lock, so no two tabs update it at once.
    const loads = await readLoadCount() + 1;
    await (await caches.open(STATE_CACHE)).put(LOADS_KEY, new Response(String(loads)));
    this.#setState({ status: 'loading', loads });
    try {
      this.#engine = await createWorkerEngine({
        ...options,
        onProgress: (event) => this.#channel.postMessage({ type: 'progress', event }),
      });
      const e = this.#engine;
      this.#setState({ status: 'ready', loads, backend: e.backend, backendReason: e.backendReason, modelId: e.modelId, modelInfo: e.modelInfo, contextSize: e.contextSize, runtime: e.runtime });
    } catch (error) {
      this.#setState({ status: 'failed', loads, error: serializeError(error) });
    }
    this.#pump();
  }

  // A page's engine.forget(): the model's engine wipes what it keeps (and forgets its in-memory cache's
  // index, which would otherwise be written again), or, without one, the origin's storage is wiped here.
  async #forget() {
    if (this.#engine) await this.#engine.forget();
    else await forgetStored();
  }

  // A page's engine.metrics(): the model's engine's, once it is loaded.
  async #metrics() {
    if (!this.#engine) throw new Error('the host tab has not loaded the model yet: call engine.ready() first');
    return this.#engine.metrics();
  }

  // Answers a page's question ({type, id}) on the channel: {type: 'answer', id, value} or {…, error}.
  async #answer(id, fn) {
    try {
      this.#channel.postMessage({ type: 'answer', id, value: await fn() });
    } catch (error) {
      this.#channel.postMessage({ type: 'answer', id, error: serializeError(error) });
    }
  }

  #setState(state) {
    this.#state = state;
    this.#broadcastState();
  }

  #broadcastState() {
    this.#channel.postMessage({ type: 'state', state: this.#state });
  }

  // A new port for the Service Worker (a restarted one has lost the previous port).
  #handPort(worker) {
    if (!worker) return;
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = (e) => this.#receive(e.data, port1);
    worker.postMessage({ type: HOST_PORT }, [port2]);
  }

  #receive(message, port) {
    const { type, id } = message;
    if (type === 'create') return this.#create(message, port);
    if (type === 'abort') return this.#abort(id, port);
    if (type === 'models') {  // answered at once: no 'accepted' first (the engine's list is its last state)
      const list = this.#state.status === 'ready' ? this.#engine.models.list() : Promise.resolve({ object: 'list', data: [] });
      return list.then((value) => port.postMessage({ type: 'result', id, index: 0, value }));
    }
  }

  #create({ id, client, kind, request, from }, port) {
    port.postMessage({ type: 'accepted', id });
    let record = this.#records.get(id);
    if (!record) {
      record = { id, client, kind, request, events: [], done: false, controller: new AbortController(), subscribers: new Set() };
      this.#records.set(id, record);
      this.#enqueue(record);
    }
    const subscriber = { port, next: Math.max(0, Math.min(Number(from) || 0, record.events.length)) };
    record.subscribers.add(subscriber);
    this.#feed(record, subscriber);
  }

  // Nobody reads the request any more: it stops (or leaves the queue).
  #abort(id, port) {
    const record = this.#records.get(id);
    if (!record || record.done) return;
    for (const s of record.subscribers) if (s.port === port) record.subscribers.delete(s);
    if (record.subscribers.size > 0) return;
    record.controller.abort();
    const queue = this.#queues.get(record.client);
    const waiting = queue?.indexOf(record) ?? -1;
    if (waiting >= 0) {
      queue.splice(waiting, 1);
      this.#push(record, { type: 'error', error: serializeError(abortError(record.controller.signal)) });
    }
  }

  #feed(record, subscriber) {
    while (subscriber.next < record.events.length) {
      const index = subscriber.next++;
      subscriber.port.postMessage({ ...record.events[index], id: record.id, index });
    }
    if (record.done) record.subscribers.delete(subscriber);
  }

  #push(record, event) {
    record.events.push(event);
    if (event.type !== 'chunk') {
      record.done = true;
      setTimeout(() => this.#records.delete(record.id), KEEP_MS);
    }
    for (const s of [...record.subscribers]) this.#feed(record, s);
  }

  #enqueue(record) {
    if (!this.#queues.has(record.client)) {
      this.#queues.set(record.client, []);
      this.#turns.unshift(record.client);  // a client that just came goes before those already served
    }
    this.#queues.get(record.client).push(record);
    this.#pump();
  }

  // The next client in turn with a request waiting; clients with none leave the rotation.
  #next() {
    while (this.#turns.length) {
      const client = this.#turns.shift();
      const queue = this.#queues.get(client);
      if (queue.length) {
        this.#turns.push(client);
        return queue.shift();
      }
      this.#queues.delete(client);
    }
    return null;
  }

  async #pump() {
    if (this.#running || this.#state.status === 'loading') return;
    this.#running = true;
    for (let record = this.#next(); record; record = this.#next()) await this.#run(record);
    this.#running = false;
  }

  async #run(record) {
    try {
      if (!this.#engine) {
        const why = this.#state.error?.body?.error?.message ?? this.#state.error?.message ?? 'unknown error';
        throw new TabllmAPIError(`the model failed to load in the tab that hosts it: ${why}`, { status: 503, type: 'engine_unavailable', code: 'model_not_loaded' });
      }
      const api = record.kind === 'chat' ? this.#engine.chat.completions : record.kind === 'embedding' ? this.#engine.embeddings : this.#engine.completions;
      const result = await api.create(record.request, { signal: record.controller.signal });
      if (!record.request?.stream) return this.#push(record, { type: 'result', value: result });
      for await (const chunk of result) this.#push(record, { type: 'chunk', value: chunk });
      this.#push(record, { type: 'end' });
    } catch (error) {
      this.#push(record, { type: 'error', error: serializeError(error) });
    }
  }
}
