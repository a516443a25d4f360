// Embeddings in the package: WebAssembly (threads) against the native scalar path on the tiny bert,
// nomic-bert and Qwen3-Embedding-shaped files; engine.embeddings.create in OpenAI's shapes and errors; the
// real `openai` client through engine.fetch and through `tabllm serve` on 127.0.0.1; the worker engine.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import OpenAI from 'openai';

import { createEngine, createWorkerEngine, similarity } from '../../js/src/index.mjs';
import { startServer } from '../../js/src/serve.mjs';
import { missingBuild, storiesEngine, storiesPath } from './api-env.mjs';
import { loadEngine, modelsDir, nativeBuildDir, skipOrFail, wasmDir } from './wasm_env.mjs';

const SHAPES = ['tiny-bert', 'tiny-nomic-bert', 'tiny-qwen3-embedding'];
const TEXTS = ['the quick brown fox jumps over the lazy dog', 'Hello, World! 42 cats sat on the mat.', 'search notes in the browser page', 'a'];
const cli = path.join(nativeBuildDir, 'bin/tabllm');
const modelPath = (shape, type = 'f32') => path.join(modelsDir, `${shape}-${type}.gguf`);

function missing() {
  const build = missingBuild();
  if (build) return build;
  for (const f of ['tabllm.mjs', 'tabllm.wasm']) if (!fs.existsSync(path.join(wasmDir, f))) return `${path.join(wasmDir, f)} is missing: run scripts/build-wasm.sh`;
  for (const shape of SHAPES) if (!fs.existsSync(modelPath(shape))) return `${modelPath(shape)} is missing: build the native models (cmake --build build)`;
  return null;
}
const skip = missing();

const engines = new Map();
const engineFor = (shape, type = 'f32') => engines.get(`${shape}-${type}`);
before(async () => {
  if (skip) return;
  for (const shape of SHAPES)
    for (const type of ['f32', 'q8_0']) engines.set(`${shape}-${type}`, await createEngine({ model: modelPath(shape, type), backend: 'wasm', wasmVariant: 'single', modelName: shape }));
});
after(async () => {
  for (const engine of engines.values()) await engine.unload();
});

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

