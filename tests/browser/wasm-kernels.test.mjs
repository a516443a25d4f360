// The WebAssembly CPU kernels in headless Chromium, on both SIMD levels it runs: SIMD128 and relaxed SIMD
// (prefill of the unsigned formats through core/backend/cpu/kernels_wasm_relaxed.wat). The cases are
// tests/js/wasm_kernel_cases.mjs (Node runs them on SIMD128 alone: it has no relaxed SIMD).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { skipOrFail, wasmDir } from '../js/wasm_env.mjs';
import { CASE_TYPES } from '../js/wasm_kernel_cases.mjs';
import { launchChromium, openPage, startServer } from './harness.mjs';

const LEVELS = ['wasm-simd128', 'wasm-relaxed-simd'];
let server, chromium, page;
let skip = null;

before(async () => {
  if (!fs.existsSync(path.join(wasmDir, 'tabllm-dev.mjs'))) return void (skip = `${wasmDir}/tabllm-dev.mjs is missing: run scripts/build-wasm.sh`);
  server = await startServer({ mounts: { '/wasm-build/': wasmDir } });
  try {
    chromium = await launchChromium();
  } catch (e) {
    return void (skip = e.message);
  }
  page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/blank.html`);
});

after(async () => {
  await chromium?.close();
  await server?.close();
});

async function inPage(fn, ...args) {
  return page.evaluate(async ({ fn, args }) => (await import('/tests/browser/pages/wasm-kernels-page.mjs'))[fn](...args), { fn, args });
}

test('chromium: the engine runs relaxed SIMD and says so', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const levels = await inPage('levels');
  t.diagnostic(`levels: ${levels.join(', ')}`);
  assert.deepEqual(levels, ['scalar', ...LEVELS]);
});

for (const level of LEVELS) {
  for (const type of CASE_TYPES) {
    test(`chromium ${level}: ${type} products within the 8-bit activation bound on ragged tiles`, async (t) => {
      if (skip) return skipOrFail(t, skip);
      const worst = await inPage('errors', level, type);
      t.diagnostic(`worst error / bound over rows x tokens: ${Math.max(...Object.values(worst)).toFixed(3)}`);
      for (const [shape, ratio] of Object.entries(worst)) assert.ok(ratio <= 1, `${type} rows x tokens ${shape}: error / bound ${ratio}`);
    });
  }
  test(`chromium ${level}: the products of a quad do not depend on the tokens beside it`, async (t) => {
    if (skip) return skipOrFail(t, skip);
    for (const type of ['q4_0', 'q6_k']) {
      const { alone, among } = await inPage('neighbours', level, type);
      assert.deepEqual(among, alone, type);
    }
  });
}
