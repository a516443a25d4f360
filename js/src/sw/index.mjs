// tabllm/sw: the origin's OpenAI endpoint, answered by its Service Worker. After registration, a plain
// fetch('/v1/chat/completions' | '/v1/completions' | '/v1/embeddings' | '/v1/models') from any page or worker of the origin
// is answered on the device, by the model one tab hosts for all of them (host.mjs, docs/service-worker.md).
//
//   // sw.js, registered with navigator.serviceWorker.register('sw.js', { type: 'module' })
//   import { serveOpenAI } from 'tabllm/sw';
//   serveOpenAI();                 // before any other fetch listener that would answer /v1/
//
// The requests, their errors and the server-sent events are createFetchHandler's (fetch_handler.mjs), as
// with engine.fetch and tabllm serve; this module adds what a fetch event needs around it: the body limit,
// the request's id and resume point (headers x-tabllm-request, x-tabllm-resume-from), and keeping the
// Service Worker alive while a stream is read.
import { TabllmAPIError } from '../errors.mjs';
import { createFetchHandler, errorResponse } from '../fetch_handler.mjs';
import { HostBroker } from './broker.mjs';
import { ABORT_REQUEST, HOST_PORT, REQUEST_HEADER, RESUME_HEADER } from './protocol.mjs';

/** As `tabllm serve`: a chat that needs more is not one an on-device context holds. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * Answers fetch events for `prefix` on this origin. Call it while the Service Worker's script first runs
 * (browsers take fetch and message listeners only then).
 * @param {{prefix?: string, maxBodyBytes?: number}} [options]
 */
export function serveOpenAI({ prefix = '/v1/', maxBodyBytes = MAX_BODY_BYTES } = {}) {
  if (typeof prefix !== 'string' || !prefix.startsWith('/') || !prefix.endsWith('/')) throw new TypeError(`serveOpenAI: prefix must be a path that starts and ends with "/", got ${JSON.stringify(prefix)}`);
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) throw new TypeError(`serveOpenAI: maxBodyBytes must be a positive integer, got ${JSON.stringify(maxBodyBytes)}`);
  const broker = new HostBroker();
  self.addEventListener('message', (event) => {
    if (event.data?.type === HOST_PORT && event.ports[0]) broker.setPort(event.ports[0]);
    if (event.data?.type === ABORT_REQUEST && typeof event.data.id === 'string') broker.abort(event.data.id);
  });
  self.addEventListener('fetch', (event) => {
    const url = new URL(event.request.url);
    if (url.origin !== self.location.origin || !url.pathname.startsWith(prefix)) return;
    event.respondWith(answer(event, broker, maxBodyBytes));
  });
}

async function answer(event, broker, maxBodyBytes) {
  const { request } = event;
  const id = request.headers.get(REQUEST_HEADER) || crypto.randomUUID();
  let response;
  try {
    const from = resumePoint(request.headers.get(RESUME_HEADER));
    const body = request.method === 'POST' ? await readBody(request, maxBodyBytes) : undefined;
    const engine = broker.engineFor({ id, client: event.clientId || event.resultingClientId || 'unknown', from });
    response = await createFetchHandler(engine)(request.url, { method: request.method, body, signal: request.signal });
  } catch (error) {
    if (error?.name === 'AbortError') throw error;  // the page aborted: as fetch does
    response = errorResponse(error);
  }
  const headers = new Headers(response.headers);
  headers.set(REQUEST_HEADER, id);
  if (!response.body) return new Response(null, { status: response.status, headers });
  // The Service Worker stays alive until the answer is read (or its reader goes away, which aborts it).
  const { readable, writable } = new TransformStream();
  event.waitUntil(response.body.pipeTo(writable).catch(() => {}));
  return new Response(readable, { status: response.status, headers });
}

function resumePoint(header) {
  if (header === null) return 0;
  const from = Number(header);
  if (!Number.isSafeInteger(from) || from < 0) {
    throw new TabllmAPIError(`the ${RESUME_HEADER} header must be the number of events already received (0 or more), got ${JSON.stringify(header)}`, { code: 'invalid_header' });
  }
  return from;
}

// The body, read up to the limit: a larger one is refused without being held whole.
async function readBody(request, limit) {
  const tooLarge = () => new TabllmAPIError(`the request body is larger than this endpoint's limit of ${limit} bytes`, { status: 413, code: 'request_too_large' });
  if (Number(request.headers.get('content-length')) > limit) throw tooLarge();
  if (!request.body) return '';
  const reader = request.body.getReader();
  const parts = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      reader.cancel().catch(() => {});
      throw tooLarge();
    }
    parts.push(value);
  }
  return new Blob(parts);
}
