// Several models in Chromium (the built package, js/dist, as the chat demo's build serves it with its npm
// imports resolved for the browser). A worker engine: stories260K and tiny-llama
// loaded from URLs into one Web Worker's engine; requests naming each, interleaved, are answered with the
// same greedy text as Node's engine gives for that model; /v1/models lists both through engine.fetch; an
// unknown name is a 404 model_not_found; unload frees the model's heap. The Service Worker endpoint: a tab
// hosts both models (createServiceWorkerEngine({models})) and a plain fetch of /v1 picks each by name; a tab
// hosting a chat model beside an embedding model (tiny-nomic-bert) answers the unmodified `openai` client on
// location.origin + '/v1' with the vectors of Node's engine on the same file, floats and base64.
//
//   node --test --test-concurrency=1 tests/browser/models-worker.test.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { createEngine, similarity } from '../../js/src/index.mjs';
import { serveChat } from '../../apps/chat/server.mjs';
import { launchChromium, openPage, repoRoot } from './harness.mjs';
import { greedyReference, modelsDir, skipOrFail, storiesModel, synthModel } from '../js/wasm_env.mjs';

const prompt = greedyReference()[0].prompt;
const ask = (model) => ({ model, messages: [{ role: 'user', content: prompt }], temperature: 0, max_tokens: 16 });
const expected = {};  // Node's engine, one model at a time: the replies the browser's must equal
const EMBED_TEXTS = ['the quick brown fox jumps over the lazy dog', 'search notes in the browser page', 'a'];
let expectedVectors = null;  // Node's engine on tiny-nomic-bert-f32.gguf: the vectors the browser's must equal
let skip = fs.existsSync(path.join(repoRoot, 'js/dist/index.js')) ? null : 'js/dist is missing: run node js/build.mjs';
let server = null;
let chromium = null;

before(async () => {
  if (skip) return;
  storiesModel('f32');
  synthModel('tiny-llama', 'f32');
  for (const [name, file] of [['stories', 'stories260K-f32.gguf'], ['tiny', 'tiny-llama-f32.gguf']]) {
    const engine = await createEngine({ model: path.join(modelsDir, file), backend: 'wasm', wasmVariant: 'single', contextSize: 128 });
    expected[name] = (await engine.chat.completions.create(ask(undefined))).choices[0].message.content;
    await engine.unload();
  }
  const nomic = path.join(modelsDir, 'tiny-nomic-bert-f32.gguf');
  if (!fs.existsSync(nomic)) throw new Error(`${nomic} is missing: build the native models (cmake --build build)`);
  const embedder = await createEngine({ model: nomic, backend: 'wasm', wasmVariant: 'single', modelName: 'nomic' });
  expectedVectors = (await embedder.embeddings.create({ model: 'nomic', input: EMBED_TEXTS })).data.map((d) => d.embedding);
  await embedder.unload();
  execFileSync(process.execPath, [path.join(repoRoot, 'apps/chat/build.mjs')], { stdio: 'inherit' });
  server = await serveChat({ mounts: [['/test-models/', modelsDir], ['/node_modules/openai/', path.join(repoRoot, 'node_modules/openai')]] });
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
  await server?.close();
});

// Model URLs resolve against the worker's script, so the pages give them whole.
const MODELS = (origin) => [{ model: new URL('/test-models/stories260K-f32.gguf', origin).href, name: 'stories' }, { model: new URL('/test-models/tiny-llama-f32.gguf', origin).href, name: 'tiny' }];

