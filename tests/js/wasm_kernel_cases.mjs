// The WebAssembly SIMD matrix products against exact products of the dequantized weights, for Node
// (tests/js/wasm_kernels.test.mjs: SIMD128) and Chromium (tests/browser/wasm-kernels.test.mjs: SIMD128 and
// relaxed SIMD). Shapes leave the prefill tiles ragged: token counts and row counts that are not multiples
// of the 4 x 4 tile (1 token takes the decode kernel, 2-3 a padded quad, 5-9 a full quad and a ragged one),
// and K-quants with several super-blocks. The bound is that of 8-bit activations
// (bench/kernels/kernel_parity.cpp, tests/cpp/test_kernels.cpp): per 32-block, |x| max / 254 times the sum
// of |w|, plus float rounding. Runs in Node and in browsers (no Node imports).
import { TYPES } from '../webgpu-cases/ops.mjs';

// The prefill formats of Q4_0/Q8_0/Q4_K_M files, and one of each other family (mins, 16-value scales, grids).
export const CASE_TYPES = ['q4_0', 'q8_0', 'q4_k', 'q6_k', 'q4_1', 'q5_0', 'q5_k', 'q2_k', 'q3_k', 'iq4_nl', 'iq4_xs'];

const SUPER_BLOCK_TYPES = new Set(['q4_k', 'q6_k', 'q5_k', 'q2_k', 'q3_k', 'iq4_xs']);

// Normal activations (Box-Muller over xorshift32), deterministic.
export function activations(n, seed) {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return (s + 1) / 4294967297;
  };
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
}

// Worst |simd - exact| / bound over all outputs of one product (Infinity when an output is not finite).
function worstErrorRatio(abi, type, rows, cols, nTokens, seed) {
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
      if (!Number.isFinite(got)) return Infinity;
      worst = Math.max(worst, Math.abs(got - exact) / bound);
    }
  }
  return worst;
}

/** {'rows x tokens': worst error / bound} of `type` over the ragged shapes, on the module's current SIMD level. */
export function raggedShapeErrors(abi, type) {
  const cols = SUPER_BLOCK_TYPES.has(type) ? 512 : 96;
  const worst = {};
  let seed = 7;
  for (const rows of [1, 3, 4, 6, 9]) {
    for (const nTokens of [1, 2, 3, 4, 5, 7, 9]) {
      worst[`${rows}x${nTokens}`] = worstErrorRatio(abi, type, rows, cols, nTokens, seed += 2);
    }
  }
  return worst;
}

/** Token 0's outputs alone (in a quad padded with zeros) and among 6 other tokens, for `type`: they must be the same bits. */
export function quadNeighbours(abi, type) {
  const { id } = TYPES[type];
  const rows = 6, cols = SUPER_BLOCK_TYPES.has(type) ? 256 : 64;
  const weights = abi.randomWeights(id, rows, cols, 3);
  const x = activations(cols * 7, 5);
  const alone = abi.simdMatmul(id, weights, rows, cols, x.subarray(0, 2 * cols), 2);
  const among = abi.simdMatmul(id, weights, rows, cols, x, 7);
  return { alone: Array.from(alone), among: Array.from(among.subarray(0, 2 * rows)) };
}
