// createEngine on WebGPU in Node (Dawn, SwiftShader without a GPU): weights streamed to the GPU, the
// header-only WebAssembly session driving generation. Greedy requests take the GPU's argmax, requests that
// need the logits (logprobs, sampling) read them back and let the core sample; both give the reference
// text. A lost device gives a clear error and reload() brings the engine back.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createEngine } from '../../js/src/index.mjs';
import { missingBuild, reference, storiesEngine, storiesPath } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

let engine = null;
let cpu = null;
let skip = missingBuild();
const phases = new Set();

before(async () => {
  if (skip) return;
  try {
    engine = await createEngine({ model: storiesPath(), backend: 'webgpu', contextSize: 256, onProgress: (e) => phases.add(e.phase) });
  } catch (e) {
    skip = `no WebGPU engine: ${e.message}`;
    return;
  }
  cpu = await storiesEngine();
});
after(async () => {
  await engine?.unload();
  await cpu?.unload();
});

const ask = (extra) => ({ messages: [{ role: 'user', content: reference().prompt }], temperature: 0, max_tokens: 8, ...extra });

test('webgpu engine: greedy chat equals the reference; weights went to the GPU, not the heap', async (t) => {
  if (skip) return skipOrFail(t, skip);
  assert.equal(engine.backend, 'webgpu');
  assert.ok(phases.has('upload') && !phases.has('load'), [...phases].join(','));
  assert.equal(engine.modelInfo.weights, false);
  const r = await engine.chat.completions.create(ask());
  assert.ok(reference().text.startsWith(r.choices[0].message.content) && r.choices[0].message.content.length > 15, r.choices[0].message.content);
  assert.ok(r.usage.timings.decode_tokens_per_s > 0);
});

test('webgpu engine: logits read back for logprobs match the CPU engine', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const req = ask({ max_tokens: 5, logprobs: true, top_logprobs: 2 });
  const gpu = await engine.chat.completions.create(req);
  const ref = await cpu.chat.completions.create(req);
  assert.equal(gpu.choices[0].message.content, ref.choices[0].message.content);
  const a = gpu.choices[0].logprobs.content, b = ref.choices[0].logprobs.content;
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.equal(a[i].token, b[i].token);
    assert.ok(Math.abs(a[i].logprob - b[i].logprob) < 1e-3, `${a[i].logprob} vs ${b[i].logprob}`);
  }
});

test('webgpu engine: streaming, a stop string, and prefix reuse across requests', async (t) => {
  if (skip) return skipOrFail(t, skip);
  let text = '';
  for await (const c of await engine.chat.completions.create(ask({ stream: true, stop: ' was' }))) text += c.choices[0]?.delta?.content ?? '';
  const ref = reference().text;
  assert.equal(text, ref.slice(0, ref.indexOf(' was')));
  const again = await engine.completions.create({ prompt: reference().prompt, temperature: 0, max_tokens: 4 });
  assert.ok(again.usage.timings.prompt_tokens_reused > 0);
  assert.ok(ref.startsWith(again.choices[0].text));
});

test('webgpu engine: a lost device fails requests clearly; reload() restores the engine', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const { runtime } = engine;
  assert.equal(runtime.backend, 'webgpu');
  // Lose the device the way a driver reset would.
  engine.gpuDevice.destroy();
  await engine.gpuDevice.lost;
  await new Promise((r) => setTimeout(r, 10));
  await assert.rejects(engine.chat.completions.create(ask({ max_tokens: 4 })), (e) => e.status === 503 && e.code === 'device_lost' && /reload/.test(e.message));
  await engine.reload();
  const r = await engine.chat.completions.create(ask({ max_tokens: 4 }));
  assert.ok(reference().text.startsWith(r.choices[0].message.content));
});
