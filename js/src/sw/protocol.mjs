// What the Service Worker (index.mjs), the host page (host.mjs) and the page-side client (client.mjs) agree
// on: the names of the Web Lock and the BroadcastChannel, the headers that make a request resumable, and
// the messages between the Service Worker and the host.
//
// Service Worker → host, over the MessagePort the host handed it:
//   {type: 'create', id, client, kind: 'chat'|'completion'|'embedding', request, from}   run or resume request `id`,
//        sending its chunks from index `from` on (a request the host already has is not run again)
//   {type: 'abort', id}                                                       the reader went away
//   {type: 'models', id}                                                      the model list
// host → Service Worker:
//   {type: 'accepted', id}   at once, for every 'create': the host has the request
//   {type: 'chunk', id, index, value} | {type: 'end', id} | {type: 'result', id, value} | {type: 'error', id, error}
// host ↔ pages, on the BroadcastChannel:
//   {type: 'progress', event}, {type: 'state', state}   (the host); {type: 'hello'} (a page asking for the state)
//   {type: 'forget' | 'metrics', id} (a page's engine.forget(), engine.metrics()); {type: 'answer', id, value?, error?}
//   (the host, once done)

/** The Web Lock the hosting tab holds while it lives: whoever gets it loads the model and serves it. */
export const HOST_LOCK = 'tabllm-sw-host';
/** The BroadcastChannel on which the host tells every page its load progress and state. */
export const CHANNEL = 'tabllm-sw';
/** A request's id (sent by the client, or given by the Service Worker in the response). */
export const REQUEST_HEADER = 'x-tabllm-request';
/** How many events (chunks) of the stream the client already has: a retry resumes after them. */
export const RESUME_HEADER = 'x-tabllm-resume-from';
/** The message a Service Worker without a host sends to its pages; the host answers with a port. */
export const NEED_HOST = 'tabllm-sw-need-host';
/** A page's message to the Service Worker: the request with this id was aborted (Chromium does not abort a
 * fetch event's request when the page aborts a fetch whose response has not come yet). */
export const ABORT_REQUEST = 'tabllm-sw-abort';
/** The message that hands the Service Worker a port to the host. */
export const HOST_PORT = 'tabllm-sw-host-port';
/** Where the number of model loads of this origin is kept (Cache Storage: windows, workers and the Service Worker all reach it). */
export const STATE_CACHE = 'tabllm-sw-state';
export const LOADS_KEY = '/tabllm-sw/loads';