test('WebAssembly (threads and single) equals the native scalar reference, tokens and vectors', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-embed-'));
  const inputs = path.join(dir, 'inputs.txt');
  fs.writeFileSync(inputs, TEXTS.join('\n') + '\n');
  try {
    for (const shape of SHAPES) {
      for (const type of ['f32', 'q8_0']) {
        const native = JSON.parse(execFileSync(cli, ['embed', '-m', modelPath(shape, type), '--file', inputs, '--kernels', 'scalar', '--threads', '1']).toString());
        const threaded = await createEngine({ model: modelPath(shape, type), backend: 'wasm', wasmVariant: 'threaded', threads: 2, modelName: shape });
        try {
          for (const engine of [threaded, engineFor(shape, type)]) {
            const r = await engine.embeddings.create({ model: shape, input: TEXTS });
            // f32 weights stay in float on every path; q8_0 ones meet 8-bit activations on the SIMD paths.
            const want = type === 'f32' ? 0.99999 : 0.999;
            r.data.forEach((d, i) => {
              assert.equal(d.index, i);
              const c = similarity(d.embedding, native.inputs[i].embedding);
              assert.ok(c > want, `${shape} ${type} ${engine.runtime.variant} input ${i}: cosine ${c}`);
            });
            assert.equal(r.usage.prompt_tokens, native.inputs.reduce((s, input) => s + input.tokens.length, 0));
          }
        } finally {
          await threaded.unload();
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('embeddings.create: OpenAI shapes for strings, token arrays and base64; unit vectors; usage', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const engine = engineFor('tiny-bert');
  const one = await engine.embeddings.create({ model: 'tiny-bert', input: 'the cat sat' });
  assert.equal(one.object, 'list');
  assert.equal(one.model, 'tiny-bert');
  assert.equal(one.data.length, 1);
  assert.equal(one.data[0].object, 'embedding');
  assert.equal(one.data[0].embedding.length, engine.modelInfo.dim);
  assert.ok(Math.abs(norm(one.data[0].embedding) - 1) < 1e-5);
  assert.equal(engine.modelInfo.kind, 'embedding');
  assert.equal(engine.modelInfo.pooling, 'mean');
  // [CLS] the cat sat [SEP]
  assert.deepEqual(one.usage, { prompt_tokens: 5, total_tokens: 5 });

  // The same input as token ids, alone and in a batch beside others, gives the same vector.
  const tokens = await engine.embeddings.create({ model: 'tiny-bert', input: [[101, 102], [101, 5, 102]] });
  const cls = await engine.embeddings.create({ model: 'tiny-bert', input: [101, 102] });
  assert.ok(similarity(tokens.data[0].embedding, cls.data[0].embedding) > 0.999999);
  assert.equal(tokens.usage.prompt_tokens, 5);

  const batch = await engine.embeddings.create({ model: 'tiny-bert', input: ['the cat sat', 'a dog', 'the cat sat'] });
  assert.deepEqual(batch.data.map((d) => d.index), [0, 1, 2]);
  assert.ok(similarity(batch.data[0].embedding, one.data[0].embedding) > 0.999999);
  assert.ok(similarity(batch.data[0].embedding, batch.data[2].embedding) > 0.999999);
  assert.ok(similarity(batch.data[0].embedding, batch.data[1].embedding) < 0.999);

  const b64 = await engine.embeddings.create({ model: 'tiny-bert', input: 'the cat sat', encoding_format: 'base64' });
  const bytes = Buffer.from(b64.data[0].embedding, 'base64');
  const floats = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  assert.deepEqual(Array.from(floats), one.data[0].embedding);

  // dimensions: nomic-bert and decoder embedding models shorten; the result is a unit vector again.
  for (const shape of ['tiny-nomic-bert', 'tiny-qwen3-embedding']) {
    const r = await engineFor(shape).embeddings.create({ model: shape, input: 'the cat', dimensions: 64 });
    assert.equal(r.data[0].embedding.length, 64);
    assert.ok(Math.abs(norm(r.data[0].embedding) - 1) < 1e-5);
  }
  assert.equal(similarity([1, 0], [1, 0]), 1);
  assert.throws(() => similarity([1], [1, 2]), /one length/);
});

test('embeddings errors: OpenAI-shaped, naming the parameter; the engine goes on', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const engine = engineFor('tiny-bert');
  const expect = async (body, param, code, says) => {
    await assert.rejects(engine.embeddings.create(body), (e) => {
      assert.equal(e.status, 400, e.message);
      assert.equal(e.param, param, e.message);
      if (code) assert.equal(e.code, code, e.message);
      assert.match(e.message, says);
      return true;
    });
  };
  await expect({ model: 'tiny-bert' }, 'input', 'missing_required_parameter', /input is required/);
  await expect({ model: 'tiny-bert', input: [] }, 'input', 'invalid_type', /input must be/);
  await expect({ model: 'tiny-bert', input: ['a', [1]] }, 'input', 'invalid_type', /not mixed/);
  await expect({ model: 'tiny-bert', input: '' }, 'input', null, /empty string/);
  await expect({ model: 'tiny-bert', input: 'a', encoding_format: 'int8' }, 'encoding_format', null, /"float" or "base64"/);
  await expect({ model: 'tiny-bert', input: 'a', dimensions: 64 }, 'dimensions', 'unsupported_parameter', /not trained for shortened/);
  await expect({ model: 'tiny-bert', input: 'a', dimensions: 0 }, 'dimensions', 'invalid_type', /positive integer/);
  await expect({ model: 'tiny-bert', input: 'a', stream: true }, 'stream', 'unknown_parameter', /unknown parameter 'stream'/);
  await expect({ model: 'tiny-bert', input: [Array(513).fill(5)] }, 'input', 'context_length_exceeded', /input\[0\] has 513 tokens, more than the model's context of 512/);
  await expect({ model: 'tiny-bert', input: 'the cat '.repeat(300) }, 'input', 'context_length_exceeded', /input\[0\] has 602 tokens/);
  await expect({ model: 'tiny-bert', input: [[101, 99999]] }, 'input', null, /token id 99999/);
  await expect({ model: 'tiny-bert', input: 'a', dimensions: 500 }, 'dimensions', null, /not trained/);
  await assert.rejects(engine.embeddings.create({ model: 'm', input: 'a' }), (e) => e.status === 404 && e.param === 'model' && e.code === 'model_not_found');
  const nomic = engineFor('tiny-nomic-bert');
  await assert.rejects(nomic.embeddings.create({ input: 'a', dimensions: 500 }), /more than the model's 256/);
  // An embedding model asked for text, a chat model asked for embeddings.
  await assert.rejects(engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }] }), (e) => e.status === 400 && e.code === 'model_not_chat' && /embedding model/.test(e.message));
  const chat = await storiesEngine();
  try {
    await assert.rejects(chat.embeddings.create({ input: 'hi' }), (e) => e.status === 400 && e.code === 'model_not_embedding' && /chat model/.test(e.message));
  } finally {
    await chat.unload();
  }
  const ok = await engine.embeddings.create({ input: 'still works' });
  assert.equal(ok.data.length, 1);
});

test('the openai client: embeddings.create through engine.fetch and through tabllm serve on 127.0.0.1', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const engine = engineFor('tiny-nomic-bert');
  const direct = await engine.embeddings.create({ model: 'tiny-nomic-bert', input: TEXTS });
  const server = await startServer({ engine, port: 0, host: '127.0.0.1' });
  try {
    for (const client of [
      new OpenAI({ apiKey: 'local', baseURL: 'http://tabllm.local/v1', fetch: engine.fetch, maxRetries: 0 }),
      new OpenAI({ apiKey: 'local', baseURL: `${server.url}/v1`, maxRetries: 0 }),
    ]) {
      // The client asks for base64 and decodes it; float is asked for explicitly too.
      for (const encoding_format of [undefined, 'float']) {
        const r = await client.embeddings.create({ model: 'tiny-nomic-bert', input: TEXTS, ...(encoding_format ? { encoding_format } : {}) });
        assert.equal(r.data.length, TEXTS.length);
        r.data.forEach((d, i) => assert.ok(similarity(d.embedding, direct.data[i].embedding) > 0.999999));
        assert.equal(r.usage.prompt_tokens, direct.usage.prompt_tokens);
      }
      const short = await client.embeddings.create({ model: 'tiny-nomic-bert', input: 'hello', dimensions: 32 });
      assert.equal(short.data[0].embedding.length, 32);
      await assert.rejects(client.embeddings.create({ model: 'tiny-nomic-bert', input: [Array(600).fill(7)] }), (e) => e.status === 400 && e.code === 'context_length_exceeded');
    }
  } finally {
    await server.close({ graceMs: 0 });
  }
});

