// The model loader in Chromium, on a page and in a Web Worker (where the demo's engine runs it): the
// download goes to OPFS, an interrupted one continues from the stored part with a range request on the next
// visit, a stored model opens with the server gone, and the stored-model API lists and deletes it.
//
//   node --test --test-concurrency=1 tests/browser/chat-storage.test.mjs
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchChromium, repoRoot } from './harness.mjs';

const model = fs.readFileSync(path.join(repoRoot, 'build/models/stories260K-q8_0.gguf'));
const modelSha = crypto.createHash('sha256').update(model).digest('hex');
const CUT = 120_000;

// The loader's files, a blank page, a worker running a script the test passes, and the model, which is cut
// off after CUT bytes while `cutting` is set and answers 503 while `down` is set.
const behaviour = { cutting: false, down: false, requests: [] };
function startServer() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/model.gguf') {
      behaviour.requests.push(req.headers.range ?? null);
      if (behaviour.down) return res.writeHead(503).end();
      const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(model.length - start), ETag: '"m1"' };
      if (req.headers.range) headers['Content-Range'] = `bytes ${start}-${model.length - 1}/${model.length}`;
      res.writeHead(req.headers.range ? 206 : 200, headers);
      if (!behaviour.cutting) return res.end(model.subarray(start));
      return res.write(model.subarray(start, CUT), () => setTimeout(() => res.destroy(), 300));
    }
    if (url.pathname === '/') return res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>loader</title>');
    if (url.pathname === '/worker.mjs') {
      return res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(`
        import * as loader from '/js/src/loader/index.mjs';
        onmessage = async ({ data }) => {
          try { postMessage({ ok: await (new Function('loader', 'args', 'return (async () => {' + data.body + '})()'))(loader, data.args) }); }
          catch (e) { postMessage({ error: e.message }); }
        };`);
    }
    const file = path.join(repoRoot, path.normalize(url.pathname));
    // The loader's modules, and the package modules they import (js/src/node_only.mjs).
    if (!url.pathname.startsWith('/js/src/') || !fs.existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(fs.readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let server;
let chromium;
let base;
before(async () => {
  server = await startServer();
  base = `http://127.0.0.1:${server.address().port}`;
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
  server?.closeAllConnections();
  server?.close();
});

// The steps of one scenario, run either on the page or in a worker of it.
const SCENARIO = {
  async interrupted({ url }) {
    try {
      await loader.openModel(url, { maxRetries: 0 });
      return { error: null };
    } catch (e) {
      return { error: e.message, list: await loader.listCachedModels() };
    }
  },
  async resumed({ url, sha256 }) {
    const events = [];
    const m = await loader.openModel(url, { sha256, onProgress: (p) => events.push(p) });
    const parts = [];
    for await (const chunk of m.chunks(65536)) parts.push(chunk);
    const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
    const digest = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
    return { storage: m.storage, size: m.size, digest, download: m.download, last: events.at(-1) };
  },
  async offline({ url, sha256 }) {
    const m = await loader.openModel(url, { sha256 });
    const head = new TextDecoder().decode(await m.read(0, 4));
    const list = await loader.listCachedModels();
    const deleted = await loader.deleteCachedModel(url);
    return { storage: m.storage, head, list, deleted, after: await loader.listCachedModels() };
  },
};
const body = (fn) => {
  const text = fn.toString();
  return `const [url, sha256] = [args.url, args.sha256]; return (${text.replace(/^async \w+/, 'async function')})(args);`;
};

async function runScenario(where) {
  const context = await chromium.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/`);
  const run = (name, args) => page.evaluate(async ({ code, args, where }) => {
    if (where === 'page') {
      const loader = await import('/js/src/loader/index.mjs');
      return (new Function('loader', 'args', `return (async () => {${code}})()`))(loader, args);
    }
    window.worker ??= new Worker('/worker.mjs', { type: 'module' });
    return new Promise((resolve, reject) => {
      window.worker.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve(data.ok));
      window.worker.postMessage({ body: code, args });
    });
  }, { code: body(SCENARIO[name]), args, where });
  const url = `${base}/model.gguf`;
  try {
    behaviour.requests = [];
    behaviour.cutting = true;
    behaviour.down = false;
    const first = await run('interrupted', { url });
    assert.match(first.error, /stopped after 0\.0001 GB of 0\.0003 GB/);
    assert.deepEqual(first.list.map((m) => [m.url, m.complete, m.stored, m.storage]), [[url, false, CUT, 'opfs']]);

    behaviour.cutting = false;
    const second = await run('resumed', { url, sha256: modelSha });
    assert.equal(behaviour.requests.at(-1), `bytes=${CUT}-`);
    assert.equal(second.storage, 'opfs');
    assert.equal(second.size, model.length);
    assert.equal(second.digest, modelSha);
    assert.equal(second.download.resumedFrom, CUT);
    assert.equal(second.last.phase, 'ready');

    behaviour.down = true;
    const requestsBefore = behaviour.requests.length;
    const third = await run('offline', { url, sha256: modelSha });
    assert.equal(behaviour.requests.length, requestsBefore, 'a stored model must not touch the network');
    assert.equal(third.storage, 'opfs');
    assert.equal(third.head, 'GGUF');
    assert.deepEqual(third.list.map((m) => [m.url, m.complete, m.size, m.sha256]), [[url, true, model.length, modelSha]]);
    assert.equal(third.deleted, true);
    assert.deepEqual(third.after, []);
  } finally {
    await context.close();
  }
}

test('on a page, the Cache Storage fallback: stored whole, reopened offline, listed and deleted', async () => {
  const context = await chromium.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/`);
  const url = `${base}/model.gguf`;
  try {
    behaviour.cutting = false;
    behaviour.down = false;
    const first = await page.evaluate(async ({ url, sha256 }) => {
      const loader = await import('/js/src/loader/index.mjs');
      const m = await loader.openModel(url, { sha256, storage: 'cache-storage', retryDelayMs: 1 });
      return { storage: m.storage, size: m.size, head: new TextDecoder().decode(await m.read(0, 4)) };
    }, { url, sha256: modelSha });
    assert.deepEqual(first, { storage: 'cache-storage', size: model.length, head: 'GGUF' });

    behaviour.down = true;
    const requestsBefore = behaviour.requests.length;
    const second = await page.evaluate(async ({ url, sha256 }) => {
      const loader = await import('/js/src/loader/index.mjs');
      const m = await loader.openModel(url, { sha256, storage: 'cache-storage' });
      const tail = await m.read(m.size - 8, 8);
      const list = await loader.listCachedModels({ storage: 'cache-storage' });
      const deleted = await loader.deleteCachedModel(url, { storage: 'cache-storage' });
      return { storage: m.storage, tail: [...tail], list, deleted, after: await loader.listCachedModels({ storage: 'cache-storage' }) };
    }, { url, sha256: modelSha });
    assert.equal(behaviour.requests.length, requestsBefore, 'a stored model must not touch the network');
    assert.equal(second.storage, 'cache-storage');
    assert.deepEqual(second.tail, [...model.subarray(model.length - 8)]);
    assert.deepEqual(second.list.map((m) => [m.url, m.size, m.sha256, m.complete]), [[url, model.length, modelSha, true]]);
    assert.equal(second.deleted, true);
    assert.deepEqual(second.after, []);
  } finally {
    await context.close();
  }
});

test('on a page: OPFS store, resume on the next visit, offline reopen, list and delete', () => runScenario('page'));
test('in a Web Worker (sync access handles): the same', () => runScenario('worker'));
