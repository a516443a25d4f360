// The Service Worker's side of the hosting tab (host.mjs): an engine-shaped object whose requests cross a
// MessagePort to the host, for createFetchHandler to answer fetch events with. The Service Worker keeps
// no model and may be stopped at any time: a restarted one asks its pages for the host again (NEED_HOST).
// A request in flight when the host changes (its tab closed) is sent to the new host with the number of
// events it already passed on, so the new host's answer continues where the old one stopped. The host
// confirms each request it gets ('accepted'); one it does not confirm means the port leads nowhere (the
// tab is gone and no other has taken over yet), so the pages are asked for the host again.
import { TabllmAPIError, abortError, deserializeError, serializeError } from '../errors.mjs';
import { messageStream } from '../message_stream.mjs';
import { NEED_HOST } from './protocol.mjs';

/** How long a request waits for a host before it is answered 503. */
const HOST_WAIT_MS = 10_000;
/** How long the host has to confirm a request. */
const ACCEPT_MS = 3000;

export class HostBroker {
  #port = null;
  #waiting = new Set();  // resolvers of requests waiting for a host
  #pending = new Map();  // request id → {message, from, sink}

  /** A port to the host (a new host, or the same host again after this worker restarted). */
  setPort(port) {
    this.#port?.close();
    this.#port = port;
    port.onmessage = (e) => this.#receive(e.data);
    for (const p of this.#pending.values()) this.#send(p);
    for (const resolve of this.#waiting) resolve();
    this.#waiting.clear();
  }

  #send(p) {
    clearTimeout(p.acceptTimer);
    this.#port.postMessage({ ...p.message, from: p.from });
    p.acceptTimer = setTimeout(() => this.#lostHost(), ACCEPT_MS);
  }

  // The host did not confirm a request: find it again (a new port sends every pending request again), or
  // end them all with the 503 that no host gives.
  async #lostHost() {
    if (!this.#port) return;  // already looking
    this.#port.close();
    this.#port = null;
    try {
      await this.#host();
    } catch (error) {
      for (const [id, p] of this.#pending) this.#receive({ type: 'error', id, index: p.from, error: serializeError(error) });
    }
  }

  async #host() {
    if (this.#port) return this.#port;
    let resolve;
    const arrived = new Promise((r) => { resolve = r; });
    this.#waiting.add(resolve);
    for (const client of await self.clients.matchAll({ type: 'window', includeUncontrolled: true })) client.postMessage({ type: NEED_HOST });
    let timer;
    const timeout = new Promise((r) => { timer = setTimeout(r, HOST_WAIT_MS); });
    await Promise.race([arrived, timeout]);
    clearTimeout(timer);
    this.#waiting.delete(resolve);
    if (!this.#port) {
      throw new TabllmAPIError(`no page of this site hosts a model: open a page that calls createServiceWorkerEngine() (from the tabllm package) and let it load the model (waited ${HOST_WAIT_MS / 1000} s)`,
        { status: 503, type: 'engine_unavailable', code: 'no_host' });
    }
    return this.#port;
  }

  #receive(message) {
    const p = this.#pending.get(message.id);
    if (!p) return;
    clearTimeout(p.acceptTimer);
    if (message.type === 'accepted' || message.index < p.from) return;  // or an event it already has (a resend's overlap)
    p.from = message.index + 1;
    if (message.type !== 'chunk') this.#pending.delete(message.id);
    p.sink(message);
  }

  /**
   * Sends a request to the host; resolves as createEngine's create does (a stream resolves at its first event).
   * @param {{id: string, client: string, kind: string, request?: unknown, from?: number, signal?: AbortSignal}} r
   */
  async request({ id, client, kind, request, from = 0, signal }) {
    if (signal?.aborted) throw abortError(signal);
    await this.#host();
    const message = kind === 'models' ? { type: 'models', id } : { type: 'create', id, client, kind, request };
    const abort = () => {
      clearTimeout(this.#pending.get(id)?.acceptTimer);
      this.#pending.delete(id);
      this.#port?.postMessage({ type: 'abort', id });
    };
    if (kind === 'models' || !request?.stream) {
      let fail;
      const onAbort = () => { abort(); fail(abortError(signal)); };
      try {
        return await new Promise((resolve, reject) => {
          fail = reject;
          signal?.addEventListener('abort', onAbort, { once: true });
          const entry = { message, from, abort: onAbort, sink: (m) => (m.type === 'error' ? reject(deserializeError(m.error)) : resolve(m.value)) };
          this.#pending.set(id, entry);
          this.#send(entry);
        });
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    }
    const onAbort = () => { abort(); chunks.fail(abortError(signal)); };
    const chunks = messageStream({ onFinish: () => signal?.removeEventListener('abort', onAbort), onCancel: abort });
    signal?.addEventListener('abort', onAbort, { once: true });
    const entry = {
      message,
      from,
      abort: onAbort,
      sink: (m) => (m.type === 'chunk' ? chunks.push(m.value) : m.type === 'end' ? chunks.end() : chunks.fail(deserializeError(m.error))),
    };
    this.#pending.set(id, entry);
    this.#send(entry);
    await chunks.started;
    return chunks.read();
  }

  /** Aborts request `id` (a page said so: ABORT_REQUEST). */
  abort(id) {
    this.#pending.get(id)?.abort();
  }

  /** The engine-shaped object createFetchHandler takes, for one fetch event's request. */
  engineFor({ id, client, from }) {
    const create = (kind) => (request, { signal } = {}) => this.request({ id, client, kind, request, from, signal });
    return {
      chat: { completions: { create: create('chat') } },
      completions: { create: create('completion') },
      embeddings: { create: create('embedding') },
      models: { list: () => this.request({ id: crypto.randomUUID(), kind: 'models' }) },
    };
  }
}