test('Chromium worker engine: two models, interleaved requests each answered by its model; 404; unload', async (t) => {
  if (skip) return skipOrFail(t, skip);
  assert.notEqual(expected.stories, expected.tiny);
  const page = await openPage(chromium.browser, `${server.url}?autoload=0&sw=0`);
  try {
    // The demo's page without its own engine (autoload=0): the test imports the package itself.
    page.setDefaultTimeout(120_000);
    const out = await page.evaluate(async ({ requests, models }) => {
      const { createWorkerEngine } = await import('/js/dist/index.js');
      const engine = await createWorkerEngine({ backend: 'wasm', contextSize: 128, models });
      const replies = await Promise.all(requests.map((r) => engine.chat.completions.create(r)));
      const list = await (await engine.fetch('http://tabllm.local/v1/models')).json();
      const missing = await engine.fetch('http://tabllm.local/v1/chat/completions', { method: 'POST', body: JSON.stringify({ ...requests[0], model: 'nope' }) });
      const before = await engine.memory();
      const tinyHeap = engine.models.info().find((m) => m.id === 'tiny').bytes.heap;
      await engine.unload('tiny');
      const after = await engine.memory();
      await engine.terminate();
      return { replies: replies.map((r) => [r.model, r.choices[0].message.content]), ids: list.data.map((m) => m.id),
        missing: { status: missing.status, body: await missing.json() }, freed: before.heaps[0].inUseBytes - after.heaps[0].inUseBytes, tinyHeap,
        models: [before.heaps[0].models, after.heaps[0].models] };
    }, { requests: ['tiny', 'stories', 'tiny', 'stories'].map(ask), models: MODELS(server.url) });
    for (const [model, text] of out.replies) assert.equal(text, expected[model], `${model}: ${text}`);
    assert.deepEqual(out.replies.map(([model]) => model), ['tiny', 'stories', 'tiny', 'stories']);
    assert.deepEqual(out.ids, ['stories', 'tiny']);
    assert.equal(out.missing.status, 404);
    assert.deepEqual({ ...out.missing.body.error, message: undefined }, { message: undefined, type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
    assert.deepEqual(out.models, [2, 1]);
    assert.ok(out.freed > out.tinyHeap - 4096, `unload freed ${out.freed} bytes; the load took ${out.tinyHeap}`);
  } finally {
    await page.close();
  }
});

test('Service Worker endpoint: the host tab holds two models; a plain fetch of /v1 picks each by name; an unknown one is a 404', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const context = await chromium.browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(120_000);
    await page.goto(`${server.url}?autoload=0`);  // the demo registers its Service Worker (serveOpenAI)
    const out = await page.evaluate(async ({ requests, models }) => {
      const { createServiceWorkerEngine } = await import('/js/dist/index.js');
      const engine = await createServiceWorkerEngine({ backend: 'wasm', contextSize: 128, models });
      const post = (body) => fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const replies = await Promise.all(requests.map(async (r) => (await post(r)).json()));
      const missing = await post({ ...requests[0], model: 'nope' });
      return { replies: replies.map((r) => [r.model, r.choices?.[0]?.message.content ?? JSON.stringify(r)]), ids: (await (await fetch('/v1/models')).json()).data.map((m) => m.id),
        missing: { status: missing.status, body: await missing.json() }, modelId: engine.modelId };
    }, { requests: ['tiny', 'stories'].map(ask), models: MODELS(server.url) });
    assert.deepEqual(out.replies, [['tiny', expected.tiny], ['stories', expected.stories]]);
    assert.deepEqual(out.ids, ['stories', 'tiny']);
    assert.equal(out.modelId, 'stories');
    assert.equal(out.missing.status, 404);
    assert.equal(out.missing.body.error.code, 'model_not_found');
  } finally {
    await context.close();
  }
});

test('Service Worker endpoint: a chat model beside an embedding model; the openai client gets Node\'s vectors (float and base64), chat still answers', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const context = await chromium.browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(120_000);
    await page.goto(`${server.url}?autoload=0`);
    const out = await page.evaluate(async ({ models, texts, chat }) => {
      const { createServiceWorkerEngine } = await import('/js/dist/index.js');
      await createServiceWorkerEngine({ backend: 'wasm', contextSize: 128, models });
      const { default: OpenAI } = await import('/node_modules/openai/index.mjs');
      const client = new OpenAI({ apiKey: 'local', baseURL: `${location.origin}/v1`, dangerouslyAllowBrowser: true });
      const decode = (s) => Array.from(new Float32Array(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer));
      const float = await client.embeddings.create({ model: 'nomic', input: texts, encoding_format: 'float' });
      const base64 = await client.embeddings.create({ model: 'nomic', input: texts, encoding_format: 'base64' });
      // With no encoding_format the client asks for base64 itself and decodes it to numbers.
      const plain = await client.embeddings.create({ model: 'nomic', input: texts });
      const reply = await client.chat.completions.create(chat);
      return {
        float: float.data.map((d) => d.embedding), base64: base64.data.map((d) => decode(d.embedding)), plain: plain.data.map((d) => d.embedding),
        model: float.model, usage: float.usage, reply: [reply.model, reply.choices[0].message.content],
        ids: (await client.models.list()).data.map((m) => m.id),
      };
    }, { models: [MODELS(server.url)[0], { model: new URL('/test-models/tiny-nomic-bert-f32.gguf', server.url).href, name: 'nomic' }], texts: EMBED_TEXTS, chat: ask('stories') });
    assert.equal(out.model, 'nomic');
    assert.ok(out.usage.prompt_tokens > 0);
    for (const [format, vectors] of Object.entries({ float: out.float, base64: out.base64, plain: out.plain })) {
      assert.equal(vectors.length, EMBED_TEXTS.length, format);
      vectors.forEach((v, i) => {
        const cosine = similarity(v, expectedVectors[i]);
        assert.ok(cosine > 0.999999, `${format} input ${i}: cosine ${cosine} with Node's vector`);
      });
    }
    assert.deepEqual(out.reply, ['stories', expected.stories]);
    assert.deepEqual(out.ids, ['stories', 'nomic']);
  } finally {
    await context.close();
  }
});
