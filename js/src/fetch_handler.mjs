// An OpenAI-compatible HTTP surface as a fetch function, so OpenAI's own client runs against the engine
// with no server: new OpenAI({ apiKey: 'local', baseURL: 'http://tabllm.local/v1', fetch: engine.fetch }).
// The same handler can answer a Service Worker's fetch events.
//
//   POST /v1/chat/completions, POST /v1/completions   JSON, or server-sent events with stream: true
//   POST /v1/embeddings                                JSON
//   GET  /v1/models, GET /v1/models/{id}
import { TabllmAPIError, engineFailure } from './errors.mjs';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** OpenAI's error object as a Response, with the error's HTTP status. */
export function errorResponse(error) {
  const e = error instanceof TabllmAPIError ? error : engineFailure(error);
  return new Response(JSON.stringify(e.toJSON()), { status: e.status, headers: JSON_HEADERS });
}

const json = (body, status = 200) => new Response(JSON.stringify(body), { status, headers: JSON_HEADERS });

/** The server-sent event that ends a stream with an error: `event: error` and OpenAI's error body. */
export function sseErrorEvent(error) {
  const e = error instanceof TabllmAPIError ? error : engineFailure(error);
  return `event: error\ndata: ${JSON.stringify(e.toJSON())}\n\n`;
}

// Server-sent events of an async iterable of chunks, ended by `data: [DONE]`. An error after the first
// byte can no longer change the status: it goes out as an error event.
function sseResponse(chunks, abort) {
  const encoder = new TextEncoder();
  const iterator = chunks[Symbol.asyncIterator]();
  const body = new ReadableStream({
    async pull(controller) {
      try {
        const { value, done } = await iterator.next();
        if (done) {
          controller.enqueue(encoder.encode('data: [DONE]\n\n'));
          controller.close();
        } else {
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(value)}\n\n`));
        }
      } catch (error) {
        if (error?.name !== 'AbortError') controller.enqueue(encoder.encode(sseErrorEvent(error)));
        controller.close();
      }
    },
    async cancel() {
      abort();  // the reader went away: stop generating
      await iterator.return?.();
    },
  }, { highWaterMark: 0 });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
}

/**
 * @param {{chat: {completions: {create: Function}}, completions: {create: Function}, embeddings: {create: Function}, models: {list: Function}}} engine
 * @returns {(input: RequestInfo | URL, init?: RequestInit) => Promise<Response>}
 */
export function createFetchHandler(engine) {
  return async function tabllmFetch(input, init = {}) {
    const request = input instanceof Request ? input : null;
    const url = new URL(request ? request.url : String(input), 'http://tabllm.local/');
    const method = (init.method ?? request?.method ?? 'GET').toUpperCase();
    const signal = init.signal ?? request?.signal;
    const path = url.pathname.replace(/\/+$/, '');
    try {
      if (path.endsWith('/models') || /\/models\/[^/]+$/.test(path)) {
        if (method !== 'GET') throw new TabllmAPIError(`${method} is not allowed on ${path}: use GET`, { status: 405, code: 'method_not_allowed' });
        const list = await engine.models.list();
        if (path.endsWith('/models')) return json(list);
        const id = decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
        const model = list.data.find((m) => m.id === id);
        if (!model) throw new TabllmAPIError(`the model '${id}' does not exist (this engine serves ${list.data.map((m) => `'${m.id}'`).join(', ')})`, { status: 404, param: 'model', code: 'model_not_found' });
        return json(model);
      }
      const chat = path.endsWith('/chat/completions');
      const embeddings = path.endsWith('/embeddings');
      if (!chat && !embeddings && !path.endsWith('/completions')) {
        throw new TabllmAPIError(`no such endpoint: ${method} ${url.pathname} (this engine serves /v1/chat/completions, /v1/completions, /v1/embeddings and /v1/models)`, { status: 404, code: 'not_found' });
      }
      if (method !== 'POST') throw new TabllmAPIError(`${method} is not allowed on ${path}: use POST`, { status: 405, code: 'method_not_allowed' });
      const text = init.body !== undefined && init.body !== null ? await new Response(init.body).text() : await request?.text() ?? '';
      let body;
      try {
        body = JSON.parse(text);
      } catch (e) {
        throw new TabllmAPIError(`the request body is not valid JSON: ${e.message}`, { code: 'invalid_json' });
      }
      // The fetch's own signal, plus one the event stream fires when its reader cancels.
      const controller = new AbortController();
      signal?.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
      if (signal?.aborted) controller.abort(signal.reason);
      const api = chat ? engine.chat.completions : embeddings ? engine.embeddings : engine.completions;
      const result = await api.create(body, { signal: controller.signal });
      if (body?.stream && !embeddings) return sseResponse(result, () => controller.abort());
      return json(result);
    } catch (error) {
      if (error?.name === 'AbortError') throw error;  // as fetch does
      return errorResponse(error);
    }
  };
}
