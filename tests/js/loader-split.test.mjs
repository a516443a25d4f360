// Split GGUF models and Hugging Face references in the loader: stories260K split in 3 by `tabllm split`
// joins back into a file with the same tensors and bytes, loads from paths, Blobs and 3 URLs (resumed,
// SHA-256 per part), generates the same greedy tokens as the unsplit file (WebAssembly and WebGPU); "hf:"
// and {repo, file} become resolve/REVISION URLs, and the download path is served from a local copy under the
// same path.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { createEngine } from '../../js/src/engine.mjs';
import { readGgufHeader, tensorBytes } from '../../js/src/loader/gguf_header.mjs';
import { openModel, resolveModelReference, splitPartUrls } from '../../js/src/loader/index.mjs';
import { missingBuild } from './api-env.mjs';
import { nativeBuildDir, skipOrFail, storiesModel, modelsDir } from './wasm_env.mjs';

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-split-'));
const sha = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

// stories260K q8_0 split in 3 by the CLI: {whole, dir, paths, parts (bytes)}.
function splitStories() {
  storiesModel('q8_0');
  const whole = path.join(modelsDir, 'stories260K-q8_0.gguf');
  const dir = tempDir();
  const out = execFileSync(path.join(nativeBuildDir, 'bin/tabllm'), ['split', whole, '--parts', '3', '--out', path.join(dir, 'stories260K-q8_0')], { encoding: 'utf8' });
  const paths = out.trim().split('\n');
  return { whole, dir, paths, parts: paths.map((p) => fs.readFileSync(p)) };
}

const readHeader = (bytes, name) => readGgufHeader(async (o, n) => bytes.subarray(o, o + n), bytes.length, name);

