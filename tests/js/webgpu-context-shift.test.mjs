// Context shift on WebGPU in Node (Dawn; SwiftShader without a GPU): the plan's shift list (kv_shift.wgsl)
// leaves the cache a fresh prefill of the kept tokens would have written, so the next token's logits are
// the same (a one-layer model, where a key depends on its token and position only).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { GpuModel, nodeFileReader } from '../../js/src/gpu/model_runner.mjs';
import { requestNodeDevice } from '../../js/src/gpu/node_device.mjs';
import { missingBuild } from './api-env.mjs';
import { loadEngine, modelsDir, nativeBuildDir, skipOrFail } from './wasm_env.mjs';

const skip = missingBuild();

// tiny-llama with one layer (as tests/cpp/test_context_shift.cpp makes it), synthesized when missing.
function oneLayerLlama() {
  const file = path.join(nativeBuildDir, 'test-scratch/context-shift/tiny-llama-1layer.gguf');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    execFileSync(path.join(nativeBuildDir, 'bin/tabllm'), ['synth', 'tiny-llama', file, '--type', 'f32', '--vocab',
      path.join(modelsDir, 'stories260K-f32.gguf'), '--seed', '7', '--layers', '1', '--scale', '2']);
  }
  return file;
}

const maxAbs = (v) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const maxDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

test('after a shift on the GPU, the next logits equal a fresh prefill of the kept tokens at the same positions', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const tabllm = await loadEngine('tabllm-st');
  const file = await nodeFileReader(oneLayerLlama());
  const { device, limits } = await requestNodeDevice();
  const header = await tabllm.loadModelHeader((offset, size) => file.read(offset, size), file.size);
  const model = await GpuModel.load(header, device, file, { context_size: 64, max_batch: 64, limits });
  try {
    const tokens = Array.from({ length: 64 }, (_, i) => (i === 0 ? 1 : 3 + ((i * 37 + i * i * 11) % 500)));
    const next = 77;
    const shift = { keep: 4, discard: 30, end: 64 };  // as the core plans it for a full context of 64
    await model.feed(tokens);
    model.executor.shift(shift);
    model.pos = shift.end - shift.discard;
    const shifted = (await model.feed([next], { readLogits: true })).all;

    const kept = [...tokens.slice(0, shift.keep), ...tokens.slice(shift.keep + shift.discard), next];
    model.pos = 0;
    const fresh = (await model.feed(kept, { readLogits: true })).all;
    const relative = maxDiff(shifted, fresh) / maxAbs(fresh);
    t.diagnostic(`max |shifted - fresh| / max |fresh| = ${relative.toExponential(2)}`);
    assert.ok(relative < 1e-5, `${relative}`);
    assert.throws(() => model.executor.shift({ keep: 4, discard: 10, end: 64 }), /invalid context shift/);
  } finally {
    model.destroy();
    header.free();
    await file.close();
    device.destroy();
    tabllm.shutdown();
  }
});
