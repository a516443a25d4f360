// Two models on WebGPU in one engine (Node: Dawn, SwiftShader without a GPU): they share one device, each
// answers the requests naming it with its own greedy reply, and unloading one destroys every GPU buffer it
// created, counted on the device itself.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { createEngine } from '../../js/src/index.mjs';
import { requestWebgpuDevice } from '../../js/src/capabilities.mjs';
import { missingBuild, reference, storiesPath } from './api-env.mjs';
import { modelsDir, skipOrFail, synthModel } from './wasm_env.mjs';

// The device with its buffers counted: created, and destroyed since.
async function countedDevice() {
  const { device } = await requestWebgpuDevice();
  const live = new Set();
  const create = device.createBuffer.bind(device);
  device.createBuffer = (descriptor) => {
    const buffer = create(descriptor);
    const destroy = buffer.destroy.bind(buffer);
    live.add(buffer);
    buffer.destroy = () => {
      live.delete(buffer);
      destroy();
    };
    return buffer;
  };
  return { device, live };
}

test('models on webgpu: two models share the device, answer interleaved, and unload destroys their buffers', async (t) => {
  let skip = missingBuild();
  let gpu = null;
  if (!skip) {
    try {
      gpu = await countedDevice();
    } catch (e) {
      skip = `no WebGPU device: ${e.message}`;
    }
  }
  if (skip) return skipOrFail(t, skip);
  synthModel('tiny-llama', 'f32');
  const tinyPath = path.join(modelsDir, 'tiny-llama-f32.gguf');
  const ask = (model) => ({ model, messages: [{ role: 'user', content: reference().prompt }], temperature: 0, max_tokens: 6 });
  const cpu = await createEngine({ model: tinyPath, backend: 'wasm', wasmVariant: 'single', contextSize: 64 });
  const tinyReply = (await cpu.chat.completions.create(ask(undefined))).choices[0].message.content;
  await cpu.unload();

  const engine = await createEngine({ backend: 'webgpu', device: gpu.device, contextSize: 64,
    models: [{ model: storiesPath(), name: 'stories' }, { model: tinyPath, name: 'tiny' }] });
  t.after(() => engine.unload());
  const info = engine.models.info();
  assert.deepEqual(info.map((m) => m.backend), ['webgpu', 'webgpu']);
  assert.ok(info.every((m) => m.bytes.gpu > 0), JSON.stringify(info));
  const memory = engine.memory();
  assert.equal(memory.gpuBuffers, gpu.live.size);
  assert.equal(memory.gpuBytes, info[0].bytes.gpu + info[1].bytes.gpu);
  assert.equal(memory.heaps.length, 1);  // both header-only models in one single-threaded module

  const replies = await Promise.all(['tiny', 'stories', 'tiny'].map((name) => engine.chat.completions.create(ask(name))));
  for (const r of replies) {
    const text = r.choices[0].message.content;
    if (r.model === 'tiny') assert.equal(text, tinyReply);
    else assert.ok(text.length > 10 && reference().text.startsWith(text), text);
  }

  const before = gpu.live.size;
  await engine.unload('tiny');
  t.diagnostic(`GPU buffers: ${before} for both models, ${gpu.live.size} after unloading tiny; bytes per model ${info.map((m) => `${m.id} ${m.bytes.gpu}`).join(', ')}`);
  assert.equal(engine.memory().gpuBuffers, gpu.live.size);
  assert.ok(before - gpu.live.size > 10, `unload destroyed ${before - gpu.live.size} of ${before} buffers`);
  assert.ok(reference().text.startsWith((await engine.chat.completions.create(ask('stories'))).choices[0].message.content));
  await engine.unload();
  assert.equal(gpu.live.size, 0, `${gpu.live.size} GPU buffers left after every model was unloaded`);
});
