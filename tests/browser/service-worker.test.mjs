// The origin's OpenAI endpoint in the Service Worker (tabllm/sw) with one model for all tabs
// (createServiceWorkerEngine), in headless Chromium on the chat demo (apps/chat, engine=sw, backend wasm):
// two tabs, one load, the greedy reference text; a stopped Service Worker and a closed host tab lose
// nothing; offline reload; the unmodified openai client on location.origin + '/v1'; bad input; aborts;
// no host at all; the endpoint on WebGPU (SwiftShader); and two workers loading one model into OPFS at once.
//
//   node --test --test-concurrency=1 tests/browser/service-worker.test.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchChromium, repoRoot, sharedRoot } from './harness.mjs';
import { serveChat } from '../../apps/chat/server.mjs';

const OUT = path.join(repoRoot, 'build/sw-test');
const reference = fs.readFileSync(path.join(sharedRoot, 'models/stories260K/greedy_reference.jsonl'), 'utf8')
  .trim().split('\n').map((line) => JSON.parse(line))
  .find((r) => r.prompt === 'Once upon a time');
const figures = {};

let chromium;
let server;
let context;
let pageA;
let pageB;

before(async () => {
  execFileSync(process.execPath, [path.join(repoRoot, 'apps/chat/build.mjs'), '--dev', '--out', OUT], { stdio: 'inherit' });
  server = await serveChat({ root: OUT, mounts: [['/node_modules/openai/', path.join(repoRoot, 'node_modules/openai')]] });
  chromium = await launchChromium();
  context = await chromium.browser.newContext();
});

after(async () => {
  await chromium?.close();
  await server?.close();
  console.log(`service worker figures: ${JSON.stringify(figures)}`);
});

// A tab of the demo on the shared model (engine=sw), loading it (or waiting for the host tab's load).
async function openTab() {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') process.stderr.write(`[page ${m.type()}] ${m.text()}\n`); });
  page.on('pageerror', (e) => process.stderr.write(`[page exception] ${e.stack ?? e.message}\n`));
  await page.goto(`${server.url}?engine=sw&backend=wasm`);
  return page;
}

