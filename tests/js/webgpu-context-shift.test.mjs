// Context shift on WebGPU in Node (Dawn; SwiftShader without a GPU): the plan's shift list (kv_shift.wgsl)
// leaves the cache a fresh prefill of the kept tokens would have written, so the next token's logits are
// the same (a one-layer model, where a key depends on its token and position only); and through the
// package at a small context: a reply past the context (logits read back, and the GPU's masked argmax under
// a response_format) gives the WebAssembly engine's tokens, and a long chat is cut or refused as
// truncation says.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { createEngine } from '../../js/src/index.mjs';
import { GpuModel, nodeFileReader } from '../../js/src/gpu/model_runner.mjs';
import { requestNodeDevice } from '../../js/src/gpu/node_device.mjs';
import { longChat, missingBuild, storiesEngine, storiesPath } from './api-env.mjs';
import { loadEngine, modelsDir, nativeBuildDir, skipOrFail } from './wasm_env.mjs';

// Small, so that replies cross the context's end within a few dozen tokens (SwiftShader runs about one a second).
const CONTEXT = 32;
const END_TOKENS = { 1: -100, 2: -100 };
let gpu = null;
let cpu = null;
let skip = missingBuild();

before(async () => {
  if (skip) return;
  try {
    gpu = await createEngine({ model: storiesPath(), backend: 'webgpu', contextSize: CONTEXT });
  } catch (e) {
    skip = `no WebGPU engine: ${e.message}`;
    return;
  }
  cpu = await storiesEngine({ contextSize: CONTEXT });
});
after(async () => {
  await gpu?.unload();
  await cpu?.unload();
});

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
  // An f32 cache: f16 and q8_0 round the rotated keys again, which a fresh prefill does not (webgpu-kv.test.mjs).
  const model = await GpuModel.load(header, device, file, { context_size: 64, max_batch: 64, limits, kv_type: 'f32' });
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

test('webgpu: 44 tokens at context 32 with the end tokens banned, the logits read back: the CPU engine\'s tokens', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const req = { prompt: 'Once upon a time', max_tokens: 44, temperature: 0, logit_bias: END_TOKENS };
  const r = await gpu.completions.create(req);
  t.diagnostic(`${r.usage.context_shifts} shifts, ${r.usage.timings.decode_tokens_per_s.toFixed(1)} tokens/s`);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 44);
  assert.equal(r.usage.context_shifts, 2);
  assert.equal(r.choices[0].text, (await cpu.completions.create(req)).choices[0].text);
});

test('webgpu: greedy on the GPU under a response_format goes on across shifts, as on the CPU', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const req = { messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 100, temperature: 0, response_format: { type: 'regex', pattern: '(cat |dog ){12}' } };
  const r = await gpu.chat.completions.create(req);
  assert.ok(r.usage.context_shifts >= 1, `${r.usage.context_shifts} shifts`);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.match(r.choices[0].message.content, /^((cat|dog) ){12}$/);
  assert.equal(r.choices[0].message.content, (await cpu.chat.completions.create(req)).choices[0].message.content);
});

test('webgpu: a 14-turn chat is answered under truncation "auto" and refused under "disabled", naming truncation', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const r = await gpu.chat.completions.create({ messages: longChat(), truncation: 'auto', max_tokens: 8, temperature: 0 });
  assert.ok(r.choices[0].message.content.length > 0);
  assert.ok(r.usage.truncated_messages > 0);
  assert.ok(r.usage.prompt_tokens + 8 <= CONTEXT);
  await assert.rejects(gpu.chat.completions.create({ messages: longChat(), truncation: 'disabled', max_tokens: 8 }),
    (e) => e.status === 400 && e.code === 'context_length_exceeded' && /truncation/.test(e.message));
});