test('the worker engine answers embeddings as createEngine does, and its errors keep their OpenAI shape', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const worker = await createWorkerEngine({ model: modelPath('tiny-bert'), backend: 'wasm', wasmVariant: 'single' });
  try {
    assert.equal(worker.modelInfo.kind, 'embedding');
    const direct = await engineFor('tiny-bert').embeddings.create({ input: TEXTS });
    const r = await worker.embeddings.create({ input: TEXTS });
    r.data.forEach((d, i) => assert.ok(similarity(d.embedding, direct.data[i].embedding) > 0.999999));
    await assert.rejects(worker.embeddings.create({ input: 'a', dimensions: 8 }), (e) => e.status === 400 && e.param === 'dimensions');
  } finally {
    await worker.unload();
    await worker.terminate();
  }
});

test('the C ABI: texts and token arrays embed alike; sessions refuse an encoder (its WebGPU plan is its embedding pass), embedders a chat model; errors through the one channel', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const tabllm = await loadEngine('tabllm-st');
  const bert = tabllm.loadModel(fs.readFileSync(modelPath('tiny-bert')));
  const chat = tabllm.loadModel(fs.readFileSync(modelPath('tiny-qwen3')));
  try {
    assert.equal(bert.info().kind, 'embedding');
    assert.equal(chat.info().kind, 'chat');
    const embedder = bert.createEmbedder();
    try {
      const fromTexts = embedder.embedTexts(TEXTS);
      const fromTokens = embedder.embed(TEXTS.map((text) => bert.embedTokenize(text)));
      fromTexts.forEach((v, i) => assert.deepEqual(Array.from(v), Array.from(fromTokens[i])));
      assert.throws(() => embedder.embed([[101, 102], []]), /input 1 is empty/);
      assert.throws(() => embedder.embedTexts([]), /non-empty JSON array/);
    } finally {
      embedder.free();
    }
    assert.throws(() => bert.createSession(), /embedding model/);
    assert.equal(bert.planWebgpu({}).plan.kind, 'encoder');  // its embedding pass (encoder_plan.h)
    assert.throws(() => chat.createEmbedder(), /chat model/);
  } finally {
    bert.free();
    chat.free();
  }
});

test('a chat model and an embedding model in one engine: each request answered by the model it names, interleaved', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const engine = await createEngine({ backend: 'wasm', wasmVariant: 'single',
    models: [{ model: storiesPath(), name: 'stories' }, { model: modelPath('tiny-nomic-bert'), name: 'notes' }] });
  try {
    const alone = (await engineFor('tiny-nomic-bert').embeddings.create({ input: TEXTS })).data.map((d) => d.embedding);
    const ask = { model: 'stories', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 };
    const [story, vectors, again] = await Promise.all([
      engine.completions.create(ask),
      engine.embeddings.create({ model: 'notes', input: TEXTS }),
      engine.completions.create(ask),
    ]);
    assert.equal(story.model, 'stories');
    assert.equal(again.choices[0].text, story.choices[0].text);
    assert.ok(story.choices[0].text.length > 0);
    assert.equal(vectors.model, 'notes');
    vectors.data.forEach((d, i) => assert.ok(similarity(d.embedding, alone[i]) > 0.999999, `input ${i}`));
    await assert.rejects(engine.embeddings.create({ model: 'stories', input: 'hi' }), (e) => e.status === 400 && e.code === 'model_not_embedding');
    await assert.rejects(engine.completions.create({ ...ask, model: 'notes' }), (e) => e.status === 400 && e.code === 'model_not_chat');
    assert.deepEqual((await engine.models.list()).data.map((m) => m.id), ['stories', 'notes']);
  } finally {
    await engine.unload();
  }
});
