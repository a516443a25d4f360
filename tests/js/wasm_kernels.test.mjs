// The WebAssembly SIMD128 matrix products op by op against exact products of the dequantized weights, on
// shapes that leave the prefill tiles ragged: token counts and row counts that are not multiples of the
// 4 x 4 tile (1 token takes the decode kernel, 2-3 a padded quad, 5-9 a full quad and a ragged one), and
// K-quants with several super-blocks. The bound is that of 8-bit activations (bench/kernels/kernel_parity.cpp,
// tests/cpp/test_kernels.cpp): per 32-block, |x| max / 254 times the sum of |w|, plus float rounding.
// Needs the development module of the WebAssembly build (TABLLM_WASM_DIR, default build-wasm: tabllm-dev.mjs).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { DevAbi, hasDevExports } from '../../js/src/core/dev.mjs';
import { TYPES } from '../webgpu-cases/ops.mjs';
import { skipOrFail, wasmDir } from './wasm_env.mjs';

let abi = null;
let skip = null;

before(async () => {
  const file = path.join(wasmDir, 'tabllm-dev.mjs');
  if (!fs.existsSync(file)) return void (skip = `${file} is missing: run scripts/build-wasm.sh`);
  const { default: createModule } = await import(pathToFileURL(file));
  const module = await createModule();
  if (!hasDevExports(module) || typeof module._tabllm_simd_matmul !== 'function') {
    return void (skip = `${file} is not the development module of this build: run scripts/build-wasm.sh`);
  }
  abi = new DevAbi(module);
});

// Normal activations (Box-Muller over xorshift32), deterministic.
function activations(n, seed) {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return (s + 1) / 4294967297;
  };
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
}

// Worst |simd - exact| / bound over all outputs.
function worstErrorRatio(type, rows, cols, nTokens, seed) {
  const { id } = TYPES[type];
  const weights = abi.randomWeights(id, rows, cols, seed);
  const w = abi.dequantize(id, weights, rows * cols);
  const x = activations(cols * nTokens, seed + 1);
  const y = abi.simdMatmul(id, weights, rows, cols, x, nTokens);
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    for (let t = 0; t < nTokens; t++) {
      let exact = 0, magnitude = 0, actBound = 0;
      for (let b = 0; b < cols; b += 32) {
        let amax = 0, wsum = 0;
        for (let k = b; k < b + 32; k++) {
          const p = w[r * cols + k] * x[t * cols + k];
          exact += p;
          magnitude += Math.abs(p);
          amax = Math.max(amax, Math.abs(x[t * cols + k]));
          wsum += Math.abs(w[r * cols + k]);
        }
        actBound += (amax / 254) * wsum;
      }
      const bound = 1.01 * actBound + 1e-5 * magnitude + 1e-30;
      const got = y[t * rows + r];
      assert.ok(Number.isFinite(got), `${type} ${rows}x${cols}, ${nTokens} tokens: y[${t}][${r}] = ${got}`);
      worst = Math.max(worst, Math.abs(got - exact) / bound);
    }
  }
  return worst;
}

// The prefill formats of Q4_0/Q8_0/Q4_K_M files, and one of each other family (mins, 16-value scales, grids).
const CASE_TYPES = ['q4_0', 'q8_0', 'q4_k', 'q6_k', 'q4_1', 'q5_0', 'q5_k', 'q2_k', 'q3_k', 'iq4_nl', 'iq4_xs'];

for (const type of CASE_TYPES) {
  test(`${type}: SIMD128 products within the 8-bit activation bound on ragged tiles`, (t) => {
    if (skip) return skipOrFail(t, skip);
    const superBlock = ['q4_k', 'q6_k', 'q5_k', 'q2_k', 'q3_k', 'iq4_xs'].includes(type);
    const cols = superBlock ? 512 : 96;
    const worst = {};
    let seed = 7;
    for (const rows of [1, 3, 4, 6, 9]) {
      for (const nTokens of [1, 2, 3, 4, 5, 7, 9]) {
        worst[`${rows}x${nTokens}`] = worstErrorRatio(type, rows, cols, nTokens, seed += 2);
      }
    }
    const max = Math.max(...Object.values(worst));
    t.diagnostic(`worst error / bound over rows x tokens: ${max.toFixed(3)}`);
    for (const [shape, ratio] of Object.entries(worst)) assert.ok(ratio <= 1, `${type} rows x tokens ${shape}: error / bound ${ratio}`);
  });
}

test('the products of a quad do not depend on the tokens beside it', (t) => {
  if (skip) return skipOrFail(t, skip);
  // Token 0's outputs alone, in a quad padded with zeros, and among 6 other tokens: identical bits.
  const { id } = TYPES.q4_0;
  const rows = 6, cols = 64;
  const weights = abi.randomWeights(id, rows, cols, 3);
  const x = activations(cols * 7, 5);
  const alone = abi.simdMatmul(id, weights, rows, cols, x.subarray(0, 2 * cols), 2);
  const among = abi.simdMatmul(id, weights, rows, cols, x, 7);
  assert.deepEqual(Array.from(among.subarray(0, 2 * rows)), Array.from(alone));
});
