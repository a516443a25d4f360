// engine.metrics() on WebGPU in Node (Dawn; SwiftShader without a GPU, which offers timestamp-query): the
// sampled steps timed per dispatch give GPU time per kind of dispatch, and timing them changes no token
// (greedy text is still the reference); the plan's buffers and the KV rows on the GPU are counted.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createEngine } from '../../js/src/index.mjs';
import { missingBuild, reference, storiesPath } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

let engine = null;
let skip = missingBuild();

before(async () => {
  if (skip) return;
  try {
    engine = await createEngine({ model: storiesPath(), backend: 'webgpu', contextSize: 256 });
  } catch (e) {
    skip = `no WebGPU engine: ${e.message}`;
  }
});
after(() => engine?.unload());

test('webgpu metrics: GPU µs per kind of dispatch from timestamps; the timed steps give the reference text', async (t) => {
  if (skip) return skipOrFail(t, skip);
  if (!engine.gpuDevice.features.has('timestamp-query')) return skipOrFail(t, 'the adapter has no timestamp-query');
  const ref = reference();
  // 34 tokens: 33 decode steps, of which every 16th is timed.
  const tokens = 34;
  const r = await engine.completions.create({ prompt: ref.prompt, max_tokens: tokens, temperature: 0 });
  assert.equal(r.usage.completion_tokens, tokens);
  assert.ok(ref.text.startsWith(r.choices[0].text), r.choices[0].text);
  const m = await engine.metrics();
  assert.equal(m.gpu.source, 'timestamp-query');
  assert.equal(m.gpu.steps, 2);
  assert.ok(m.gpu.step_us > 0);
  assert.ok(m.gpu.kinds.attn_q?.dispatches > 0 || Object.keys(m.gpu.kinds).length >= 5, JSON.stringify(m.gpu.kinds));
  const sum = Object.values(m.gpu.kinds).reduce((s, k) => s + k.us_per_step, 0);
  assert.ok(Math.abs(sum - m.gpu.step_us) < 1e-6);
  assert.ok(m.memory.gpu_buffer_bytes > 0);
  assert.equal(m.memory.kv_hot_bytes, (r.usage.prompt_tokens + tokens - 1) * engine.runtime.kvBytesPerToken);
  t.diagnostic(JSON.stringify({ gpu: m.gpu, decode_tokens_per_s: r.usage.timings.decode_tokens_per_s }));
});
