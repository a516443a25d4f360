// An OpenAI-compatible HTTP server for Node: node:http in front of the engine's fetch handler
// (fetch_handler.mjs), which parses the requests and frames the server-sent events. This module adds what a
// network server needs around it: routes, an API key, CORS, a bounded queue (429 beyond it), body limits and
// timeouts, clients that go away (their generation is aborted), and a graceful shutdown.
// Node only: the package exports it as `tabllm/serve`, never from its browser entry.
//
//   import { startServer } from 'tabllm/serve';
//   const server = await startServer({ engineOptions: { model: 'model.gguf' }, port: 8080, apiKey: 'secret' });
//   await server.ready;   // the model loaded (GET /health answers 503 {status: "loading"} until then)
//   console.log(server.url);
//   await server.close(); // stops accepting, lets requests finish within the grace period, unloads
import crypto from 'node:crypto';
import http from 'node:http';

import { createEngine } from './engine.mjs';
import { TabllmAPIError } from './errors.mjs';
import { sseErrorEvent } from './fetch_handler.mjs';

const DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  queue: 16,
  maxBodyBytes: 4 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  graceMs: 10_000,
};

const OPTIONS = new Set(['engine', 'engineOptions', 'host', 'port', 'apiKey', 'cors', 'queue', 'maxBodyBytes', 'headersTimeoutMs',
  'bodyTimeoutMs', 'graceMs', 'log']);

// The engine runs one request at a time; the server hands it one, the others wait in its queue.
const RUNNING_AT_ONCE = 1;

const ROUTES = [
  { path: /^\/v1\/chat\/completions$/, methods: ['POST'], generate: true },
  { path: /^\/v1\/completions$/, methods: ['POST'], generate: true },
  { path: /^\/v1\/embeddings$/, methods: ['POST'], generate: true },
  { path: /^\/v1\/models(\/[^/]+)?$/, methods: ['GET'] },
  { path: /^\/health$/, methods: ['GET'], health: true },
];

const apiError = (status, message, type, code, param = null) => new TabllmAPIError(message, { status, type, code, param });

/**
 * Starts an OpenAI-compatible server; resolves once it listens (the model may still be loading: see `ready`).
 * @param {import('../types/serve').ServerOptions} options
 * @returns {Promise<import('../types/serve').TabllmServer>}
 */
