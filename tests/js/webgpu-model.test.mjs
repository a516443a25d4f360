// Whole models on WebGPU in Node (Dawn; SwiftShader without a GPU), planned by the core and run by the
// executor: stories260K F32/Q8_0 greedy tokens equal greedy_reference.jsonl; synthetic qwen2/qwen3 equal the
// WebAssembly CPU engine for 32 greedy steps; a lowered binding limit (split output, embedding and FFN
// matrices) changes nothing; no buffer, pipeline or bind group is created per token. Needs a WebAssembly
// build with the WebGPU exports (TABLLM_WASM_DIR, default build-wasm) and the converted models.
import { skipOrFail } from './wasm_env.mjs';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { bindTabllm } from '../../wasm/bindings.mjs';
import { WebgpuAbi, hasWebgpuAbi } from '../../js/src/gpu/abi.mjs';
import { GpuModel, nodeFileReader } from '../../js/src/gpu/model_runner.mjs';
import { requestNodeDevice } from '../../js/src/gpu/node_device.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const wasmDir = process.env.TABLLM_WASM_DIR ?? path.join(root, 'build-wasm');
const modelsDir = process.env.TABLLM_MODELS_DIR ?? path.join(root, 'build/models');
const sharedDir = process.env.TABLLM_SHARED ?? path.join(root, '../shared');

let skip = null;
let module, abi, device, limits;

before(async () => {
  const file = path.join(wasmDir, 'tabllm-st.mjs');
  if (!fs.existsSync(file)) return void (skip = `${file} is missing: run scripts/build-wasm.sh`);
  const { default: createModule } = await import(pathToFileURL(file));
  module = await createModule();
  if (!hasWebgpuAbi(module)) return void (skip = `${file} lacks the WebGPU exports (wasm/abi_webgpu.cpp, wasm/abi_reference.cpp)`);
  abi = new WebgpuAbi(module);
  try {
    ({ device, limits } = await requestNodeDevice());
  } catch (e) {
    skip = `no WebGPU device: ${e.message}`;
  }
});

after(() => device?.destroy());

function modelPath(name) {
  const p = path.join(modelsDir, `${name}.gguf`);
  return fs.existsSync(p) ? p : null;
}

async function load(name, options = {}) {
  const file = await nodeFileReader(modelPath(name));
  try {
    return await GpuModel.load(abi, device, file, { limits: { ...limits, ...options.limits }, max_batch: 16, context_size: 256, ...options, limits: { ...limits, ...options.limits } });
  } finally {
    await file.close();
  }
}

const reference = () => fs.readFileSync(path.join(sharedDir, 'models/stories260K/greedy_reference.jsonl'), 'utf8')
  .split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

for (const type of ['f32', 'q8_0']) {
  test(`stories260K ${type}: greedy 64 tokens on WebGPU equal the reference`, async (t) => {
    if (skip) return skipOrFail(t, skip);
    if (!modelPath(`stories260K-${type}`)) return skipOrFail(t, 'stories260K models missing: run scripts/setup.sh');
    const model = await load(`stories260K-${type}`);
    try {
      t.diagnostic(`dispatches per token: decode ${model.executor.dispatchCount('decode')}, prefill ${model.executor.dispatchCount('prefill')}; pipelines ${model.plan.pipelines.length}`);
      const ref = reference()[0];
      const ids = await model.greedy(ref.prompt_ids, ref.ids.length);
      assert.deepEqual(ids, ref.ids, `"${ref.prompt}": GPU tokens differ from the reference`);
    } finally {
      model.destroy();
    }
  });
}

test('stories260K f32 under a 32 KiB binding limit: split output, embedding and FFN matrices give the same tokens', async (t) => {
  if (skip) return skipOrFail(t, skip);
  if (!modelPath('stories260K-f32')) return skipOrFail(t, 'stories260K models missing: run scripts/setup.sh');
  const model = await load('stories260K-f32', { limits: { maxStorageBufferBindingSize: 32768 }, context_size: 128 });
  try {
    const decode = model.plan.decode.map((d) => d.label);
    assert.ok(decode.some((l) => /^output\[1\]/.test(l)), 'the output matrix is split');
    assert.ok(decode.some((l) => /^embed\[1\]/.test(l)), 'the embedding is split');
    assert.ok(decode.some((l) => /gate_up\[1\]/.test(l)), 'the gate/up matrices are split');
    t.diagnostic(`dispatches per token with splits: ${decode.length}`);
    const ref = reference()[1];
    const ids = await model.greedy(ref.prompt_ids, 24);
    assert.deepEqual(ids, ref.ids.slice(0, 24));
  } finally {
    model.destroy();
  }
});

test('a model that cannot fit is refused before any upload, saying what it needs', async (t) => {
  if (skip) return skipOrFail(t, skip);
  if (!modelPath('stories260K-f32')) return skipOrFail(t, 'stories260K models missing');
  const prefix = new Uint8Array(fs.readFileSync(modelPath('stories260K-f32')));
  assert.throws(() => abi.planModel(prefix, { limits: { ...limits, maxStorageBufferBindingSize: 1024, maxBufferSize: 1024 } }), /needs .*bytes.*this device allows/);
});

// Greedy tokens of the WebAssembly CPU engine (scalar kernels): the argmax of the last position's logits.
function cpuGreedy(bytes, prompt, count) {
  const tabllm = bindTabllm(module);
  const m = tabllm.loadModel(bytes);
  const session = m.createSession({ kernels: 'scalar', threads: 1 });
  try {
    const ids = [...prompt];
    const vocab = m.info().n_vocab ?? m.info().vocab_size;
    for (let i = 0; i < count; i++) {
      const logits = session.logits(ids);
      const last = logits.subarray(logits.length - logits.length / ids.length);
      let best = 0;
      for (let j = 1; j < last.length; j++) if (last[j] > last[best]) best = j;
      ids.push(best);
    }
    void vocab;
    return ids.slice(prompt.length);
  } finally {
    session.free();
    m.free();
  }
}

for (const arch of ['qwen2', 'qwen3']) {
  test(`tiny-${arch} f32: 32 greedy tokens on WebGPU equal the CPU's; nothing is created per token`, async (t) => {
    if (skip) return skipOrFail(t, skip);
    const p = modelPath(`tiny-${arch}-f32`);
    if (!p) return skipOrFail(t, 'synthetic models missing: run scripts/setup.sh');
    const prompt = [1, 17, 42, 7, 99];
    const cpu = cpuGreedy(new Uint8Array(fs.readFileSync(p)), prompt, 32);
    const model = await load(`tiny-${arch}-f32`);
    try {
      const gpu = await model.greedy(prompt, 32);
      assert.deepEqual(gpu, cpu);
      if (arch === 'qwen3') {
        const counts = { createBuffer: 0, createBindGroup: 0, createComputePipeline: 0, createShaderModule: 0, createBindGroupLayout: 0 };
        const saved = {};
        for (const name of Object.keys(counts)) {
          saved[name] = device[name];
          device[name] = function counted(...args) { counts[name]++; return saved[name].apply(this, args); };
        }
        try {
          let next = gpu[gpu.length - 1];
          for (let i = 0; i < 100; i++) next = (await model.feed([next])).ids[0];
        } finally {
          for (const name of Object.keys(counts)) device[name] = saved[name];
        }
        t.diagnostic(`objects created over 100 tokens: ${JSON.stringify(counts)}; dispatches per token ${model.executor.dispatchCount('decode')}`);
        assert.deepEqual(Object.values(counts), [0, 0, 0, 0, 0]);
      }
    } finally {
      model.destroy();
    }
  });
}
