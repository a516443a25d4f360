// The model loader in Node: paths, Blobs, URLs with progress, range requests, resume after a dropped
// connection (within a load and across loads), SHA-256 checks, error messages, the stored-model API.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { deleteCachedModel, listCachedModels, openModel, Sha256 } from '../../js/src/loader/index.mjs';

const repo = path.resolve(import.meta.dirname, '../..');
const MODEL = path.join(repo, 'build/models/stories260K-q8_0.gguf');
const modelBytes = fs.readFileSync(MODEL);
const modelSha = crypto.createHash('sha256').update(modelBytes).digest('hex');

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-loader-'));

// A file server with Range support; `cutAfter(request index) → bytes` ends a response early by destroying the socket.
async function serve(body, { cutAfter = () => null, ignoreRange = false, contentType = 'application/octet-stream', status = 200 } = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const index = requests.length;
    requests.push({ range: req.headers.range ?? null, ifRange: req.headers['if-range'] ?? null });
    if (status !== 200) {
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      return res.end('no such model');
    }
    let start = 0;
    const headers = { 'Content-Type': contentType, ETag: '"v1"', 'Accept-Ranges': 'bytes' };
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !ignoreRange) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
        return res.end();
      }
      headers['Content-Range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    }
    headers['Content-Length'] = String(body.length - start);
    res.writeHead(start > 0 || (m && !ignoreRange) ? 206 : 200, headers);
    const cut = cutAfter(index);
    if (cut === null) return res.end(body.subarray(start));
    res.write(body.subarray(start, start + cut), () => setTimeout(() => res.destroy(), 20));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/models/stories260K-q8_0.gguf`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

async function readAll(source) {
  const parts = [];
  for await (const chunk of source.chunks(100_000)) parts.push(chunk);
  return Buffer.concat(parts);
}

test('SHA-256 matches node:crypto for any split of the input', () => {
  for (const n of [0, 1, 55, 56, 64, 65, 1000, 70_001]) {
    const bytes = crypto.randomBytes(n);
    const hash = new Sha256();
    for (let i = 0; i < n; i += 37) hash.update(bytes.subarray(i, i + 37));
    assert.equal(hash.hex(), crypto.createHash('sha256').update(bytes).digest('hex'), `${n} bytes`);
  }
});

test('a path and a Blob are read by ranges', async () => {
  const file = await openModel(MODEL);
  assert.equal(file.size, modelBytes.length);
  assert.equal(file.name, 'stories260K-q8_0.gguf');
  assert.deepEqual(Buffer.from(await file.read(1000, 4096)), modelBytes.subarray(1000, 5096));
  assert.deepEqual(await readAll(file), modelBytes);
  await assert.rejects(file.read(file.size - 2, 4), /outside/);
  await file.close();

  const blob = await openModel(new Blob([modelBytes]), { sha256: modelSha });
  assert.equal(blob.sha256, modelSha);
  assert.deepEqual(Buffer.from(await blob.read(123, 77)), modelBytes.subarray(123, 200));
  await assert.rejects(openModel('/no/such/model.gguf'), /does not exist/);
  await assert.rejects(openModel(new Blob(['{"not": "a model"}'])), /is not a GGUF file/);
});

test('a URL downloads with progress, is stored, then opens from storage without the network', async () => {
  const server = await serve(modelBytes);
  const cacheDir = tempDir();
  try {
    const events = [];
    const model = await openModel(server.url, { cacheDir, sha256: modelSha, onProgress: (p) => events.push(p) });
    assert.equal(model.storage, 'node-fs');
    assert.equal(model.sha256, modelSha);
    assert.deepEqual(await readAll(model), modelBytes);
    const downloads = events.filter((e) => e.phase === 'download');
    assert.ok(downloads.length >= 1);
    assert.equal(downloads.at(-1).loaded, modelBytes.length);
    assert.equal(downloads.at(-1).total, modelBytes.length);
    assert.ok(downloads.every((e, i) => i === 0 || e.loaded >= downloads[i - 1].loaded));
    assert.ok(downloads.at(-1).bytesPerSecond > 0);
    assert.equal(events.at(-1).phase, 'ready');
    assert.equal(events.at(-1).fromCache, false);
    await model.close();

    await server.close();  // offline from here
    const again = [];
    const cached = await openModel(server.url, { cacheDir, sha256: modelSha, onProgress: (p) => again.push(p) });
    assert.deepEqual(await readAll(cached), modelBytes);
    assert.equal(again.at(-1).fromCache, true);
    await cached.close();

    const list = await listCachedModels({ cacheDir });
    assert.deepEqual(list.map((m) => [m.url, m.size, m.sha256, m.complete]), [[server.url, modelBytes.length, modelSha, true]]);
    assert.equal(await deleteCachedModel(server.url, { cacheDir }), true);
    assert.deepEqual(await listCachedModels({ cacheDir }), []);
    await assert.rejects(openModel(server.url, { cacheDir, retryDelayMs: 1, maxRetries: 1 }), /could not reach .*Check the URL/);
  } finally {
    await server.close();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

test('a dropped connection resumes with Range: bytes=N- (hash still right)', async () => {
  const cuts = [50_000, 120_000];  // the first two responses end early
  const server = await serve(modelBytes, { cutAfter: (i) => cuts[i] ?? null });
  const cacheDir = tempDir();
  try {
    const model = await openModel(server.url, { cacheDir, sha256: modelSha, retryDelayMs: 1 });
    assert.deepEqual(await readAll(model), modelBytes);
    assert.deepEqual(server.requests.map((r) => r.range), [null, 'bytes=50000-', 'bytes=170000-']);
    assert.equal(server.requests[1].ifRange, '"v1"');
    assert.equal(model.download.requests, 3);
    await model.close();
  } finally {
    await server.close();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

test('an interrupted load continues on the next one, from the stored part', async () => {
  const cacheDir = tempDir();
  let cutting = true;
  const server = await serve(modelBytes, { cutAfter: () => (cutting ? 100_000 : null) });
  try {
    await assert.rejects(openModel(server.url, { cacheDir, maxRetries: 0 }), /download of .* stopped after 0\.0001 GB of 0\.0003 GB .*What arrived is kept/);
    const [partial] = await listCachedModels({ cacheDir });
    assert.equal(partial.complete, false);
    assert.equal(partial.stored, 100_000);
    assert.equal(partial.size, modelBytes.length);

    cutting = false;
    const model = await openModel(server.url, { cacheDir, sha256: modelSha });
    assert.equal(server.requests.at(-1).range, 'bytes=100000-');
    assert.equal(model.download.resumedFrom, 100_000);
    assert.equal(model.sha256, modelSha);
    assert.deepEqual(await readAll(model), modelBytes);
    await model.close();
  } finally {
    await server.close();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

test('the server ignoring Range restarts from the first byte', async () => {
  const server = await serve(modelBytes, { cutAfter: (i) => (i === 0 ? 60_000 : null), ignoreRange: true });
  const cacheDir = tempDir();
  try {
    const model = await openModel(server.url, { cacheDir, sha256: modelSha, retryDelayMs: 1 });
    assert.deepEqual(await readAll(model), modelBytes);
    assert.equal(server.requests[1].range, 'bytes=60000-');
  } finally {
    await server.close();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

test('a SHA-256 mismatch says what was expected and deletes the stored copy', async () => {
  const server = await serve(modelBytes);
  const cacheDir = tempDir();
  try {
    const wrong = 'ab'.repeat(32);
    await assert.rejects(openModel(server.url, { cacheDir, sha256: wrong }), (error) => {
      assert.equal(error.code, 'integrity');
      assert.match(error.message, new RegExp(`expected ${wrong}, got ${modelSha}`));
      assert.match(error.message, /GB\)/);
      assert.match(error.message, /stored copy was deleted/);
      return true;
    });
    assert.deepEqual(await listCachedModels({ cacheDir }), []);
    await assert.rejects(openModel(server.url, { cacheDir, sha256: 'xyz' }), /64 hexadecimal digits/);
  } finally {
    await server.close();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

test('HTTP errors, HTML pages and non-GGUF bodies are clear errors and store nothing', async () => {
  const cacheDir = tempDir();
  const missing = await serve(modelBytes, { status: 404 });
  const html = await serve(Buffer.from('<!doctype html><p>hi</p>'), { contentType: 'text/html' });
  const text = await serve(Buffer.from('hello, this is not a model'));
  try {
    await assert.rejects(openModel(missing.url, { cacheDir }), /HTTP 404 Not Found\. Check the URL/);
    await assert.rejects(openModel(html.url, { cacheDir }), /HTML page, not a GGUF file/);
    await assert.rejects(openModel(text.url, { cacheDir }), /is not a GGUF file \(it starts with "hell"/);
    assert.deepEqual(await listCachedModels({ cacheDir }), []);
  } finally {
    await Promise.all([missing.close(), html.close(), text.close()]);
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

test('running out of storage is a QuotaExceededError turned into sizes in GB and what to do', async () => {
  const server = await serve(modelBytes);
  const { MemoryPart } = await import('../../js/src/loader/store_memory.mjs');
  const store = {
    kind: 'test',
    complete: async () => null,
    estimate: async () => ({ quota: 2e9, usage: 1.5e9 }),
    open: async (url) => Object.assign(new MemoryPart(url), {
      async write() { throw new DOMException('quota', 'QuotaExceededError'); },
    }),
  };
  try {
    await assert.rejects(openModel(server.url, { store }), (error) => {
      assert.equal(error.code, 'quota');
      assert.match(error.message, /not enough storage to keep stories260K-q8_0\.gguf \(0\.0003 GB\)/);
      assert.match(error.message, /may store 2\.00 GB and already uses 1\.50 GB/);
      assert.match(error.message, /deleteCachedModel/);
      assert.match(error.message, /cache: false/);
      return true;
    });
    store.estimate = async () => ({ quota: 1e9, usage: 1e9 });  // known too small before any byte is written
    await assert.rejects(openModel(server.url, { store }), /not enough storage/);
  } finally {
    await server.close();
  }
});

test('cache: false keeps the download in memory and an AbortSignal stops it', async () => {
  const server = await serve(modelBytes);
  try {
    const model = await openModel(server.url, { cache: false });
    assert.equal(model.storage, 'memory');
    assert.deepEqual(await readAll(model), modelBytes);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(openModel(server.url, { cache: false, signal: controller.signal }), { name: 'AbortError' });
  } finally {
    await server.close();
  }
});
