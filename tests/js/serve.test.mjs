// `tabllm serve` (js/src/serve.mjs, js/bin/serve.mjs): real HTTP on 127.0.0.1 against stories260K on the
// WebAssembly backend. Greedy answers equal the reference through fetch, curl and the `openai` client,
// streamed or not; 64 concurrent streams against a queue of 16 are each answered with their own text or
// refused with 429; a client that goes away frees the engine within a token; malformed, oversized and slow
// requests, unknown paths and wrong methods get OpenAI-shaped errors and the next request works; the API
// key and CORS; /health while loading; a graceful close, and SIGTERM to the CLI with requests in flight.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import OpenAI from 'openai';

import { startServer } from '../../js/src/serve.mjs';
import { greedyReference, skipOrFail } from './wasm_env.mjs';
import { missingBuild, reference, storiesEngine, storiesPath } from './api-env.mjs';
import { parseSse } from './sse.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const skip = missingBuild();
const EOS_NEVER = { 1: -100, 2: -100 };  // stories260K ends at EOS (2) and at BOS (1): both banned, a reply as long as max_tokens

let engine = null;
let server = null;  // the default server: queue 16, no key, no CORS
before(async () => {
  if (skip) return;
  engine = await storiesEngine();
  server = await startServer({ engine, port: 0 });
});
after(async () => {
  await server?.close({ graceMs: 0 });
  await engine?.unload();
});

const chat = (content, extra = {}) => ({ model: 'stories260K', messages: [{ role: 'user', content }], temperature: 0, ...extra });

function post(base, route, body, headers = {}) {
  return fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

const textOf = (chunks) => chunks.map((c) => c.choices[0]?.delta?.content ?? c.choices[0]?.text ?? '').join('');

function checkError(body, status, code, type = 'invalid_request_error') {
  assert.deepEqual(Object.keys(body), ['error'], JSON.stringify(body));
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type'], JSON.stringify(body));
  assert.equal(body.error.code, code, JSON.stringify(body));
  assert.equal(body.error.type, type, JSON.stringify(body));
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 10);
  return status;
}

async function expectError(response, status, code, type) {
  assert.equal(response.status, status);
  assert.equal(response.headers.get('content-type'), 'application/json');
  checkError(await response.json(), status, code, type);
}

// The server still answers: a greedy request equals the reference.
async function stillWorks(base) {
  const ref = reference();
  const r = await post(base, '/v1/completions', { prompt: ref.prompt, temperature: 0, max_tokens: 6 });
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.ok(ref.text.startsWith(body.choices[0].text) && body.choices[0].text.length > 5);
}

// A raw HTTP exchange over a socket: what the server writes back until it closes.
function rawExchange(port, writes, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const started = performance.now();
    socket.setEncoding('utf8');
    socket.on('data', (d) => { received += d; });
    socket.on('error', reject);
    socket.on('close', () => resolve({ text: received, ms: performance.now() - started }));
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms: ${received}`));
    });
    (async () => {
      for (const w of writes) {
        if (typeof w === 'number') await new Promise((r) => setTimeout(r, w));
        else socket.write(w);
      }
    })();
  });
}

// The error a fresh connection to the port gets (a closed server: ECONNREFUSED), or null when it connects.
function connectError(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(null);
    });
    socket.on('error', (e) => resolve(e.code));
  });
}

function rawResponse(text) {
  const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
  const status = Number(head.split(' ')[1]);
  return { status, head, body: body ? JSON.parse(body) : null };
}

// A request whose socket the test can drop: resolves once `chunks` SSE events (or the headers, for 0) came.
function openStream(base, route, body, chunks) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let seen = 0;
      if (chunks === 0) resolve(req);
      res.on('data', (d) => {
        seen += String(d).split('\n\n').length - 1;
        if (seen >= chunks) resolve(req);
      });
      res.on('error', () => {});
    });
    req.on('error', () => {});
    req.on('close', () => reject(new Error('closed before the chunks came')));
    req.end(JSON.stringify(body));
  });
}

test('chat and text completions, JSON: greedy answers equal the reference; /v1/models; /health', async (t) => {
  if (skip) return skipOrFail(t, skip);
  for (const ref of greedyReference()) {
    const r = await post(server.url, '/v1/chat/completions', chat(ref.prompt, { max_tokens: 64 }));
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.choices[0].message.content, ref.text);
    assert.equal(body.usage.completion_tokens, 64);
    const c = await (await post(server.url, '/v1/completions', { prompt: ref.prompt, temperature: 0, max_tokens: 64 })).json();
    assert.equal(c.choices[0].text, ref.text);
  }
  const models = await (await fetch(`${server.url}/v1/models`)).json();
  assert.equal(models.object, 'list');
  assert.equal(models.data[0].id, 'stories260K');
  assert.equal((await (await fetch(`${server.url}/v1/models/stories260K`)).json()).id, 'stories260K');
  await expectError(await fetch(`${server.url}/v1/models/gpt-4`), 404, 'model_not_found');
  const health = await fetch(`${server.url}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok', model: 'stories260K', backend: 'wasm', queue: { running: 0, waiting: 0, limit: 16 } });
});

