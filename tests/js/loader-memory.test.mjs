// The memory a model needs, checked from its header before the download: figures for real shapes, the
// choice under 'auto' when only WebGPU is too small, errors that say what would fit, and a URL refused after
// a range request for its first bytes, before any download (after it, from a server without ranges).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { createEngine } from '../../js/src/engine.mjs';
import { fitBackend, kvBytesPerToken, memoryNeed, modelShape } from '../../js/src/loader/memory.mjs';
import { storiesPath } from './api-env.mjs';

// A parsed header with just what the memory need reads.
function header(arch, meta, dataOffset = 4 << 20) {
  return { metadata: new Map([['general.architecture', arch], ...Object.entries(meta).map(([k, v]) => [`${arch}.${k}`, v])]), dataOffset };
}
const GB = 1e9;
// Phi-3.5-mini: 32 layers, 32 KV heads of 96, trained on 131072 positions; its Q4_K_M file is about 2.39 GB.
const phi = header('phi3', { block_count: 32, embedding_length: 3072, 'attention.head_count': 32, 'attention.head_count_kv': 32, context_length: 131072, vocab_size: 32064 });
const phiSize = 2.39 * GB;

test('memory need: weights, and the KV cache of every layer at the context, by cache type', () => {
  const shape = modelShape(phi, phiSize);
  assert.equal(kvBytesPerToken(shape, 'f32'), 32 * 32 * (96 + 96) * 4);
  assert.equal(kvBytesPerToken(shape), 32 * 32 * (96 + 96) * 2, 'f16, the default');
  assert.equal(kvBytesPerToken(shape, 'q8_0'), 32 * 32 * (96 + 96) * 36 / 32);
  assert.equal(memoryNeed(shape).kvCache * 2, memoryNeed(shape, 0, 'f32').kvCache);
  const need = memoryNeed(shape, 0, 'f32');
  assert.equal(need.context, 4096, 'the engine\'s default: the trained context up to 4096');
  assert.equal(need.kvCache, 4096 * 786432);
  assert.equal(need.weights, phiSize - (4 << 20));
  assert.equal(memoryNeed(shape, 1024, 'f32').kvCache, 1024 * 786432);
  // Qwen2.5-0.5B: grouped-query attention, 2 KV heads of 64, 24 layers.
  const qwen = modelShape(header('qwen2', { block_count: 24, embedding_length: 896, 'attention.head_count': 14, 'attention.head_count_kv': 2, context_length: 32768 }), 0.49 * GB);
  assert.equal(memoryNeed(qwen, 0, 'f32').kvCache, 4096 * 24 * 2 * 128 * 4);
});

test('a model too large for the WebAssembly heap is refused with a context and a file size that fit; under a kvBudget, its window counts', () => {
  assert.throws(() => fitBackend({ backend: 'wasm', reason: '' }, { header: phi, size: phiSize }), (e) => {
    assert.equal(e.code, 'memory');
    assert.match(e.message, /^this model does not fit in the WebAssembly backend: it needs 4\.07 GB \(weights 2\.39 GB \+ KV cache 1\.61 GB at context 4096\), more than the 4\.03 GB the WebAssembly heap can hold\. Choose a shorter context: contextSize 2048 fits; or a smaller quantization: a file of at most 3\.\d\d GB fits at context 2048/);
    return true;
  });
  // An f32 cache takes twice as much.
  assert.throws(() => fitBackend({ backend: 'wasm', reason: '' }, { header: phi, size: phiSize }, { kvType: 'f32' }), (e) => {
    assert.equal(e.code, 'memory');
    assert.match(e.message, /^this model does not fit in the WebAssembly backend: it needs 5\.\d\d GB \(weights 2\.39 GB \+ KV cache 3\.22 GB at context 4096\), more than the 4\.03 GB the WebAssembly heap can hold\. Choose a shorter context: contextSize 1024 fits; or a smaller quantization: a file of at most \d\.\d\d GB fits at context 2048/);
    return true;
  });
  assert.deepEqual(fitBackend({ backend: 'wasm', reason: 'r' }, { header: phi, size: phiSize }, { contextSize: 1024, kvType: 'f32' }), { backend: 'wasm', reason: 'r' });
  assert.deepEqual(fitBackend({ backend: 'wasm', reason: 'r' }, { header: phi, size: phiSize }, { contextSize: 2048 }), { backend: 'wasm', reason: 'r' });
  // Under a kvBudget the cache holds the budget's window: the whole context of 32K fits (its rows beyond go to storage).
  const budget = 256 * 2 ** 20;
  assert.equal(memoryNeed(modelShape(phi, phiSize), 32768, 'f16', budget).kvCache, 682 * 393216);
  assert.equal(memoryNeed(modelShape(phi, phiSize), 32768, 'f16', budget).kvPositions, 682);
  assert.deepEqual(fitBackend({ backend: 'wasm', reason: 'r' }, { header: phi, size: phiSize }, { contextSize: 32768, kvBudget: budget }), { backend: 'wasm', reason: 'r' });
  assert.throws(() => fitBackend({ backend: 'webgpu', reason: '' }, { header: phi, size: phiSize }, { contextSize: 32768, kvBudget: 4 * GB, gpuMemory: 4 * GB }),
    /KV cache 4\.00 GB at context 32768, a window of 10172 positions under the kvBudget\).*Choose a smaller kvBudget: \d+ bytes fit/);
});

