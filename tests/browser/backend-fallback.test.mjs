// backend 'auto' in Chromium when WebGPU fails: the device lost while the weights upload (WebGPU on
// SwiftShader), and a browser without WebGPU at all. Both answer on WebAssembly and say why.
//
//   node --test --test-concurrency=1 tests/browser/backend-fallback.test.mjs
// (The second test starts Chromium without the harness's WebGPU flags.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { CHROMIUM, launchChromium, openPage, sharedRoot, startServer } from './harness.mjs';
import { modelsDir, skipOrFail, storiesModel, wasmDir } from '../js/wasm_env.mjs';

const reference = JSON.parse(fs.readFileSync(path.join(sharedRoot, 'models/stories260K/greedy_reference.jsonl'), 'utf8').split('\n')[0]);

// Loads stories260K with backend 'auto' in a page and asks it for the reference's continuation.
async function autoInPage(page, { loseDevice }) {
  return page.evaluate(async ({ loseDevice, prompt }) => {
    const { createEngine } = await import('/js/src/index.mjs');
    let device;
    if (loseDevice) {
      const adapter = await navigator.gpu.requestAdapter();
      device = await adapter.requestDevice();
    }
    let uploads = 0;
    const phases = [];
    const engine = await createEngine({
      model: '/models/stories260K-f32.gguf', backend: 'auto', allowSoftwareAdapter: true, wasmVariant: 'single', device, contextSize: 256,
      onProgress: (p) => {
        if (!phases.includes(p.phase)) phases.push(p.phase);
        if (loseDevice && p.phase === 'upload' && ++uploads === 1) device.destroy();
      },
    });
    const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: prompt }], temperature: 0, max_tokens: 8 });
    const adapter = await navigator.gpu?.requestAdapter();
    const out = { backend: engine.backend, reason: engine.backendReason, text: r.choices[0].message.content, phases, hasAdapter: !!adapter };
    await engine.unload();
    return out;
  }, { loseDevice, prompt: reference.prompt });
}

// Chromium as the harness starts it (WebGPU on SwiftShader), or without its WebGPU flags (no adapter).
async function launch(webgpu) {
  if (webgpu) return launchChromium();
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  return { browser, close: () => browser.close() };
}

async function withPage(t, webgpu, fn) {
  if (!fs.existsSync(path.join(wasmDir, 'tabllm-st.mjs'))) return skipOrFail(t, `${wasmDir}/tabllm-st.mjs is missing: run scripts/build-wasm.sh`);
  storiesModel('f32');
  const server = await startServer({ mounts: { '/build-wasm/': wasmDir, '/models/': modelsDir } });
  let chromium;
  try {
    chromium = await launch(webgpu);
    const page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/engine.html`);
    page.setDefaultTimeout(120_000);
    await fn(page);
  } finally {
    await chromium?.close();
    await server.close();
  }
}

test('Chromium, auto: the GPU device lost during the upload → WebAssembly, and backendReason says why', (t) => withPage(t, true, async (page) => {
  const hasAdapter = await page.evaluate(async () => !!(navigator.gpu && await navigator.gpu.requestAdapter()));
  if (!hasAdapter) return skipOrFail(t, 'Chromium offers no WebGPU adapter (flags: see tests/browser/harness.mjs)');
  const out = await autoInPage(page, { loseDevice: true });
  assert.deepEqual(out.phases.filter((p) => p === 'upload' || p === 'load'), ['upload', 'load'], 'WebGPU was tried, then WebAssembly loaded the model');
  assert.equal(out.backend, 'wasm');
  assert.match(out.reason, /^WebGPU could not load the model \(.*device was lost.*\); running on the WebAssembly CPU backend instead$/);
  assert.ok(reference.text.startsWith(out.text) && out.text.length > 15, out.text);
}));

test('Chromium without WebGPU, auto: answers on WebAssembly and says WebGPU is missing', (t) => withPage(t, false, async (page) => {
  const out = await autoInPage(page, { loseDevice: false });
  assert.equal(out.hasAdapter, false, 'without the WebGPU flags Chromium offers no adapter here');
  assert.equal(out.backend, 'wasm');
  assert.match(out.reason, /^WebGPU is not available \((this browser does not expose WebGPU|navigator\.gpu\.requestAdapter\(\) returned no adapter).*\); using the WebAssembly CPU/);
  assert.ok(reference.text.startsWith(out.text) && out.text.length > 15, out.text);
}));
