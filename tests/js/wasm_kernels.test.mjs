// The WebAssembly SIMD128 matrix products op by op against exact products of the dequantized weights, on
// ragged tiles (tests/js/wasm_kernel_cases.mjs says which shapes and what bound). Node has no relaxed SIMD;
// tests/browser/wasm-kernels.test.mjs runs the same cases in Chromium on both levels.
// Needs the development module of the WebAssembly build (TABLLM_WASM_DIR, default build-wasm: tabllm-dev.mjs).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { DevAbi, hasDevExports } from '../../js/src/core/dev.mjs';
import { CASE_TYPES, quadNeighbours, raggedShapeErrors } from './wasm_kernel_cases.mjs';
import { skipOrFail, wasmDir } from './wasm_env.mjs';

let abi = null;
let skip = null;

before(async () => {
  const file = path.join(wasmDir, 'tabllm-dev.mjs');
  if (!fs.existsSync(file)) return void (skip = `${file} is missing: run scripts/build-wasm.sh`);
  const { default: createModule } = await import(pathToFileURL(file));
  const module = await createModule();
  if (!hasDevExports(module) || typeof module._tabllm_simd_use !== 'function') {
    return void (skip = `${file} is not the development module of this build: run scripts/build-wasm.sh`);
  }
  abi = new DevAbi(module);
  abi.useSimdLevel('wasm-simd128');
});

for (const type of CASE_TYPES) {
  test(`${type}: SIMD128 products within the 8-bit activation bound on ragged tiles`, (t) => {
    if (skip) return skipOrFail(t, skip);
    const worst = raggedShapeErrors(abi, type);
    t.diagnostic(`worst error / bound over rows x tokens: ${Math.max(...Object.values(worst)).toFixed(3)}`);
    for (const [shape, ratio] of Object.entries(worst)) assert.ok(ratio <= 1, `${type} rows x tokens ${shape}: error / bound ${ratio}`);
  });
}

test('the products of a quad do not depend on the tokens beside it', (t) => {
  if (skip) return skipOrFail(t, skip);
  const { alone, among } = quadNeighbours(abi, 'q4_0');
  assert.deepEqual(among, alone);
});
