// Context shift and truncation on WebGPU in headless Chromium (SwiftShader), through the package in a page:
// a reply past the end of a small context (the core shifts the context; the executor runs the plan's
// shift list) gives the WebAssembly engine's tokens, and a 14-turn chat is answered under truncation
// "auto" and refused under "disabled" with a 400 that names truncation.
//
//   node --test --test-concurrency=1 tests/browser/context-shift.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { launchChromium, openPage, startServer } from './harness.mjs';
import { longChat } from '../js/api-env.mjs';
import { modelsDir, skipOrFail, storiesModel, wasmDir } from '../js/wasm_env.mjs';

const CONTEXT = 32;  // a reply crosses the context's end within a few dozen tokens (SwiftShader: a few per second)
let server, chromium, page;
let skip = null;

before(async () => {
  if (!fs.existsSync(path.join(wasmDir, 'tabllm-st.mjs'))) return void (skip = `${wasmDir}/tabllm-st.mjs is missing: run scripts/build-wasm.sh`);
  storiesModel('f32');
  server = await startServer({ mounts: { '/build-wasm/': wasmDir, '/models/': modelsDir } });
  try {
    chromium = await launchChromium();
  } catch (e) {
    return void (skip = e.message);
  }
  page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/engine.html`);
  page.setDefaultTimeout(300_000);
  const hasGpu = await page.evaluate(async () => !!(navigator.gpu && await navigator.gpu.requestAdapter()));
  if (!hasGpu) return void (skip = 'Chromium offers no WebGPU adapter (flags: see tests/browser/harness.mjs)');
  await page.evaluate(async (contextSize) => {
    const { createEngine } = await import('/js/src/index.mjs');
    const model = '/models/stories260K-f32.gguf';
    window.engines = {
      webgpu: await createEngine({ model, backend: 'webgpu', contextSize }),
      wasm: await createEngine({ model, backend: 'wasm', wasmVariant: 'single', contextSize }),
    };
  }, CONTEXT);
});

after(async () => {
  await chromium?.close();
  await server?.close();
});

test('chromium webgpu: 44 tokens at context 32 with the end tokens banned: two shifts, the WebAssembly engine\'s text', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const out = await page.evaluate(async () => {
    const req = { prompt: 'Once upon a time', max_tokens: 44, temperature: 0, logit_bias: { 1: -100, 2: -100 } };
    const gpu = await window.engines.webgpu.completions.create(req);
    const cpu = await window.engines.wasm.completions.create(req);
    return { gpu: gpu.choices[0].text, cpu: cpu.choices[0].text, usage: gpu.usage, finish: gpu.choices[0].finish_reason, backend: window.engines.webgpu.backend };
  });
  t.diagnostic(`${out.usage.timings.decode_tokens_per_s.toFixed(1)} tokens/s on WebGPU`);
  assert.equal(out.backend, 'webgpu');
  assert.equal(out.finish, 'length');
  assert.equal(out.usage.completion_tokens, 44);
  assert.equal(out.usage.context_shifts, 2);
  assert.equal(out.gpu, out.cpu);
});

test('chromium webgpu: a 14-turn chat is answered under truncation "auto", refused under "disabled" naming truncation', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const out = await page.evaluate(async (messages) => {
    const engine = window.engines.webgpu;
    const r = await engine.chat.completions.create({ messages, truncation: 'auto', max_tokens: 4, temperature: 0 });
    let refused = null;
    try {
      await engine.chat.completions.create({ messages, truncation: 'disabled', max_tokens: 4 });
    } catch (e) {
      refused = { status: e.status, code: e.code, message: e.message };
    }
    return { text: r.choices[0].message.content, usage: r.usage, refused };
  }, longChat());
  assert.ok(out.text.length > 0);
  assert.ok(out.usage.truncated_messages > 0 && out.usage.prompt_tokens + 4 <= CONTEXT, JSON.stringify(out.usage));
  assert.equal(out.refused?.status, 400);
  assert.equal(out.refused.code, 'context_length_exceeded');
  assert.match(out.refused.message, /truncation/);
});