// Until the host lock is held, or a request for it waits ('held' or 'pending' in navigator.locks.query()).
async function until(page, list) {
  const deadline = Date.now() + 20_000;
  while (!await page.evaluate(async (list) => (await navigator.locks.query())[list].some((l) => l.name === 'tabllm-sw-host'), list)) {
    assert.ok(Date.now() < deadline, `no ${list} host lock`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function whenReady(page) {
  await page.waitForFunction(() => window.tabllmChat?.loads >= 1, null, { timeout: 60_000, polling: 100 });
  const state = await page.evaluate(() => ({ state: window.tabllmChat.state, errors: window.tabllmChat.errors }));
  assert.equal(state.state, 'ready', `the tab did not get the model: ${state.errors.join('; ')}`);
}

const CHAT = { messages: [{ role: 'user', content: reference.prompt }], temperature: 0, max_tokens: reference.n_predict };
// A reply long enough to be still generating when a test cuts it: greedy, so the same text every time (the
// story ends after some 340 tokens), four times over (n: 4).
const LONG = { ...CHAT, max_tokens: 1000, n: 4, seed: 7 };
// The text of each choice of a streamed reply's chunks.
function joinChoices(chunks) {
  const texts = [];
  for (const chunk of chunks) for (const c of chunk.choices) texts[c.index] = (texts[c.index] ?? '') + (c.delta?.content ?? '');
  return texts;
}

// In the page: a plain fetch of the endpoint, JSON or the joined text of its event stream.
function plainFetch(page, body) {
  return page.evaluate(async (body) => {
    const started = performance.now();
    const response = await fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!body.stream) return { status: response.status, json: await response.json() };
    const text = await response.text();
    const events = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
    const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
    return { status: response.status, done: events.at(-1) === '[DONE]', text: chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), ms: performance.now() - started };
  }, body);
}

test('two tabs fetch /v1/chat/completions (JSON and stream): one model load, the greedy reference text', async () => {
  // The model's download is held until both tabs are open, so the second one waits for the first one's
  // download in flight and reports its progress.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await context.route('**/models/*.gguf', async (route) => {
    await held;
    await route.continue();
  });
  pageA = await openTab();
  // A, the only tab, holds the host lock: it hosts.
  await until(pageA, 'held');
  pageB = await openTab();
  // B waits for the host lock (it listens to the host's channel from before it asks for the lock).
  await until(pageB, 'pending');
  release();
  await whenReady(pageA);
  await whenReady(pageB);
  await context.unroute('**/models/*.gguf');
  const progressB = await pageB.evaluate(() => window.tabllmChat.progress.map((p) => p.phase));
  assert.ok(progressB.includes('download'), `the waiting tab saw no download progress: ${progressB.join(' ')}`);
  const [a, b, aStream, bStream] = await Promise.all([
    plainFetch(pageA, CHAT), plainFetch(pageB, CHAT), plainFetch(pageA, { ...CHAT, stream: true }), plainFetch(pageB, { ...CHAT, stream: true }),
  ]);
  for (const r of [a, b]) {
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.choices[0].message.content, reference.text);
  }
  for (const r of [aStream, bStream]) {
    assert.equal(r.status, 200);
    assert.ok(r.done);
    assert.equal(r.text, reference.text);
  }
  const models = await pageB.evaluate(async () => (await fetch('/v1/models')).json());
  assert.equal(models.data.length, 1);
  const status = await pageB.evaluate(() => window.tabllmChat.engine.status());
  assert.equal(status.loads, 1, 'the model is loaded once for both tabs');
  assert.deepEqual([await pageA.evaluate(() => window.tabllmChat.engine.host), status.host], [true, false], 'page A hosts');
  assert.equal(status.status, 'ready');

  // Tabs take turns: page B's one request, sent after page A's three, is answered before A's second.
  const ended = [];
  const send = (page, name, body) => plainFetch(page, body).then((r) => {
    assert.equal(r.status, 200);
    ended.push(name);
  });
  const longA = [1, 2, 3].map((i) => send(pageA, `A${i}`, LONG));
  await new Promise((resolve) => setTimeout(resolve, 100));
  await Promise.all([...longA, send(pageB, 'B1', CHAT)]);
  assert.ok(ended.indexOf('B1') < ended.indexOf('A2'), `answered in the order ${ended.join(' ')}`);
});