export async function startServer(options = {}) {
  const o = checkOptions(options);
  const owned = !o.engine;  // an engine the server created is the server's to unload (a given one, or a
  // promise of one, stays the caller's)
  let engine = null;
  let loadError = null;
  let closing = null;        // the close() promise, once shutting down
  const exchanges = new Set();
  const stats = { requests: 0, completed: 0, refused: 0, aborted: 0, failed: 0 };
  const queue = { running: 0, waiting: [] };
  let averageMs = 0;         // of recent generations, for Retry-After

  const loading = o.engine ? Promise.resolve(o.engine) : createEngine(o.engineOptions);
  const ready = loading.then((e) => {
    engine = e;
    return e;
  }, (error) => {
    loadError = error;
    throw error;
  });
  ready.catch(() => {});  // reported through `ready` and /health

  const server = http.createServer({
    headersTimeout: o.headersTimeoutMs,
    // Node's own limit for the whole request is a backstop: the body's own timer answers first.
    requestTimeout: o.headersTimeoutMs + o.bodyTimeoutMs + 1000,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(o.headersTimeoutMs / 4))),
  }, (req, res) => {
    handle(req, res).catch((error) => {
      // A bug here must not take the server down: answer 500 when still possible.
      if (!res.headersSent && !res.destroyed) send(res, errorBody(apiError(500, String(error?.message ?? error), 'server_error', 'internal_error')));
      else res.destroy();
    });
  });

  // A request Node could not parse or that timed out before its handler: no request object exists, so the
  // answer is written to the socket itself, in OpenAI's shape.
  server.on('clientError', (error, socket) => {
    if (!socket.writable || error.code === 'ECONNRESET' || socket._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const status = timeout ? 408 : tooLarge ? 431 : 400;
    const message = timeout ? 'the request took too long to arrive: its headers and body must come within the server\'s timeouts'
      : tooLarge ? 'the request\'s headers are too large' : `the request is not valid HTTP (${error.code ?? error.message})`;
    const body = JSON.stringify(apiError(status, message, 'invalid_request_error', timeout ? 'request_timeout' : tooLarge ? 'headers_too_large' : 'bad_request').toJSON());
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    socket.destroySoon?.();
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const hostInUrl = address.family === 'IPv6' || address.family === 6 ? `[${address.address}]` : address.address;
  const url = `http://${hostInUrl}:${address.port}`;

  // ---- one request ----

  async function handle(req, res) {
    stats.requests++;
    const started = performance.now();
    const ex = exchange(req, res);
    exchanges.add(ex);
    // The client closing its side (Node aborts the request then too, a few turns of the event loop later,
    // once the connection has closed): stop now, so the engine stops within a token.
    const hungUp = () => { if (!res.writableEnded) ex.stop('gone'); };
    req.socket.once('end', hungUp);
    res.on('close', () => {
      req.socket.off('end', hungUp);
      exchanges.delete(ex);
      if (!res.writableFinished) ex.stop('gone');
      if (closing) server.closeIdleConnections();
      // 499 (nginx's "client closed request") when the client left before any answer.
      o.log?.({ method: req.method, path: ex.path, status: res.headersSent ? res.statusCode : 499, ms: performance.now() - started, outcome: ex.outcome() });
    });

    let url;
    try {
      url = new URL(req.url, 'http://tabllm.local');
    } catch {
      return ex.fail(apiError(400, `the request target ${JSON.stringify(req.url)} is not a valid path`, 'invalid_request_error', 'bad_request'));
    }
    ex.path = url.pathname;
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const route = ROUTES.find((r) => r.path.test(path));
    if (closing && !(route?.health && req.method === 'GET')) return ex.fail(apiError(503, 'the server is shutting down', 'server_error', 'shutting_down'));
    if (req.method === 'OPTIONS') {
      if (!route) return ex.fail(notFound(req.method, url.pathname));
      ex.preflight(route);
      return;
    }
    if (!route) return ex.fail(notFound(req.method, url.pathname));
    if (!route.methods.includes(req.method)) {
      return ex.fail(apiError(405, `${req.method} is not allowed on ${url.pathname}: use ${route.methods.join(' or ')}`, 'invalid_request_error', 'method_not_allowed'),
        { allow: [...route.methods, 'OPTIONS'].join(', ') });
    }
    if (route.health) return ex.send(...health());
    const denied = checkApiKey(req, o.apiKey);
    if (denied) return ex.fail(denied, { 'www-authenticate': 'Bearer' });
    if (!engine) {
      return ex.fail(loadError
        ? apiError(503, `the model failed to load: ${loadError.message}`, 'engine_unavailable', 'model_not_loaded')
        : apiError(503, 'the model is loading: try again shortly', 'engine_unavailable', 'model_loading'), { 'retry-after': '1' });
    }

    if (!route.generate) {
      const response = await engine.fetch(new Request(new URL(url.pathname + url.search, 'http://tabllm.local'), { method: 'GET' }));
      return ex.relay(response);
    }

    let body;
    try {
      body = await readBody(req, ex.signal, o.maxBodyBytes, o.bodyTimeoutMs);
    } catch (error) {
      if (error instanceof TabllmAPIError) return ex.fail(error, { connection: 'close' }, { closeAfter: true });
      return undefined;  // the client went away, or the server is stopping
    }

    // The bounded queue: one running, up to o.queue waiting; beyond that, 429 with when to retry.
    if (queue.running + queue.waiting.length >= RUNNING_AT_ONCE + o.queue) {
      stats.refused++;
      const seconds = Math.min(60, Math.max(1, Math.ceil((averageMs * (queue.waiting.length + 1)) / 1000)));
      return ex.fail(apiError(429, `the server is busy: ${queue.running} request running and ${queue.waiting.length} waiting (at most ${o.queue}); retry after ${seconds} s`,
        'requests', 'rate_limit_exceeded'), { 'retry-after': String(seconds) });
    }
    const release = await turn(ex);
    if (!release) {
      if (ex.stopReason === 'shutdown') ex.fail(apiError(503, 'the server shut down before this request\'s turn', 'server_error', 'shutting_down'));
      return undefined;
    }
    const begin = performance.now();
    const done = once(() => {
      averageMs = averageMs ? averageMs * 0.8 + (performance.now() - begin) * 0.2 : performance.now() - begin;
      release();
    });
    let response;
    try {
      response = await engine.fetch(new Request(new URL(url.pathname, 'http://tabllm.local'), {
        method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: ex.signal,
      }));
    } catch (error) {
      done();
      if (error?.name !== 'AbortError') throw error;
      if (ex.stopReason === 'shutdown') ex.fail(apiError(503, 'the server shut down before the request finished', 'server_error', 'shutting_down'));
      return undefined;
    }
    if (response.headers.get('content-type') === 'text/event-stream') return ex.stream(response, done);
    done();  // the generation is over: the JSON is in hand
    return ex.relay(response);
  }

  // Waits for the request's turn; resolves with the function that ends it, or null when the client went away
  // or the server stopped first.
  function turn(ex) {
    return new Promise((resolve) => {
      const release = once(() => {
        queue.running--;
        while (queue.running < RUNNING_AT_ONCE && queue.waiting.length) {
          const next = queue.waiting.shift();
          queue.running++;
          next.start();
        }
      });
      const entry = { start: () => resolve(release) };
      if (queue.running < RUNNING_AT_ONCE) {
        queue.running++;
        entry.start();
        return;
      }
      queue.waiting.push(entry);
      ex.signal.addEventListener('abort', () => {
        const i = queue.waiting.indexOf(entry);
        if (i >= 0) {
          queue.waiting.splice(i, 1);
          resolve(null);
        }
      }, { once: true });
    });
  }

  function health() {
    if (closing) return [503, { status: 'stopping' }];
    if (loadError) return [503, { status: 'error', error: loadError.message }];
    if (!engine) return [503, { status: 'loading' }];
    return [200, { status: 'ok', model: engine.modelId, backend: engine.backend, queue: { running: queue.running, waiting: queue.waiting.length, limit: o.queue } }];
  }

  // ---- the exchange: one request and its response, with the ways it can end early ----

  function exchange(req, res) {
    const controller = new AbortController();
    const cors = corsHeaders(o.cors, req.headers.origin);
    let streaming = null;  // {reader, cancelled} while an event stream is being relayed
    const headers = (extra) => ({ ...cors, ...(closing ? { connection: 'close' } : {}), ...extra });
    const ex = {
      path: req.url,
      signal: controller.signal,
      stopReason: null,
      outcome() {
        return ex.stopReason ?? (res.statusCode < 400 ? 'ok' : 'refused');
      },
      /** Ends the exchange early: 'gone' (the client closed the connection) or 'shutdown'. */
      stop(reason) {
        if (ex.stopReason) return;
        ex.stopReason = reason;
        if (reason === 'gone') stats.aborted++;
        controller.abort();
        // A stream's reader is cancelled: the handler stops the generation within a token.
        if (streaming) streaming.cancelled = streaming.reader.cancel().catch(() => {});
        else if (reason === 'shutdown' && !res.headersSent) ex.fail(apiError(503, 'the server shut down before the request finished', 'server_error', 'shutting_down'));
      },
      send(status, body, extra = {}) {
        if (res.headersSent || res.destroyed) return;
        send(res, [status, body], headers(extra));
      },
      fail(error, extra = {}, { closeAfter = false } = {}) {
        if (res.headersSent || res.destroyed) return;
        if (error.status >= 500) stats.failed++;
        send(res, errorBody(error), headers(extra));
        // A refused body may still be arriving: the connection closes once the answer is out.
        if (closeAfter) res.once('finish', () => setTimeout(() => req.socket.destroy(), 1000).unref());
      },
      preflight(route) {
        res.writeHead(204, headers({
          allow: [...route.methods, 'OPTIONS'].join(', '),
          ...(cors['access-control-allow-origin'] ? {
            'access-control-allow-methods': [...route.methods, 'OPTIONS'].join(', '),
            'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'authorization, content-type',
            'access-control-max-age': '600',
          } : {}),
        }));
        res.end();
      },
      async relay(response) {
        const text = Buffer.from(await response.arrayBuffer());
        if (res.headersSent || res.destroyed) return;  // answered meanwhile (the server is stopping)
        if (response.status >= 500) stats.failed++;
        else if (response.status < 400) stats.completed++;
        res.writeHead(response.status, headers({ ...Object.fromEntries(response.headers), 'content-length': String(text.length) }));
        res.end(text);
      },
      // Server-sent events, as the handler frames them, written as they come (a slow reader does not slow
      // the engine: Node buffers what the socket has not taken). `done` is called once the generation ended.
      async stream(response, done) {
        const reader = response.body.getReader();
        streaming = { reader, cancelled: null };
        if (ex.stopReason || res.headersSent || res.destroyed) {  // stopped (and answered) while the request started
          await reader.cancel().catch(() => {});
          done();
          return;
        }
        res.writeHead(response.status, headers({ ...Object.fromEntries(response.headers), 'x-accel-buffering': 'no' }));
        res.flushHeaders();
        let complete = false;
        try {
          for (;;) {
            const { value, done: end } = await reader.read();
            if (end) break;
            if (!res.destroyed) {
              res.write(value);
              // Node corks the socket for a write until the next tick, which comes only when the engine's step
              // loop yields (every 8 ms): uncorked now, each event leaves when it is made.
              res.socket?.uncork();
            }
            if (value.length >= 12 && Buffer.from(value.subarray(0, 12)).toString() === 'data: [DONE]') complete = true;
          }
        } catch {
          // the body failed: end the stream as the handler would
        }
        await streaming.cancelled;
        done();
        if (complete) stats.completed++;
        if (res.destroyed) return;
        if (!complete && ex.stopReason === 'shutdown') {
          res.write(sseErrorEvent(apiError(503, 'the server is shutting down: the stream ends here', 'server_error', 'shutting_down')));
        }
        res.end();
      },
    };
    return ex;
  }

  // ---- shutdown ----

  // Stops accepting, gives requests in flight graceMs to finish, then ends them (a stream with an error
  // event, others with 503) and unloads an engine the server loaded. Called again while closing, the
  // shorter grace period wins.
  let endGrace = null;
  function close({ graceMs = o.graceMs } = {}) {
    if (!closing) {
      const grace = new Promise((resolve) => { endGrace = resolve; });
      closing = (async () => {
        const closed = new Promise((resolve) => server.close(resolve));
        server.closeIdleConnections();
        await Promise.race([settled(), grace]);
        for (const ex of exchanges) ex.stop('shutdown');
        // Streams end with an error event within a token; wait for them, not forever.
        let timer;
        await Promise.race([settled(), new Promise((resolve) => { timer = setTimeout(resolve, 5000); })]);
        clearTimeout(timer);
        server.closeAllConnections();
        await closed;
        if (owned) {
          await ready.catch(() => {});
          await engine?.unload();
        }
      })();
    }
    const timer = setTimeout(endGrace, graceMs);
    closing.catch(() => {}).finally(() => clearTimeout(timer));
    return closing;
  }

  function settled() {
    return new Promise((resolve) => {
      const check = () => (exchanges.size === 0 ? resolve() : setTimeout(check, 20));
      check();
    });
  }

  return {
    url,
    host: address.address,
    port: address.port,
    ready,
    get engine() {
      return engine;
    },
    stats: () => ({ ...stats, running: queue.running, waiting: queue.waiting.length }),
    close,
    server,
  };
}

// ---- helpers ----

function checkOptions(options) {
  const fail = (message) => { throw new TypeError(`startServer: ${message}`); };
  if (options === null || typeof options !== 'object') fail('it takes an options object {engine | engineOptions, host, port, ...}');
  for (const key of Object.keys(options)) if (!OPTIONS.has(key)) fail(`unknown option "${key}": the options are ${[...OPTIONS].join(', ')}`);
  const o = { ...DEFAULTS };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) o[k] = v;
  if (!o.engine === !o.engineOptions) fail('give either engine (a loaded engine) or engineOptions (createEngine\'s options)');
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) fail(`port must be an integer from 0 to 65535, got ${JSON.stringify(o.port)}`);
  if (typeof o.host !== 'string' || !o.host) fail('host must be a string');
  if (!Number.isInteger(o.queue) || o.queue < 0) fail(`queue must be an integer of 0 or more, got ${JSON.stringify(o.queue)}`);
  for (const k of ['maxBodyBytes', 'headersTimeoutMs', 'bodyTimeoutMs']) if (!(Number.isFinite(o[k]) && o[k] > 0)) fail(`${k} must be a positive number`);
  if (!(Number.isFinite(o.graceMs) && o.graceMs >= 0)) fail('graceMs must be a number of 0 or more');
  if (o.apiKey !== undefined && o.apiKey !== null && (typeof o.apiKey !== 'string' || !o.apiKey)) fail('apiKey must be a non-empty string');
  if (o.cors !== undefined && o.cors !== null) {
    const list = typeof o.cors === 'string' ? o.cors.split(',').map((s) => s.trim()).filter(Boolean) : o.cors;
    if (!Array.isArray(list) || !list.length || !list.every((s) => typeof s === 'string')) fail('cors must be "*", an origin, or a list of origins');
    o.cors = list;
  }
  if (o.log !== undefined && typeof o.log !== 'function') fail('log must be a function');
  return o;
}

