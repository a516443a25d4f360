// Every architecture on WebAssembly: logits of the tiny synthetic models (build/models/tiny-ARCH-f32.gguf)
// over 24 positions, SIMD and scalar kernels, against the native scalar logits that the C++ suite writes
// (Architectures.WritesNativeScalarLogitsForWasm → build/parity/).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { loadEngine, modelsDir, nativeBuildDir, skipOrFail } from './wasm_env.mjs';

const ARCHS = ['llama', 'qwen2', 'qwen3', 'phi3', 'gemma', 'gemma2', 'gemma3'];
const tolerance = 1e-4;  // relative to the largest native logit

let tabllm;
before(async () => {
  tabllm = await loadEngine('tabllm', { pthreadPoolSize: 1 });
});
after(() => tabllm.shutdown());

for (const arch of ARCHS) {
  test(`tiny-${arch} f32: WebAssembly SIMD and scalar logits equal native scalar`, (t) => {
    const nativeFile = path.join(nativeBuildDir, `parity/tiny-${arch}-f32-native-scalar-logits.json`);
    const modelFile = path.join(modelsDir, `tiny-${arch}-f32.gguf`);
    if (!fs.existsSync(nativeFile) || !fs.existsSync(modelFile)) {
      return skipOrFail(t, `${nativeFile} or ${modelFile} is missing: build the native models and run the C++ suite first`);
    }
    const native = JSON.parse(fs.readFileSync(nativeFile, 'utf8'));
    const model = tabllm.loadModel(new Uint8Array(fs.readFileSync(modelFile)));
    try {
      const scale = Math.max(...native.logits.map(Math.abs));
      for (const kernels of ['scalar', 'simd']) {
        const session = model.createSession({ kernels, threads: 1, kvType: 'f32' });  // the native logits' cache type
        try {
          const got = session.logits(native.tokens);
          assert.equal(got.length, native.logits.length);
          let max = 0;
          for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - native.logits[i]));
          t.diagnostic(`${kernels}: max |wasm - native| / max |native| = ${(max / scale).toExponential(2)}`);
          assert.ok(max / scale < tolerance, `${kernels}: ${max / scale}`);
        } finally {
          session.free();
        }
      }
    } finally {
      model.free();
    }
  });
}