test('the Service Worker stopped mid-stream: the client resumes without loss; a plain fetch fails and resumes by its headers', async () => {
  const cdp = await context.newCDPSession(pageB);
  await cdp.send('ServiceWorker.enable');
  const stopAll = () => cdp.send('ServiceWorker.stopAllWorkers');
  // The long reply as one JSON answer first.
  const started = Date.now();
  const whole = await pageB.evaluate((long) => window.tabllmChat.engine.chat.completions.create(long), LONG);
  figures.longReplyMs = Date.now() - started;
  const expected = whole.choices.map((c) => c.message.content);
  assert.ok(whole.usage.completion_tokens > 1000, `a reply of ${whole.usage.completion_tokens} tokens is too short to stop mid-way`);

  // The client (createServiceWorkerEngine): its stream is cut after 5 events and resumed.
  const client = pageB.evaluate(async (long) => {
    // Counts the client's fetches: a resume is a second one.
    const pageFetch = window.fetch;
    window.endpointFetches = 0;
    window.fetch = (...args) => {
      window.endpointFetches++;
      return pageFetch(...args);
    };
    try {
      const stream = await window.tabllmChat.engine.chat.completions.create({ ...long, stream: true });
      const chunks = [];
      window.readEvents = 0;
      for await (const chunk of stream) {
        chunks.push(chunk);
        window.readEvents++;
      }
      return { chunks, fetches: window.endpointFetches };
    } finally {
      window.fetch = pageFetch;
    }
  }, LONG);
  await pageB.waitForFunction(() => window.readEvents >= 5, null, { timeout: 20_000, polling: 1 });
  await stopAll();
  const resumed = await client;
  figures.clientFetchesAfterStop = resumed.fetches;
  assert.ok(resumed.fetches >= 2, `the stream was not cut (${resumed.fetches} fetch): the test stopped the Service Worker too late`);
  assert.deepEqual(joinChoices(resumed.chunks), expected);

  // A plain fetch: its reader fails with a TypeError; the same request id, resumed after the events read,
  // brings the rest.
  const plain = pageB.evaluate(async (long) => {
    const body = JSON.stringify({ ...long, stream: true });
    const headers = { 'content-type': 'application/json' };
    const response = await fetch('/v1/chat/completions', { method: 'POST', headers, body });
    const id = response.headers.get('x-tabllm-request');
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    window.plainRead = 0;
    let failure = null;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
        window.plainRead = text.split('\n\n').length - 1;
      }
    } catch (error) {
      failure = error.name;
    }
    const events = text.split('\n\n').slice(0, -1).filter((e) => e.startsWith('data: '));  // whole events only
    const resume = { ...headers, 'x-tabllm-request': id, 'x-tabllm-resume-from': String(events.length) };
    // A resume is idempotent: a caller retries one that gets no answer (a fetch sent while the stopped
    // worker is still going away can hang: seen in about one run of six).
    let rest = null;
    let attempts = 0;
    while (rest === null && attempts++ < 3) {
      try {
        rest = await (await fetch('/v1/chat/completions', { method: 'POST', headers: resume, body, signal: AbortSignal.timeout(10_000) })).text();
      } catch (error) {
        if (error.name !== 'TimeoutError') throw error;
      }
    }
    const all = [...events, ...rest.split('\n\n').filter((e) => e.startsWith('data: '))].map((e) => e.slice(6));
    return { failure, attempts, before: events.length, done: all.at(-1) === '[DONE]', chunks: all.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e)) };
  }, LONG);
  await pageB.waitForFunction(() => window.plainRead >= 5, null, { timeout: 20_000, polling: 1 });
  await stopAll();
  const result = await plain;
  figures.plainFetchAfterStop = { failure: result.failure, eventsBefore: result.before, resumeAttempts: result.attempts };
  assert.equal(result.failure, 'TypeError');
  assert.ok(result.done);
  assert.deepEqual(joinChoices(result.chunks), expected);
  await cdp.detach();
});

test('the host tab closes while another tab\'s request waits: the other tab hosts, loads, and answers it', async () => {
  // Page B's long request keeps the host (page A) busy, so B's next request waits in A's queue when A
  // closes; B then gives the long one up.
  await pageB.evaluate((long) => {
    window.longControl = new AbortController();
    window.longDone = false;
    window.tabllmChat.engine.chat.completions.create({ ...long, n: 16 }, { signal: window.longControl.signal })
      .then(() => { window.longDone = true; }, () => {});
  }, LONG);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const answer = plainFetch(pageB, { ...CHAT, stream: true });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(await pageB.evaluate(() => window.longDone), false, 'the long request ended before the host tab closed');
  const closedAt = Date.now();
  await pageA.close();
  await pageB.evaluate(() => window.longControl.abort());
  const r = await answer;
  figures.handOffMs = Date.now() - closedAt;
  assert.equal(r.status, 200);
  assert.ok(r.done);
  assert.equal(r.text, reference.text);
  const status = await pageB.evaluate(() => window.tabllmChat.engine.status());
  assert.equal(status.loads, 2, 'page B loaded the model once, when it became host');
});

