// Logits parity on stories260K F32 over 64 positions: WebAssembly SIMD (1 and 2 threads) against
// WebAssembly scalar, and both against native scalar when the C++ suite has written its logits
// (tests/cpp/test_wasm_parity.cpp → build/parity/). Then the same for tiny-llama in every tensor type.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { greedyReference, loadEngine, nativeBuildDir, storiesModel, synthModel } from './wasm_env.mjs';

const tolerance = 1e-4;
const nativeFile = path.join(nativeBuildDir, 'parity/stories260K-f32-native-scalar-logits.json');

function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

let tabllm, model;
before(async () => {
  tabllm = await loadEngine('tabllm', { pthreadPoolSize: 1 });
  model = tabllm.loadModel(storiesModel('f32'));
});
after(() => {
  model.free();
  tabllm.shutdown();
});

function logits(kernels, threads, tokens, of = model) {
  const session = of.createSession({ kernels, threads, kvType: 'f32' });  // kernel parity, on an exact cache
  try {
    return session.logits(tokens);
  } finally {
    session.free();
  }
}

test('WebAssembly SIMD and scalar logits agree with each other and with native scalar', (t) => {
  const native = fs.existsSync(nativeFile) ? JSON.parse(fs.readFileSync(nativeFile, 'utf8')) : null;
  const ref = greedyReference()[0];
  const tokens = native?.tokens ?? [...ref.prompt_ids, ...ref.ids].slice(0, 64);
  assert.equal(tokens.length, 64);

  const scalar = logits('scalar', 1, tokens);
  const simd = logits('simd', 1, tokens);
  const simd2 = logits('simd', 2, tokens);
  assert.ok(scalar.every(Number.isFinite));
  const diffs = { 'simd-scalar': maxAbsDiff(simd, scalar), 'simd2-scalar': maxAbsDiff(simd2, scalar) };
  if (native) {
    diffs['scalar-native'] = maxAbsDiff(scalar, native.logits);
    diffs['simd-native'] = maxAbsDiff(simd, native.logits);
  } else {
    if (process.env.TABLLM_TEST_STRICT === '1') assert.fail(`${nativeFile} is missing: the C++ suite writes it, run it first`);
    t.diagnostic(`${nativeFile} is missing (the C++ suite writes it): native comparison skipped`);
  }
  t.diagnostic(`max |diff| over 64 positions (${tabllm.buildInfo().simd}): ${JSON.stringify(diffs)}`);
  for (const [pair, diff] of Object.entries(diffs)) assert.ok(diff < tolerance, `${pair}: ${diff}`);
});

// Bounds relative to the largest scalar logit: float weights differ only by summation order; quantized
// weights meet 8-bit activations on the SIMD path (as tests/cpp/test_parity.cpp bounds native SIMD).
const TENSOR_TYPES = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k',
  'q6_k', 'iq4_xs', 'q4_k_m'];
const FLOAT_TYPES = new Set(['f32', 'f16', 'bf16']);

function maxLogit(values) {
  return values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

for (const type of TENSOR_TYPES) {
  test(`tiny-llama ${type}: WebAssembly SIMD and scalar logits agree with each other and with native scalar`, (t) => {
    const name = `tiny-llama-${type}`;
    const file = path.join(nativeBuildDir, `parity/${name}-native-scalar-logits.json`);
    const native = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : null;
    const tokens = native?.tokens ?? [1, ...Array.from({ length: 15 }, (_, i) => ((i + 1) * 37 + 11) % 512)];
    const typed = tabllm.loadModel(synthModel('tiny-llama', type));
    try {
      const scalar = logits('scalar', 1, tokens, typed);
      const simd = logits('simd', 1, tokens, typed);
      const scale = maxLogit(scalar);
      assert.ok(scalar.every(Number.isFinite) && scale > 0);
      const simdBound = FLOAT_TYPES.has(type) ? 1e-5 : 4e-2;
      const diffs = { 'simd-scalar': maxAbsDiff(simd, scalar) / scale };
      if (native) {
        diffs['scalar-native'] = maxAbsDiff(scalar, native.logits) / scale;
      } else {
        if (process.env.TABLLM_TEST_STRICT === '1') assert.fail(`${file} is missing: the C++ suite writes it, run it first`);
        t.diagnostic(`${file} is missing (the C++ suite writes it): native comparison skipped`);
      }
      t.diagnostic(`max |diff| / max |scalar| over ${tokens.length} positions: ${JSON.stringify(diffs)}`);
      assert.ok(diffs['simd-scalar'] < simdBound, `simd-scalar: ${diffs['simd-scalar']}`);
      if (native) assert.ok(diffs['scalar-native'] < 1e-5, `scalar-native: ${diffs['scalar-native']}`);
    } finally {
      typed.free();
    }
  });
}
