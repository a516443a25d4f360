// Logits parity on stories260K F32 over 64 positions: WebAssembly SIMD (1 and 2 threads) against
// WebAssembly scalar, and both against native scalar when the C++ suite has written its logits
// (tests/cpp/test_wasm_parity.cpp → build/parity/).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { greedyReference, loadEngine, nativeBuildDir, storiesModel } from './wasm_env.mjs';

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

function logits(kernels, threads, tokens) {
  const session = model.createSession({ kernels, threads });
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