async function readAll(source) {
  const chunks = [];
  for await (const chunk of source.chunks(50_000)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

// Every tensor of `a` has the same name, type, shape and bytes in `b`; the metadata matches too.
async function assertSameModel(aBytes, bBytes) {
  const a = await readHeader(aBytes, 'a');
  const b = await readHeader(bBytes, 'b');
  assert.deepEqual([...b.metadata.keys()].sort(), [...a.metadata.keys()].sort());
  assert.equal(b.tensors.length, a.tensors.length);
  for (const [i, t] of a.tensors.entries()) {
    const u = b.tensors[i];
    assert.deepEqual({ name: u.name, dims: u.dims, type: u.type }, { name: t.name, dims: t.dims, type: t.type });
    const n = tensorBytes(t);
    assert.ok(Buffer.from(bBytes.subarray(b.dataOffset + u.offset, b.dataOffset + u.offset + n)).equals(aBytes.subarray(a.dataOffset + t.offset, a.dataOffset + t.offset + n)), t.name);
  }
}

function serve(files) {
  const requests = [];
  const held = [];
  const server = http.createServer((req, res) => {
    const body = files[decodeURIComponent(new URL(req.url, 'http://x').pathname)];
    requests.push({ path: req.url, range: req.headers.range ?? null });
    if (!body) { res.writeHead(404); return res.end(); }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const headers = { 'Content-Type': 'application/octet-stream', ETag: `"${sha(body).slice(0, 16)}"`, 'Content-Length': String(body.length - start) };
    if (m) headers['Content-Range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(m ? 206 : 200, headers);
    if (files.cut?.(req.url, requests)) {  // half of it, then the connection stays open until drop()
      held.push(res);
      return res.write(body.subarray(start, start + Math.floor((body.length - start) / 2)));
    }
    res.end(body.subarray(start));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    base: `http://127.0.0.1:${server.address().port}`,
    requests,
    drop: () => { for (const res of held.splice(0)) res.destroy(); },  // the connection breaks mid-file
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  })));
}

test('tabllm split writes 3 parts with the split metadata of llama.cpp\'s gguf-split', async () => {
  const { whole, paths, parts } = splitStories();
  assert.deepEqual(paths.map((p) => path.basename(p)), ['stories260K-q8_0-00001-of-00003.gguf', 'stories260K-q8_0-00002-of-00003.gguf', 'stories260K-q8_0-00003-of-00003.gguf']);
  const original = await readHeader(fs.readFileSync(whole), 'whole');
  let tensors = 0;
  for (const [i, bytes] of parts.entries()) {
    const h = await readHeader(bytes, paths[i]);
    assert.equal(h.metadata.get('split.no'), i);
    assert.equal(h.metadata.get('split.count'), 3);
    assert.equal(h.metadata.get('split.tensors.count'), original.tensors.length);
    assert.equal(h.entries.find((e) => e.key === 'split.no').type, 2, 'split.no is a u16');
    assert.ok(h.tensors.length > 0);
    // The model's metadata is in the first part only.
    assert.equal(h.metadata.has('general.architecture'), i === 0);
    tensors += h.tensors.length;
  }
  assert.equal(tensors, original.tensors.length);
  const sizes = parts.map((p) => p.length);
  assert.ok(Math.max(...sizes) < fs.statSync(whole).size * 0.6, `parts of about equal size: ${sizes}`);
});

test('the parts from paths, in any order as Blobs, and from the first path alone join into the same model', async () => {
  const { whole, paths, parts } = splitStories();
  const wholeBytes = fs.readFileSync(whole);
  const fromFirst = await openModel(paths[0]);
  assert.equal(fromFirst.parts.length, 3);
  await assertSameModel(wholeBytes, await readAll(fromFirst));
  await fromFirst.close();

  const blobs = [2, 0, 1].map((i) => new File([parts[i]], path.basename(paths[i])));
  const fromBlobs = await openModel(blobs, { sha256: [2, 0, 1].map((i) => sha(parts[i])) });
  const joined = await readAll(fromBlobs);
  await assertSameModel(wholeBytes, joined);
  assert.deepEqual(Buffer.from(await fromBlobs.read(1000, 3000)), joined.subarray(1000, 4000), 'ranges read as the whole');

  const single = await openModel([whole]);  // a list of one file is that file
  assert.equal(single.size, wholeBytes.length);
  await single.close();
  await assert.rejects(openModel(paths[1]), /part 2 of a model split in 3: give the first part/);
  await assert.rejects(openModel(blobs.slice(0, 2)), /split in 3, but 2 parts were given/);
  await assert.rejects(openModel([blobs[0], blobs[0], blobs[1]]), /missing/);
  await assert.rejects(openModel(blobs[1]), /choose all 3 files together/);
  await assert.rejects(openModel(blobs, { sha256: sha(parts[0]) }), /array of 3 hashes/);
  await assert.rejects(openModel(blobs, { sha256: [sha(parts[2]), sha(parts[2]), sha(parts[1])] }), { code: 'integrity' });
});

test('a split model downloads from 3 URLs given the first, resumes a dropped part, checks each part\'s SHA-256 and reopens from storage', async () => {
  const { whole, paths, parts } = splitStories();
  const names = paths.map((p) => `/models/${path.basename(p)}`);
  let dropped = false;
  const files = Object.fromEntries(names.map((n, i) => [n, parts[i]]));
  files.cut = (url) => {  // the second part's first request is cut in half
    if (url !== names[1] || dropped) return false;
    dropped = true;
    return true;
  };
  const server = await serve(files);
  const cacheDir = tempDir();
  try {
    const first = `${server.base}${names[0]}`;
    assert.deepEqual(splitPartUrls(first), names.map((n) => `${server.base}${n}`));
    const events = [];
    const model = await openModel(first, {
      cacheDir, sha256: parts.map(sha), retryDelayMs: 1,
      onProgress: (p) => {
        events.push(p);
        if (p.part === 1 && p.phase === 'download') server.drop();  // once some of part 2 is stored
      },
    });
    await assertSameModel(fs.readFileSync(whole), await readAll(model));
    assert.deepEqual(model.parts.map((p) => p.storage), ['node-fs', 'node-fs', 'node-fs']);
    const resumed = server.requests.filter((r) => r.path === names[1]);
    assert.equal(resumed.length, 2);
    assert.match(resumed[1].range, /^bytes=\d+-$/);
    const total = parts.reduce((n, p) => n + p.length, 0);
    const last = events.filter((e) => e.phase === 'download').at(-1);
    assert.deepEqual([last.loaded, last.total, last.part, last.parts], [total, total, 2, 3]);
    assert.equal(events.at(-1).phase, 'ready');
    await model.close();

    const before = server.requests.length;
    const again = await openModel(first, { cacheDir, sha256: parts.map(sha) });
    assert.equal(server.requests.length, before, 'opened from storage');
    await assertSameModel(fs.readFileSync(whole), await readAll(again));
    await again.close();

    await assert.rejects(openModel(`${server.base}${names[0]}`, { cacheDir: tempDir(), sha256: [sha(parts[0]), sha(parts[0]), null] }), /SHA-256 mismatch for stories260K-q8_0-00002-of-00003.gguf/);
  } finally {
    await server.close();
  }
});

test('hf: and {repo, file} resolve to the resolve/REVISION URL', () => {
  assert.equal(resolveModelReference('hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf'),
    'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf');
  assert.equal(resolveModelReference({ repo: 'bartowski/Llama-3.2-1B-Instruct-GGUF', file: 'Llama-3.2-1B-Instruct-Q4_K_M.gguf', revision: 'v1.0' }),
    'https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/v1.0/Llama-3.2-1B-Instruct-Q4_K_M.gguf');
  assert.equal(resolveModelReference('hf:owner/repo/sub dir/model-00001-of-00002.gguf', { revision: 'refs/pr/3', hfEndpoint: 'https://hf-mirror.example/' }),
    'https://hf-mirror.example/owner/repo/resolve/refs%2Fpr%2F3/sub%20dir/model-00001-of-00002.gguf');
  assert.equal(resolveModelReference('https://example.org/m.gguf'), 'https://example.org/m.gguf', 'anything else is kept');
  assert.throws(() => resolveModelReference('hf:owner/model.gguf'), /write hf:owner\/repo\/file.gguf/);
  assert.throws(() => resolveModelReference({ repo: 'no-owner', file: 'm.gguf' }), /"owner\/name"/);
  assert.throws(() => resolveModelReference({ repo: 'a/b', file: '../m.gguf' }), /name the file inside the repository/);
  // A split model's first part on Hugging Face names the other parts.
  assert.deepEqual(splitPartUrls(resolveModelReference('hf:o/r/m-00001-of-00002.gguf')),
    ['https://huggingface.co/o/r/resolve/main/m-00001-of-00002.gguf', 'https://huggingface.co/o/r/resolve/main/m-00002-of-00002.gguf']);
});

test('an hf: model downloads from its resolve URL (a local copy under the same path) and answers like the file', async (t) => {
  const skip = missingBuild();
  if (skip) return skipOrFail(t, skip);
  const { whole, paths, parts } = splitStories();
  const files = { '/someone/stories-GGUF/resolve/main/stories260K-q8_0.gguf': fs.readFileSync(whole) };
  paths.forEach((p, i) => { files[`/someone/stories-GGUF/resolve/v2/${path.basename(p)}`] = parts[i]; });
  const server = await serve(files);
  const prompt = 'Once upon a time';
  const complete = async (model, extra = {}) => {
    const engine = await createEngine({ model, backend: 'wasm', wasmVariant: 'single', cacheDir: tempDir(), hfEndpoint: server.base, ...extra });
    try {
      const r = await engine.completions.create({ prompt, max_tokens: 24, temperature: 0, logprobs: 0 });
      return r.choices[0].logprobs.tokens;
    } finally {
      await engine.unload();
    }
  };
  try {
    const expected = await complete(whole);
    assert.equal(expected.length, 24);
    assert.deepEqual(await complete('hf:someone/stories-GGUF/stories260K-q8_0.gguf'), expected);
    assert.deepEqual(await complete(paths[0]), expected, 'the split file, from its first path');
    assert.deepEqual(await complete(paths[0], { backend: 'webgpu' }), expected, 'the split file on WebGPU');
    assert.deepEqual(await complete({ repo: 'someone/stories-GGUF', file: path.basename(paths[0]) }, { revision: 'v2' }), expected, 'the split file, from 3 URLs');
    assert.ok(server.requests.some((r) => r.path === '/someone/stories-GGUF/resolve/v2/stories260K-q8_0-00003-of-00003.gguf'));
  } finally {
    await server.close();
  }
});