test('streaming: curl -N and the openai client get the reference as server-sent events, with usage', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const curl = await new Promise((resolve) => {
    execFile('curl', ['-sN', '-X', 'POST', `${server.url}/v1/chat/completions`, '-H', 'Content-Type: application/json',
      '-d', JSON.stringify(chat(ref.prompt, { max_tokens: 32, stream: true, stream_options: { include_usage: true } })), '-w', '\n%{http_code} %{content_type}'],
    { encoding: 'utf8' }, (error, stdout) => resolve(error?.code === 'ENOENT' ? null : { error, stdout }));
  });
  if (curl === null) t.diagnostic('curl is not installed: its part is skipped');
  else {
    assert.ifError(curl.error);
    const status = curl.stdout.slice(curl.stdout.lastIndexOf('\n') + 1);
    assert.equal(status, '200 text/event-stream');
    const sse = parseSse(curl.stdout.slice(0, curl.stdout.lastIndexOf('\n')));
    assert.ok(sse.done, 'ends with data: [DONE]');
    assert.equal(sse.errors.length, 0);
    assert.ok(ref.text.startsWith(textOf(sse.chunks)) && textOf(sse.chunks).length > 40, textOf(sse.chunks));
    const last = sse.chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, 32);
  }

  const client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  for (const r of greedyReference()) {
    const stream = await client.chat.completions.create({ ...chat(r.prompt, { max_tokens: 64 }), stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    assert.equal(text, r.text);
    assert.equal(usage.completion_tokens, 64);
  }
  const completion = await client.completions.create({ model: 'stories260K', prompt: ref.prompt, temperature: 0, max_tokens: 12 });
  assert.ok(ref.text.startsWith(completion.choices[0].text));
  await assert.rejects(client.chat.completions.create(chat(ref.prompt, { temperature: -1 })), (e) => e instanceof OpenAI.BadRequestError && e.status === 400);
});