test('offline: a reload serves the page from the Service Worker and the endpoint answers', async () => {
  await context.setOffline(true);
  try {
    await pageB.reload();
    await pageB.waitForFunction(() => window.tabllmChat?.loads >= 1, null, { timeout: 60_000, polling: 100 });
    assert.equal(await pageB.evaluate(() => window.tabllmChat.state), 'ready');
    const r = await plainFetch(pageB, CHAT);
    assert.equal(r.status, 200);
    assert.equal(r.json.choices[0].message.content, reference.text);
  } finally {
    await context.setOffline(false);
  }
});

test('the unmodified openai client with baseURL location.origin + "/v1" (its default fetch, through the Service Worker)', async () => {
  const result = await pageB.evaluate(async (chat) => {
    const { default: OpenAI } = await import('/node_modules/openai/index.mjs');
    const client = new OpenAI({ apiKey: 'local', baseURL: `${location.origin}/v1`, dangerouslyAllowBrowser: true });
    const models = await client.models.list();
    const model = models.data[0].id;
    const completion = await client.chat.completions.create({ model, ...chat });
    const stream = await client.chat.completions.create({ model, ...chat, stream: true, stream_options: { include_usage: true } });
    let streamed = '';
    let usage = null;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta?.content ?? '';
      usage = chunk.usage ?? usage;
    }
    let refused = null;
    try {
      await client.chat.completions.create({ model, ...chat, temperature: 7 });
    } catch (error) {
      refused = { status: error.status, param: error.param ?? error.error?.param };
    }
    return { text: completion.choices[0].message.content, streamed, usage, refused };
  }, CHAT);
  assert.equal(result.text, reference.text);
  assert.equal(result.streamed, reference.text);
  assert.equal(result.usage.completion_tokens, reference.n_predict);
  assert.deepEqual(result.refused, { status: 400, param: 'temperature' });
});