test('the WebAssembly heap holds a 3B model in Q4_K_M at the default context; an 8B one is refused with what fits', () => {
  const llama = (layers, dim, ffn) => header('llama', { block_count: layers, embedding_length: dim, feed_forward_length: ffn, 'attention.head_count': dim / 128,
    'attention.head_count_kv': 8, context_length: 131072, vocab_size: 128256 }, 7 << 20);
  // Llama 3.2 3B Q4_K_M: 2.02 GB (bench/wasm-large-model.mjs loads and runs it), KV cache 0.94 GB at 4096.
  const small = { header: llama(28, 3072, 8192), size: 2.02 * GB };
  assert.equal(memoryNeed(modelShape(small.header, small.size)).kvCache, 4096 * 28 * 8 * 256 * 2);
  assert.deepEqual(fitBackend({ backend: 'wasm', reason: 'r' }, small), { backend: 'wasm', reason: 'r' });
  // Llama 3.1 8B Q4_K_M: 4.92 GB of weights alone are more than the heap.
  assert.throws(() => fitBackend({ backend: 'wasm', reason: '' }, { header: llama(32, 4096, 14336), size: 4.92 * GB }), (e) => {
    assert.equal(e.code, 'memory');
    assert.match(e.message, /^this model does not fit in the WebAssembly backend: it needs 5\.\d\d GB \(weights 4\.91 GB \+ KV cache 0\.54 GB at context 4096\), more than the 4\.03 GB the WebAssembly heap can hold\. Choose a smaller quantization: a file of at most 3\.\d\d GB fits at context 2048/);
    return true;
  });
});

test('auto: WebGPU too small for the model → WebAssembly, saying why; neither → one error (f32 caches)', () => {
  const report = { webgpu: { available: true, limits: { maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 31 } } };
  const qwen = header('qwen2', { block_count: 24, embedding_length: 896, 'attention.head_count': 14, 'attention.head_count_kv': 2, context_length: 32768 });
  const choice = fitBackend({ backend: 'webgpu', reason: 'adapter' }, { header: qwen, size: 0.49 * GB }, { auto: true, report, gpuMemory: 0.3 * GB, kvType: 'f32' });
  assert.equal(choice.backend, 'wasm');
  assert.match(choice.reason, /^WebGPU cannot hold the model \(it needs 0\.6\d GB .*, more than this device's estimated 0\.3\d GB\); running on the WebAssembly CPU backend instead$/);
  assert.equal(fitBackend({ backend: 'webgpu', reason: 'adapter' }, { header: qwen, size: 0.49 * GB }, { auto: true, report, gpuMemory: 8 * GB, kvType: 'f32' }).backend, 'webgpu');
  assert.throws(() => fitBackend({ backend: 'webgpu', reason: '' }, { header: phi, size: phiSize }, { auto: true, report, gpuMemory: 2 * GB, kvType: 'f32' }),
    /^ModelLoadError: this model does not fit on this device\. WebGPU: .*\. WebAssembly: .*\. Choose a shorter context/);
  // Asked for WebGPU (no capability report), gpuMemory still counts.
  assert.throws(() => fitBackend({ backend: 'webgpu', reason: '' }, { header: phi, size: phiSize }, { gpuMemory: 2 * GB, kvType: 'f32' }),
    /^ModelLoadError: this model does not fit in the WebGPU backend: it needs 5\.\d\d GB .*, more than this device's estimated 2\.00 GB\. Choose a smaller quantization: a file of at most 0\.\d\d GB fits at context 2048/);
  // One layer's KV cache beyond the adapter's largest buffer.
  const small = { webgpu: { available: true, limits: { maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 27 } } };
  assert.throws(() => fitBackend({ backend: 'webgpu', reason: '' }, { header: phi, size: phiSize }, { report: small, contextSize: 16384, kvType: 'f32' }),
    /exceeds the adapter's largest buffer \(0\.13 GB\)\. Choose a shorter context: contextSize 8192 fits/);
});

test('a URL whose model cannot fit is refused from its first bytes, before the download', async () => {
  // stories260K with 2 million layers: its KV cache alone is far beyond 4 GB.
  const bytes = fs.readFileSync(storiesPath());
  const key = bytes.indexOf('llama.block_count');
  assert.ok(key > 0);
  const valueAt = key + 'llama.block_count'.length + 4;  // after the key, its type (u32)
  assert.equal(bytes.readUInt32LE(valueAt), 5);
  bytes.writeUInt32LE(2_000_000, valueAt);
  const requests = [];
  let ranges = true;
  const server = http.createServer((req, res) => {
    requests.push(req.headers.range ?? 'whole');
    const m = ranges && /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) { res.writeHead(200, { 'Content-Length': String(bytes.length) }); return res.end(bytes); }
    const start = Number(m[1]);
    const end = Math.min(bytes.length - 1, m[2] ? Number(m[2]) : bytes.length - 1);
    res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${bytes.length}`, 'Content-Length': String(end - start + 1) });
    res.end(bytes.subarray(start, end + 1));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-memory-'));
  try {
    await assert.rejects(createEngine({ model: `http://127.0.0.1:${server.address().port}/deep.gguf`, backend: 'wasm', cacheDir }),
      (e) => e.code === 'memory' && /KV cache \d+\.\d\d GB at context 512/.test(e.message) && /Choose a smaller model/.test(e.message));
    assert.deepEqual(requests, ['bytes=0-1048575'], 'only the first bytes were asked for');
    assert.deepEqual(fs.readdirSync(cacheDir), [], 'nothing stored');

    // A server without range requests: the same check, once the model has arrived.
    ranges = false;
    requests.length = 0;
    await assert.rejects(createEngine({ model: `http://127.0.0.1:${server.address().port}/deep.gguf`, backend: 'wasm', cacheDir }), { code: 'memory' });
    assert.deepEqual(requests, ['bytes=0-1048575', 'whole']);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
