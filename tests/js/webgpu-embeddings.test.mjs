// Embeddings on WebGPU in Node (Dawn; SwiftShader without a GPU): the embedding pass
// (core/backend/webgpu/encoder_plan.h) through engine.embeddings.create against the native scalar path on
// the tiny bert, nomic-bert and Qwen3-Embedding-shaped files (f32 and q8_0), inputs of ragged lengths in one
// forward pass and over several passes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { createEngine, similarity } from '../../js/src/index.mjs';
import { missingBuild } from './api-env.mjs';
import { nativeBuildDir, skipOrFail, synthModel, modelsDir } from './wasm_env.mjs';

const SHAPES = ['tiny-bert', 'tiny-nomic-bert', 'tiny-qwen3-embedding'];
const TYPES = ['f32', 'q8_0'];
// Ragged lengths, from one word to several sentences.
const TEXTS = [
  'the quick brown fox jumps over the lazy dog',
  'a',
  'Hello, World! 42 cats sat on the mat.',
  'search notes in the browser page, then rank them by how close their vectors point; the first result is the note that means most alike, and the rest follow in order',
  'one more note',
];
const cli = path.join(nativeBuildDir, 'bin/tabllm');
const modelPath = (shape, type) => {
  synthModel(shape, type);
  return path.join(modelsDir, `${shape}-${type}.gguf`);
};

let skip = missingBuild() ?? (fs.existsSync(cli) ? null : `${cli} is missing: run scripts/setup.sh`);
const native = new Map();  // shape-type -> the native scalar path's vectors and tokens
let dir = null;

before(() => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-gpu-embed-'));
  const inputs = path.join(dir, 'inputs.txt');
  fs.writeFileSync(inputs, TEXTS.join('\n') + '\n');
  for (const shape of SHAPES)
    for (const type of TYPES)
      native.set(`${shape}-${type}`, JSON.parse(execFileSync(cli, ['embed', '-m', modelPath(shape, type), '--file', inputs, '--kernels', 'scalar', '--threads', '1']).toString()).inputs);
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function gpuEngine(options) {
  try {
    return await createEngine({ backend: 'webgpu', ...options });
  } catch (e) {
    skip = `no WebGPU engine: ${e.message}`;
    return null;
  }
}

// Every file as a model of one engine: one WebAssembly module and one GPU device for them all.
const name = (shape, type) => `${shape}-${type}`;
let engine = null;
after(() => engine?.unload());

test('WebGPU embeddings equal the native scalar path: bert, nomic-bert and a decoder (qwen3), f32 and q8_0, ragged inputs in one pass', async (t) => {
  if (skip) return skipOrFail(t, skip);
  engine = await gpuEngine({ models: SHAPES.flatMap((shape) => TYPES.map((type) => ({ model: modelPath(shape, type), name: name(shape, type) }))) });
  if (!engine) return skipOrFail(t, skip);
  const loaded = engine.models.info();
  assert.equal(loaded.length, SHAPES.length * TYPES.length);
  for (const m of loaded) assert.equal(m.backend, 'webgpu', m.id);
  for (const shape of SHAPES) {
    for (const type of TYPES) {
      const want = native.get(name(shape, type));
      const r = await engine.embeddings.create({ model: name(shape, type), input: TEXTS });
      assert.equal(r.data.length, TEXTS.length);
      r.data.forEach((d, i) => {
        const c = similarity(d.embedding, want[i].embedding);
        assert.ok(c >= 0.9999, `${shape} ${type} input ${i} (${want[i].tokens.length} tokens): cosine ${c}`);
        const norm = Math.sqrt(d.embedding.reduce((s, x) => s + x * x, 0));
        assert.ok(Math.abs(norm - 1) < 1e-5, `unit length, got ${norm}`);
      });
      assert.equal(r.usage.prompt_tokens, want.reduce((s, input) => s + input.tokens.length, 0));
    }
  }
});

test('WebGPU encoder: token arrays; inputs over several forward passes equal one pass; the GPU buffers go on unload', async (t) => {
  if (skip || !engine) return skipOrFail(t, skip ?? 'the first test made no engine');
  const model = name('tiny-nomic-bert', 'f32');
  const want = native.get(model);
  // Token arrays go in as they are.
  const ids = await engine.embeddings.create({ model, input: [want[2].tokens] });
  assert.ok(similarity(ids.data[0].embedding, want[2].embedding) >= 0.9999);
  const longest = Math.max(...want.map((input) => input.tokens.length));
  const several = await gpuEngine({ model: modelPath('tiny-nomic-bert', 'f32'), modelName: model, maxBatch: longest });  // a pass holds the longest input
  try {
    assert.equal(several.runtime.maxBatchTokens, longest);
    const a = await engine.embeddings.create({ model, input: TEXTS });
    const b = await several.embeddings.create({ model, input: TEXTS });
    a.data.forEach((d, i) => assert.ok(similarity(d.embedding, b.data[i].embedding) > 0.999999, `input ${i}`));
    const memory = several.memory();
    assert.ok(memory.gpuBuffers > 0 && memory.gpuBytes > 0, JSON.stringify(memory));
    // An input longer than the model's context is the API's 400, on WebGPU too.
    await assert.rejects(several.embeddings.create({ model, input: [Array(several.modelInfo.context + 1).fill(5)] }), /more than the model's context/);
  } finally {
    await several.unload();
  }
  assert.equal(several.memory().gpuBuffers, 0);
});