function send(res, [status, body], headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

const errorBody = (error) => [error.status, error.toJSON()];

function notFound(method, path) {
  return apiError(404, `no such endpoint: ${method} ${path} (this server answers POST /v1/chat/completions, POST /v1/completions, POST /v1/embeddings, GET /v1/models and GET /health)`,
    'invalid_request_error', 'not_found');
}

function checkApiKey(req, apiKey) {
  if (!apiKey) return null;
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match) {
    return apiError(401, 'You didn\'t provide an API key: send it in an Authorization header using Bearer auth (Authorization: Bearer KEY)', 'invalid_request_error', 'invalid_api_key');
  }
  const digest = (s) => crypto.createHash('sha256').update(s).digest();
  if (!crypto.timingSafeEqual(digest(match[1].trim()), digest(apiKey))) {
    return apiError(401, 'Incorrect API key provided', 'invalid_request_error', 'invalid_api_key');
  }
  return null;
}

function corsHeaders(allowed, origin) {
  if (!allowed) return {};
  if (allowed.includes('*')) return { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'retry-after' };
  const headers = { vary: 'Origin' };
  if (origin && allowed.includes(origin)) Object.assign(headers, { 'access-control-allow-origin': origin, 'access-control-expose-headers': 'retry-after' });
  return headers;
}

// The body, at most `limit` bytes, arriving within `timeoutMs`. Rejects with a TabllmAPIError (413, 408),
// or an AbortError when the client goes away or the server stops.
function readBody(req, signal, limit, timeoutMs) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const tooLarge = () => apiError(413, `the request body is larger than this server's limit of ${limit} bytes`, 'invalid_request_error', 'request_too_large');
    if (declared > limit) {
      req.resume();  // drained, so the answer reaches a client still sending
      reject(tooLarge());
      return;
    }
    const chunks = [];
    let size = 0;
    const finish = (error, value) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      if (error) {
        req.resume();
        reject(error);
      } else resolve(value);
    };
    const onData = (chunk) => {
      size += chunk.length;
      if (size > limit) finish(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => finish(null, Buffer.concat(chunks));
    const onError = () => finish(Object.assign(new Error('the client went away'), { name: 'AbortError' }));
    const onAbort = onError;
    const timer = setTimeout(() => finish(apiError(408, `the request body did not arrive within ${timeoutMs / 1000} s`, 'invalid_request_error', 'request_timeout')), timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function once(fn) {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    fn();
  };
}