test('bad input at the endpoint: OpenAI errors for malformed JSON, a 10 MB body, an unknown path, embeddings from a chat model, a wrong method; the next request works', async () => {
  const answers = await pageB.evaluate(async () => {
    const post = async (path, body, method = 'POST') => {
      const response = await fetch(path, { method, headers: { 'content-type': 'application/json' }, body });
      return { status: response.status, type: response.headers.get('content-type'), body: await response.json() };
    };
    return {
      malformed: await post('/v1/chat/completions', '{"messages": ['),
      huge: await post('/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(10 * 1024 * 1024) }] })),
      unknown: await post('/v1/audio/speech', '{}'),
      // Routed to the host's engine.embeddings, which says its chat model gives no embeddings.
      embeddings: await post('/v1/embeddings', '{"input": "hi"}'),
      method: await post('/v1/chat/completions', undefined, 'GET'),
      modelsPost: await post('/v1/models', '{}'),
    };
  });
  const expect = { malformed: [400, 'invalid_json'], huge: [413, 'request_too_large'], unknown: [404, 'not_found'], embeddings: [400, 'model_not_embedding'], method: [405, 'method_not_allowed'], modelsPost: [405, 'method_not_allowed'] };
  for (const [name, [status, code]] of Object.entries(expect)) {
    const a = answers[name];
    assert.equal(a.status, status, `${name}: ${JSON.stringify(a.body)}`);
    assert.match(a.type, /application\/json/);
    assert.equal(a.body.error.code, code, name);
    assert.equal(typeof a.body.error.message, 'string');
    assert.ok('type' in a.body.error && 'param' in a.body.error);
  }
  const next = await plainFetch(pageB, CHAT);
  assert.equal(next.json.choices[0].message.content, reference.text);
});

test('a page aborting a stream\'s fetch, or the client\'s JSON request, stops the generation: the next request is answered at once', async () => {
  const timings = await pageB.evaluate(async (long) => {
    const controller = new AbortController();
    const body = JSON.stringify({ ...long, n: 16, stream: true });
    const response = await fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: controller.signal });
    const reader = response.body.getReader();
    for (let events = 0; events < 3;) {
      const { value } = await reader.read();
      events += new TextDecoder().decode(value).split('\n\n').length - 1;
    }
    controller.abort();
    const started = performance.now();
    const next = await (await fetch('/v1/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 4, temperature: 0 }) })).json();
    // A JSON request of the client aborted while it runs.
    const json = new AbortController();
    const waiting = window.tabllmChat.engine.chat.completions.create({ ...long, n: 16 }, { signal: json.signal }).catch((e) => e.name);
    await new Promise((resolve) => setTimeout(resolve, 200));
    json.abort();
    const abortedAs = await waiting;
    const again = performance.now();
    await (await fetch('/v1/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 4, temperature: 0 }) })).json();
    return { nextMs: again - started, afterJsonAbortMs: performance.now() - again, abortedAs, finish: next.choices[0].finish_reason };
  }, LONG);
  figures.nextAfterAbortMs = Math.round(timings.nextMs);
  figures.nextAfterJsonAbortMs = Math.round(timings.afterJsonAbortMs);
  assert.equal(timings.abortedAs, 'AbortError');
  assert.equal(timings.finish, 'length');
  // Had an aborted reply (n: 16, four times LONG's) gone on, the next request would wait for most of it.
  for (const ms of [timings.nextMs, timings.afterJsonAbortMs]) {
    assert.ok(ms < figures.longReplyMs, `the request after an abort waited ${ms} ms (the aborted reply takes about ${4 * figures.longReplyMs} ms)`);
  }
});

test('with no tab hosting a model, the endpoint answers 503 no_host after its wait, in OpenAI\'s shape', async () => {
  const empty = await chromium.browser.newContext();
  try {
    const page = await empty.newPage();
    await page.goto(`${server.url}?autoload=0`);  // the demo's Service Worker, and no engine
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 });
    const answer = await page.evaluate(async () => {
      const started = performance.now();
      const response = await fetch('/v1/models');
      return { status: response.status, body: await response.json(), ms: performance.now() - started };
    });
    assert.equal(answer.status, 503);
    assert.equal(answer.body.error.code, 'no_host');
    assert.match(answer.body.error.message, /createServiceWorkerEngine/);
    assert.ok(answer.ms >= 9000, `answered after ${answer.ms} ms, before the wait for a host ended`);
  } finally {
    await empty.close();
  }
});

test('WebGPU (SwiftShader): the host tab\'s model on the GPU streams the greedy reference text through the endpoint', async () => {
  const gpu = await chromium.browser.newContext();
  try {
    const page = await gpu.newPage();
    const started = Date.now();
    await page.goto(`${server.url}?engine=sw&backend=webgpu`);
    await whenReady(page);
    figures.webgpuLoadMs = Date.now() - started;
    assert.equal(await page.evaluate(() => window.tabllmChat.engine.backend), 'webgpu');
    // 16 tokens: SwiftShader runs the GPU's work on the (shared) CPU.
    const stream = await plainFetch(page, { ...CHAT, max_tokens: 16, stream: true });
    figures.webgpuStreamMs = Math.round(stream.ms);
    assert.ok(stream.done);
    assert.ok(stream.text.length > 20 && reference.text.startsWith(stream.text), JSON.stringify(stream.text));
  } finally {
    await gpu.close();
  }
});

test('two workers load one model into OPFS at once: one downloads, the other waits and opens the stored file', async () => {
  const fresh = await chromium.browser.newContext();
  try {
    const page = await fresh.newPage();
    await page.goto(`${server.url}?autoload=0&sw=0`);
    const results = await page.evaluate(async () => {
      const script = `import { openModel } from '${location.origin}/js/dist/index.js';
        onmessage = async () => {
          try {
            let ready = null;
            const source = await openModel('${location.origin}/models/stories260K-f32.gguf', { onProgress: (p) => { if (p.phase === 'ready' && p.storage) ready = p; } });
            const head = await source.read(0, 4);
            postMessage({ size: source.size, magic: new TextDecoder().decode(head), fromCache: ready?.fromCache, storage: ready?.storage });
          } catch (error) {
            postMessage({ error: error.name + ': ' + error.message });
          }
        };`;
      const url = URL.createObjectURL(new Blob([script], { type: 'text/javascript' }));
      const workers = [new Worker(url, { type: 'module' }), new Worker(url, { type: 'module' })];
      const answers = workers.map((w) => new Promise((resolve) => { w.onmessage = (e) => resolve(e.data); w.onerror = (e) => resolve({ error: e.message }); }));
      for (const w of workers) w.postMessage('go');
      return Promise.all(answers);
    });
    for (const r of results) {
      assert.equal(r.error, undefined, r.error);
      assert.equal(r.magic, 'GGUF');
      assert.equal(r.storage, 'opfs');
    }
    assert.equal(results[0].size, results[1].size);
    assert.deepEqual(results.map((r) => r.fromCache).sort(), [false, true]);
  } finally {
    await fresh.close();
  }
});

test('engine.forget() from a tab that does not host: the host\'s engine wipes the origin\'s storage', async () => {
  const fresh = await chromium.browser.newContext();
  try {
    const open = async () => {
      const page = await fresh.newPage();
      page.on('pageerror', (e) => process.stderr.write(`[page exception] ${e.stack ?? e.message}\n`));
      await page.goto(`${server.url}?engine=sw&backend=wasm`);
      await page.waitForFunction(() => window.tabllmChat?.loads >= 1, null, { timeout: 60_000, polling: 100 });
      return page;
    };
    const host = await open();
    const guest = await open();
    assert.deepEqual(await Promise.all([host, guest].map((p) => p.evaluate(() => window.tabllmChat.engine.host))), [true, false]);
    // A long prompt, so that the host's prefix cache stores pages (and the at-rest key) before forget().
    const answer = await plainFetch(guest, { ...CHAT, messages: [{ role: 'user', content: reference.prompt.repeat(20) }], max_tokens: 4 });
    assert.equal(answer.status, 200);
    // engine.metrics() in either tab is the host's engine's, which ran the guest's request.
    const [fromGuest, fromHost] = await Promise.all([guest, host].map((p) => p.evaluate(() => window.tabllmChat.engine.metrics())));
    assert.equal(fromGuest.requests, 1);
    assert.equal(fromGuest.history[0].prompt_tokens, answer.json.usage.prompt_tokens);
    assert.deepEqual(fromGuest.history, fromHost.history);
    const ours = (page) => page.evaluate(async () => {
      const opfs = [];
      for await (const [name] of (await navigator.storage.getDirectory()).entries()) if (name.startsWith('tabllm')) opfs.push(name);
      return { opfs: opfs.sort(), indexedDb: (await indexedDB.databases()).map((d) => d.name).filter((n) => n.startsWith('tabllm')),
        caches: (await caches.keys()).filter((n) => n.startsWith('tabllm')).length };
    });
    const before = await ours(guest);
    for (let i = 0; i < 50 && !before.opfs.includes('tabllm-kv'); i++) Object.assign(before, await ours(guest));  // pages are written in the background
    assert.ok(before.opfs.includes('tabllm-models') && before.opfs.includes('tabllm-kv') && before.indexedDb.includes('tabllm-keys') && before.caches > 0, JSON.stringify(before));
    await guest.evaluate(() => window.tabllmChat.engine.forget());
    assert.deepEqual(await ours(guest), { opfs: [], indexedDb: [], caches: 0 });
    // The host still answers (its model stays loaded).
    assert.equal((await plainFetch(guest, CHAT)).json.choices[0].message.content, reference.text);
  } finally {
    await fresh.close();
  }
});