test('64 concurrent streaming clients, queue 16: each answered with its own text or refused with 429, none lost', async (t) => {
  if (skip) return skipOrFail(t, skip);
  // Each client asks for its own (prompt, length): its text must be that prompt's greedy answer of that length.
  const refs = greedyReference();
  const asks = Array.from({ length: 64 }, (_, i) => ({ ref: refs[i % refs.length], maxTokens: 24 + (i % 9) }));
  const expected = new Map();
  for (const a of asks) {
    const key = `${a.ref.prompt}/${a.maxTokens}`;
    if (expected.has(key)) continue;
    const body = await (await post(server.url, '/v1/completions', { prompt: a.ref.prompt, temperature: 0, max_tokens: a.maxTokens })).json();
    assert.ok(a.ref.text.startsWith(body.choices[0].text));
    expected.set(key, body.choices[0].text);
  }
  // A long stream holds the engine while the 64 arrive, so the queue fills whatever the machine's speed;
  // it is dropped once every client has been admitted or refused.
  const blocker = await openStream(server.url, '/v1/completions', { prompt: refs[0].prompt, temperature: 0, max_tokens: 20000, logit_bias: EOS_NEVER, stream: true }, 2);
  let refusedSoFar = 0;
  const started = performance.now();
  const outcomes = Promise.all(asks.map(async (a, i) => {
    const r = await post(server.url, '/v1/completions', { prompt: a.ref.prompt, temperature: 0, max_tokens: a.maxTokens, stream: true, stream_options: { include_usage: true } });
    if (r.status === 429) {
      assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After in seconds');
      checkError(await r.json(), 429, 'rate_limit_exceeded', 'requests');
      refusedSoFar++;
      return 'refused';
    }
    assert.equal(r.status, 200, `client ${i}`);
    const sse = parseSse(await r.text());
    assert.ok(sse.done && !sse.errors.length, `client ${i} ended with [DONE]`);
    assert.equal(textOf(sse.chunks), expected.get(`${a.ref.prompt}/${a.maxTokens}`), `client ${i}`);
    assert.equal(sse.chunks.at(-1).usage.completion_tokens, a.maxTokens, `client ${i}`);
    assert.equal(new Set(sse.chunks.map((c) => c.id)).size, 1, `client ${i}: one id`);
    return 'answered';
  }));
  let queue;
  for (let i = 0; i < 1000; i++) {
    queue = (await (await fetch(`${server.url}/health`)).json()).queue;
    assert.ok(queue.running === 1 && queue.waiting <= 16, JSON.stringify(queue));
    if (queue.waiting === 16 && refusedSoFar === 48) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual(queue, { running: 1, waiting: 16, limit: 16 });
  const admitted = performance.now();
  blocker.destroy();
  const results = await outcomes;
  const answered = results.filter((o) => o === 'answered').length;
  const refused = results.filter((o) => o === 'refused').length;
  t.diagnostic(`64 clients: ${answered} answered, ${refused} refused with 429; all admitted or refused in ${(admitted - started).toFixed(0)} ms, ` +
    `the 16 answered ${(performance.now() - admitted).toFixed(0)} ms later`);
  assert.equal(answered, 16);
  assert.equal(refused, 48);
  assert.deepEqual((await (await fetch(`${server.url}/health`)).json()).queue, { running: 0, waiting: 0, limit: 16 });
});

// Milliseconds a one-token request takes on the engine itself: it waits in the engine's own queue until the
// engine is free, so right after a client went away it measures how long the engine stayed busy.
async function oneTokenMs() {
  const started = performance.now();
  const r = await engine.completions.create({ prompt: reference().prompt, temperature: 0, max_tokens: 1 });
  assert.equal(r.usage.completion_tokens, 1);
  return performance.now() - started;
}

test('a client that goes away (mid-stream, before its answer, while waiting) frees the engine within a token', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const long = { prompt: reference().prompt, temperature: 0, max_tokens: 20000, logit_bias: EOS_NEVER };
  // What an idle engine takes, and its speed.
  const idle = Math.min(await oneTokenMs(), await oneTokenMs(), await oneTokenMs());
  const timed = await (await post(server.url, '/v1/completions', { ...long, max_tokens: 200 })).json();
  const tokenMs = timed.usage.timings.decode_ms / timed.usage.completion_tokens;

  const before = server.stats().aborted;
  // Mid-stream: 5 events, then the socket is destroyed.
  let req = await openStream(server.url, '/v1/completions', { ...long, stream: true }, 5);
  req.destroy();
  const afterStream = await oneTokenMs() - idle;
  // Before the answer: a JSON request dropped 100 ms in.
  req = http.request(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  req.on('error', () => {});
  req.end(JSON.stringify(long));
  await new Promise((r) => setTimeout(r, 100));
  req.destroy();
  const afterJson = await oneTokenMs() - idle;
  t.diagnostic(`the engine was busy ${afterStream.toFixed(1)} ms after a client left mid-stream, ${afterJson.toFixed(1)} ms after one left before its JSON answer ` +
    `(a token takes ${tokenMs.toFixed(2)} ms: about ${Math.round(afterStream / tokenMs)} and ${Math.round(afterJson / tokenMs)} tokens; the step loop lets I/O in every 8 ms; ` +
    `the 20000 tokens asked for would take ${(20000 * tokenMs / 1000).toFixed(0)} s)`);
  // Freed a token after the server hears of the close, which takes a turn or two of the event loop (the step
  // loop lets one in every 8 ms); with slack for a busy machine, and far from the 20000 tokens asked for.
  for (const ms of [afterStream, afterJson]) assert.ok(ms < 3 * 8 + 4 * tokenMs + 100, `${ms} ms`);
  await stillWorks(server.url);

  // While waiting: the queue forgets it.
  const running = await openStream(server.url, '/v1/completions', { ...long, stream: true }, 2);
  const waiting = http.request(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  waiting.on('error', () => {});
  waiting.end(JSON.stringify(chat('Lily', { max_tokens: 4 })));
  const queueNow = async () => (await (await fetch(`${server.url}/health`)).json()).queue;
  for (let i = 0; i < 100 && (await queueNow()).waiting !== 1; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(await queueNow(), { running: 1, waiting: 1, limit: 16 });
  waiting.destroy();
  for (let i = 0; i < 100 && (await queueNow()).waiting !== 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(await queueNow(), { running: 1, waiting: 0, limit: 16 });
  running.destroy();
  for (let i = 0; i < 100 && (await queueNow()).running !== 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(await queueNow(), { running: 0, waiting: 0, limit: 16 });
  assert.equal(server.stats().aborted - before, 4);
  await stillWorks(server.url);
});

test('bad input: malformed JSON, a body over the limit, slow headers, a slow body, unknown paths, wrong methods; the next request works', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const s = await startServer({ engine, port: 0, maxBodyBytes: 4 * 1024 * 1024, headersTimeoutMs: 400, bodyTimeoutMs: 400 });
  try {
    await expectError(await post(s.url, '/v1/chat/completions', '{"messages": [{"role": "user", "content": "Hi"}'), 400, 'invalid_json');
    await stillWorks(s.url);
    await expectError(await post(s.url, '/v1/chat/completions', { messages: 'Hi' }), 400, 'invalid_type');
    await stillWorks(s.url);

    // 5 MB: refused from its Content-Length, and when it comes chunked without one.
    const big = JSON.stringify({ prompt: 'x'.repeat(5 * 1024 * 1024) });
    await expectError(await post(s.url, '/v1/completions', big), 413, 'request_too_large');
    const chunked = await fetch(`${s.url}/v1/completions`, {
      method: 'POST', duplex: 'half', headers: { 'content-type': 'application/json' },
      body: new ReadableStream({ start(c) { for (let i = 0; i < 5; i++) c.enqueue(new TextEncoder().encode(big.slice(i * 1048576, (i + 1) * 1048576 + 1))); c.close(); } }),
    }).catch((e) => e);
    // A client still sending when the answer comes may see the connection close instead of reading it.
    if (chunked instanceof Response) await expectError(chunked, 413, 'request_too_large');
    else t.diagnostic(`chunked 5 MB: the client saw ${chunked.cause?.code ?? chunked.message} (the server answered 413 and closed)`);
    await stillWorks(s.url);

    // Slow headers (slow-loris): 408 in OpenAI's shape, the connection closed.
    const slowHeaders = await rawExchange(s.port, ['POST /v1/completions HTTP/1.1\r\nHost: x\r\n', 300, 'X-A: 1\r\n', 2000, 'X-B: 2\r\n\r\n']);
    const h = rawResponse(slowHeaders.text);
    assert.equal(h.status, 408, slowHeaders.text);
    checkError(h.body, 408, 'request_timeout');
    assert.ok(slowHeaders.ms < 1900, `closed after ${slowHeaders.ms} ms`);
    // A slow body.
    const slowBody = await rawExchange(s.port, ['POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"pro', 2000, 'mpt": 1}']);
    const b = rawResponse(slowBody.text);
    assert.equal(b.status, 408, slowBody.text);
    checkError(b.body, 408, 'request_timeout');
    assert.match(b.head, /connection: close/i);
    // Not HTTP at all.
    const garbage = rawResponse((await rawExchange(s.port, ['HELLO THERE\r\n\r\n'])).text);
    assert.equal(garbage.status, 400);
    checkError(garbage.body, 400, 'bad_request');
    await stillWorks(s.url);

    await expectError(await fetch(`${s.url}/v1/audio/speech`, { method: 'POST', body: '{}' }), 404, 'not_found');
    await expectError(await fetch(`${s.url}/`), 404, 'not_found');
    await expectError(await fetch(`${s.url}/v1/chat/completions/extra`, { method: 'POST', body: '{}' }), 404, 'not_found');
    for (const [method, route, allow] of [['GET', '/v1/chat/completions', 'POST, OPTIONS'], ['PUT', '/v1/completions', 'POST, OPTIONS'],
      ['POST', '/v1/models', 'GET, OPTIONS'], ['DELETE', '/health', 'GET, OPTIONS']]) {
      const r = await fetch(s.url + route, { method, ...(method === 'GET' ? {} : { body: '{}' }) });
      assert.equal(r.headers.get('allow'), allow, `${method} ${route}`);
      await expectError(r, 405, 'method_not_allowed');
    }
    await stillWorks(s.url);
  } finally {
    await s.close({ graceMs: 0 });
  }
});

test('API key: requests to /v1 without `Authorization: Bearer KEY` get 401; CORS headers and preflight', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const s = await startServer({ engine, port: 0, apiKey: 'sk-local-test', cors: 'https://app.example' });
  try {
    const ref = reference();
    const none = await post(s.url, '/v1/chat/completions', chat(ref.prompt, { max_tokens: 4 }));
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    await expectError(none, 401, 'invalid_api_key');
    await expectError(await post(s.url, '/v1/chat/completions', chat(ref.prompt, { max_tokens: 4 }), { authorization: 'Bearer sk-wrong' }), 401, 'invalid_api_key');
    await expectError(await fetch(`${s.url}/v1/models`, { headers: { authorization: 'Basic c2stbG9jYWwtdGVzdA==' } }), 401, 'invalid_api_key');
    const ok = await post(s.url, '/v1/chat/completions', chat(ref.prompt, { max_tokens: 4 }), { authorization: 'Bearer sk-local-test' });
    assert.equal(ok.status, 200);
    assert.ok(ref.text.startsWith((await ok.json()).choices[0].message.content));
    assert.equal((await fetch(`${s.url}/health`)).status, 200, '/health needs no key');

    const client = new OpenAI({ apiKey: 'sk-local-test', baseURL: `${s.url}/v1`, maxRetries: 0 });
    assert.equal((await client.models.list()).data[0].id, 'stories260K');
    const wrong = new OpenAI({ apiKey: 'sk-nope', baseURL: `${s.url}/v1`, maxRetries: 0 });
    await assert.rejects(wrong.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.code === 'invalid_api_key');

    // CORS: the allowed origin gets its headers, on errors too; a preflight is answered without the key.
    const preflight = await fetch(`${s.url}/v1/chat/completions`, { method: 'OPTIONS', headers: {
      origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-stainless-os' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(preflight.headers.get('access-control-allow-methods'), /POST/);
    assert.equal(preflight.headers.get('access-control-allow-headers'), 'authorization, content-type, x-stainless-os');
    assert.ok(Number(preflight.headers.get('access-control-max-age')) > 0);
    const cross = await post(s.url, '/v1/completions', { prompt: ref.prompt, max_tokens: 2 }, { origin: 'https://app.example', authorization: 'Bearer sk-local-test' });
    assert.equal(cross.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(cross.headers.get('vary'), /Origin/);
    const refused = await post(s.url, '/v1/completions', { prompt: ref.prompt }, { origin: 'https://app.example' });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), 'https://app.example', 'errors carry CORS headers too');
    const other = await fetch(`${s.url}/health`, { headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  } finally {
    await s.close({ graceMs: 0 });
  }
  const star = await startServer({ engine, port: 0, cors: '*' });
  try {
    const r = await fetch(`${star.url}/v1/models`, { headers: { origin: 'https://anywhere.example' } });
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    const preflight = await fetch(`${star.url}/v1/completions`, { method: 'OPTIONS', headers: { origin: 'https://anywhere.example', 'access-control-request-method': 'POST' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  } finally {
    await star.close({ graceMs: 0 });
  }
});

test('/health and /v1 answer 503 while the model loads; close() lets a stream in flight finish', async (t) => {
  if (skip) return skipOrFail(t, skip);
  let load;
  const s = await startServer({ engine: new Promise((resolve) => { load = resolve; }), port: 0, graceMs: 5000 });
  const loading = await fetch(`${s.url}/health`);
  assert.equal(loading.status, 503);
  assert.deepEqual(await loading.json(), { status: 'loading' });
  const early = await post(s.url, '/v1/completions', { prompt: 'Hi' });
  assert.equal(early.headers.get('retry-after'), '1');
  await expectError(early, 503, 'model_loading', 'engine_unavailable');
  load(engine);
  await s.ready;
  assert.equal((await fetch(`${s.url}/health`)).status, 200);

  // A stream in flight when close() is called finishes within the grace period; new requests are refused.
  const ref = reference();
  const r = await post(s.url, '/v1/completions', { prompt: ref.prompt, temperature: 0, max_tokens: 64, stream: true });
  const closed = s.close();
  const sse = parseSse(await r.text());
  assert.ok(sse.done && !sse.errors.length);
  assert.equal(textOf(sse.chunks), ref.text);
  await closed;
  assert.equal(await connectError(s.port), 'ECONNREFUSED');
  // The engine was the caller's: still loaded.
  assert.equal((await engine.completions.create({ prompt: ref.prompt, temperature: 0, max_tokens: 3 })).usage.completion_tokens, 3);
});

test('tabllm serve (the CLI): SIGTERM with requests in flight ends them cleanly and exits 0', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const child = spawn(process.execPath, [path.join(root, 'js/bin/tabllm.mjs'), 'serve', '-m', storiesPath(), '--backend', 'wasm', '--threads', '1',
    '--port', '0', '--grace', '0.3', '--queue', '2', '--model-name', 'stories'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    for (let i = 0; i < 300 && !/ready:/.test(stdout); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(stdout, /listening on http:\/\/127\.0\.0\.1:\d+/, stdout + stderr);
    assert.match(stdout, /ready: stories on wasm/, stdout + stderr);
    const base = /listening on (http:\/\/\S+)/.exec(stdout)[1];
    const health = await (await fetch(`${base}/health`)).json();
    assert.deepEqual(health, { status: 'ok', model: 'stories', backend: 'wasm', queue: { running: 0, waiting: 0, limit: 2 } });

    // A long stream running and a JSON request waiting behind it when the signal comes.
    const long = { prompt: reference().prompt, temperature: 0, max_tokens: 20000, logit_bias: EOS_NEVER };
    const stream = await post(base, '/v1/completions', { ...long, stream: true });
    const reader = stream.body.getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    const waiting = post(base, '/v1/completions', long);
    for (let i = 0; i < 100 && (await (await fetch(`${base}/health`)).json()).queue.waiting !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    const signalled = performance.now();
    child.kill('SIGTERM');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const sse = parseSse(text);
    assert.ok(!sse.done, 'the stream did not finish');
    assert.ok(sse.chunks.length > 3);
    assert.equal(sse.errors.length, 1, 'it ends with one error event');
    checkError(sse.errors[0], 503, 'shutting_down', 'server_error');
    await expectError(await waiting, 503, 'shutting_down', 'server_error');
    const { code, signal } = await exited;
    const ms = performance.now() - signalled;
    t.diagnostic(`SIGTERM to exit: ${ms.toFixed(0)} ms with --grace 0.3`);
    assert.equal(signal, null);
    assert.equal(code, 0, stderr);
    assert.ok(ms < 5000);
    assert.match(stdout, /SIGTERM: stopping/);
    assert.match(stdout, /stopped\n$/);
    assert.match(stderr, /POST \/v1\/completions 200 \d+ ms \(stopped by shutdown\)/);
    assert.equal(await connectError(Number(new URL(base).port)), 'ECONNREFUSED');
  } finally {
    child.kill('SIGKILL');
  }
});

test('tabllm serve (the CLI): --help; a wrong option, a missing model or one that fails to load is one line on stderr and exit 1', (t) => {
  if (skip) return skipOrFail(t, skip);
  const cli = (...args) => spawnSync(process.execPath, [path.join(root, 'js/bin/tabllm.mjs'), 'serve', ...args], { encoding: 'utf8', timeout: 60_000 });
  const help = cli('--help');
  assert.equal(help.status, 0);
  for (const option of ['--host', '--port', '--api-key', '--cors', '--queue', '--grace', '--model-name', '--kv-type', '--backend', '--ctx', '--threads']) assert.ok(help.stdout.includes(option), option);
  const notAModel = path.join(os.tmpdir(), `tabllm-serve-not-a-model-${process.pid}.gguf`);
  fs.writeFileSync(notAModel, 'this is not a GGUF file');
  try {
    for (const [args, message] of [
      [['-m', storiesPath(), '--port', 'http'], /--port needs an integer/],
      [['-m', storiesPath(), '--queue', '-1'], /--queue must be 0 or more/],
      [['-m', storiesPath(), '--kv-type', 'q4'], /--kv-type must be f16, q8_0 or f32/],
      [['-m', '/nonexistent/model.gguf'], /cannot open model/],
      [['-m', notAModel, '--backend', 'wasm', '--port', '0'], /GGUF|magic|model/i],
    ]) {
      const r = cli(...args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^tabllm serve: error: /);
      assert.match(r.stderr, message);
    }
  } finally {
    fs.rmSync(notAModel, { force: true });
  }
});
