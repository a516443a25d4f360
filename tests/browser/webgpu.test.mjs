// The WebGPU backend in headless Chromium (WebGPU on SwiftShader), through playwright-core: the per-op parity
// cases of tests/webgpu-cases/ops.mjs, greedy stories260K F32 and Q8_0 equal to greedy_reference.jsonl (tokens,
// and the text generated through the engine's host-driven session), split bindings, device loss and the
// capability report; a nomic-bert encoder's embeddings on WebGPU equal the native scalar path's. The page is
// tests/browser/pages/blank.html; the code it runs,
// tests/browser/pages/webgpu-page.mjs. SwiftShader in Chromium runs a stories260K token in
// ~0.18 s on 2 cores; the whole file takes about 2 minutes.
import { nativeBuildDir, skipOrFail, modelsDir, synthModel, wasmDir } from '../js/wasm_env.mjs';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { launchChromium, openPage, startServer } from './harness.mjs';
import { opCases } from '../webgpu-cases/ops.mjs';
import { similarity } from '../../js/src/embeddings.mjs';

const STORIES_TOKENS = 64;  // the reference's length: ~12 s per type and test on SwiftShader
let server, chromium, page;
let skip = null;

before(async () => {
  if (!fs.existsSync(path.join(wasmDir, 'tabllm-dev.mjs'))) return void (skip = `${wasmDir}/tabllm-dev.mjs is missing: run scripts/build-wasm.sh`);
  server = await startServer({ mounts: { '/wasm-build/': wasmDir, '/models/': modelsDir } });
  try {
    chromium = await launchChromium();
  } catch (e) {
    return void (skip = e.message);
  }
  page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/blank.html`);
  const hasGpu = await page.evaluate(async () => !!(navigator.gpu && await navigator.gpu.requestAdapter()));
  if (!hasGpu) skip = 'Chromium offers no WebGPU adapter (flags: see tests/browser/harness.mjs)';
});

after(async () => {
  await chromium?.close();
  await server?.close();
});

/** Runs a case in the page; notes become test diagnostics, a missing input a skip (a failure under strict). */
async function inPage(t, fn, ...args) {
  if (skip) return skipOrFail(t, skip);
  const out = await page.evaluate(async ({ fn, args }) => {
    const m = await import('/tests/browser/pages/webgpu-page.mjs');
    return m[fn](...args);
  }, { fn, args });
  for (const line of out.notes ?? []) t.diagnostic(line);
  if (out.missing) return skipOrFail(t, out.missing);
  return out;
}

for (const { name } of opCases) {
  test(`chromium: ${name}`, (t) => inPage(t, 'runCase', 'ops', name));
}

// F32: the greedy loop chained on the GPU, then the host-driven session. Q8_0 differs from F32 only in the
// kernels that decode its weights, so one run (the host-driven session, every token read back) checks its
// tokens and its text: the chained loop is the same code for every type (Node runs it on Q8_0 too).
test(`chromium: stories260K f32 greedy ${STORIES_TOKENS} tokens on WebGPU equal the reference`, (t) =>
  inPage(t, 'runCase', 'model', 'stories', { type: 'f32', count: STORIES_TOKENS }));

for (const type of ['f32', 'q8_0']) {
  const what = type === 'q8_0' ? `greedy ${STORIES_TOKENS} tokens on WebGPU equal the reference, and the page prints its text` : 'on WebGPU prints the reference text in the page';
  test(`chromium: stories260K ${type} ${what}`, async (t) => {
    const out = await inPage(t, 'storiesText', type, STORIES_TOKENS);
    if (!out) return;
    t.diagnostic(`page text: ${JSON.stringify(out.text)}`);
    assert.equal(out.ids.length, STORIES_TOKENS, 'tokens of the host-driven session');
    assert.deepEqual(out.ids, out.referenceIds.slice(0, STORIES_TOKENS), 'tokens of the host-driven session');
    assert.equal(out.text, out.reference, 'the text printed in the page');
  });
}

test('chromium: split bindings under a 32 KiB binding limit give the same tokens', (t) => inPage(t, 'runCase', 'model', 'split'));

test('chromium: greedy under a regex response_format gives the CPU\'s tokens; nothing is created per token', (t) => inPage(t, 'runCase', 'model', 'constrainedRegex'));
test('chromium: device loss mid-generation is reported, and a reload on a new device generates correctly', (t) => inPage(t, 'runCase', 'model', 'deviceLoss'));

test('chromium: capability report and backend choice', async (t) => {
  const out = await inPage(t, 'capabilities');
  if (!out) return;
  const { report, choice, webgpuOnly, allowSoftware } = out;
  t.diagnostic(JSON.stringify({ adapter: report.webgpu.adapter, subgroups: report.webgpu.subgroups, shaderF16: report.webgpu.shaderF16, wasm: report.wasm }));
  assert.equal(report.host, 'browser');
  assert.equal(report.crossOriginIsolated, true, 'the harness serves COOP/COEP');
  assert.equal(report.webgpu.available, true);
  assert.ok(report.webgpu.limits.maxStorageBufferBindingSize > 0 && report.webgpu.limits.maxBufferSize > 0);
  assert.deepEqual(report.wasm, { webassembly: true, simd: true, threads: true });
  assert.ok(report.hardwareThreads >= 1);
  assert.equal(report.webgpu.adapter.software, true, 'SwiftShader is a software adapter');
  assert.equal(choice.backend, 'wasm');
  assert.match(choice.reason, /software/);
  assert.equal(webgpuOnly.backend, 'webgpu');
  assert.equal(allowSoftware.backend, 'webgpu');
});

test('chromium: a nomic-bert encoder on WebGPU through createEngine equals the native scalar embeddings', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const texts = ['the quick brown fox jumps over the lazy dog', 'a', 'search notes in the browser page, then rank them by meaning'];
  synthModel('tiny-nomic-bert', 'f32');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-embed-page-'));
  let native;
  try {
    fs.writeFileSync(path.join(dir, 'inputs.txt'), texts.join('\n') + '\n');
    native = JSON.parse(execFileSync(path.join(nativeBuildDir, 'bin/tabllm'), ['embed', '-m', path.join(modelsDir, 'tiny-nomic-bert-f32.gguf'),
      '--file', path.join(dir, 'inputs.txt'), '--kernels', 'scalar', '--threads', '1']).toString()).inputs;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // engine.html maps the package's npm dependency, so the page imports the engine from js/src.
  const enginePage = await openPage(chromium.browser, `${server.url}/tests/browser/pages/engine.html`);
  let out;
  try {
    out = await enginePage.evaluate(async ({ model, texts }) => {
      const m = await import('/tests/browser/pages/webgpu-page.mjs');
      return m.encoderEmbeddings(model, texts);
    }, { model: 'tiny-nomic-bert-f32', texts });
  } finally {
    await enginePage.close();
  }
  assert.equal(out.backend, 'webgpu');
  out.vectors.forEach((v, i) => {
    const cosine = similarity(v, native[i].embedding);
    assert.ok(cosine >= 0.9999, `input ${i}: cosine ${cosine}`);
  });
});
