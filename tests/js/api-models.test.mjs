// Several models in one engine (WebAssembly backend): stories260K under two names beside tiny-llama (a
// synthetic model on the same vocabulary, with other weights, so another greedy reply). Requests naming each
// are answered by that model, interleaved; the models share one WebAssembly module; an unloaded model's heap
// is freed; a memory budget evicts the least recently used model, never one a request waits for; an
// unknown name is OpenAI's 404, through the real `openai` client. The worker engine (Node: worker_threads)
// does the same across its boundary.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import OpenAI from 'openai';

import { createEngine, createWorkerEngine } from '../../js/src/index.mjs';
import { missingBuild, reference, storiesPath } from './api-env.mjs';
import { modelsDir, skipOrFail, synthModel } from './wasm_env.mjs';

let skip = missingBuild();
let engine = null;
let tinyPath = null;
let tinyAlone = null;  // tiny-llama's greedy reply, from an engine holding it alone
const common = { backend: 'wasm', wasmVariant: 'single', contextSize: 128 };
const ask = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: reference().prompt }], temperature: 0, max_tokens: 16, ...extra });

before(async () => {
  if (skip) return;
  synthModel('tiny-llama', 'f32');
  tinyPath = path.join(modelsDir, 'tiny-llama-f32.gguf');
  const alone = await createEngine({ model: tinyPath, ...common });
  tinyAlone = (await alone.chat.completions.create(ask(undefined))).choices[0].message.content;
  await alone.unload();
  engine = await createEngine({ ...common, models: [{ model: storiesPath(), name: 'a' }, { model: storiesPath(), name: 'b' }, { model: tinyPath, name: 'tiny' }] });
});
after(async () => {
  await engine?.unload();
});

const startsReference = (text) => text.length > 15 && reference().text.startsWith(text);

test('models: interleaved requests, streamed or not, are each answered by the model they name', async (t) => {
  if (skip) return skipOrFail(t, skip);
  assert.ok(tinyAlone.length > 5 && !startsReference(tinyAlone), `tiny-llama's reply should differ from stories260K's: ${tinyAlone}`);
  const order = ['a', 'tiny', 'b', 'tiny', 'a', 'b'];
  const pending = order.map((name, i) => (i % 2
    ? engine.chat.completions.create(ask(name, { stream: true })).then(async (stream) => {
      let text = '';
      let model = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        model = chunk.model;
      }
      return { model, text };
    })
    : engine.chat.completions.create(ask(name)).then((r) => ({ model: r.model, text: r.choices[0].message.content }))));
  const replies = await Promise.all(pending);
  for (const [i, name] of order.entries()) {
    assert.equal(replies[i].model, name);
    if (name === 'tiny') assert.equal(replies[i].text, tinyAlone);
    else assert.ok(startsReference(replies[i].text), `${name}: ${replies[i].text}`);
  }
  // Without `model`: the default, the first of `models`.
  const r = await engine.completions.create({ prompt: reference().prompt, temperature: 0, max_tokens: 8 });
  assert.equal(r.model, 'a');
  assert.ok(reference().text.startsWith(r.choices[0].text));
});

test('models: the models share one WebAssembly module; unload frees a model\'s heap', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const memory = engine.memory();
  assert.equal(memory.heaps.length, 1, JSON.stringify(memory.heaps));
  assert.equal(memory.heaps[0].models, 3);
  assert.equal(memory.budget, null);
  const info = engine.models.info();
  assert.deepEqual(info.map((m) => [m.id, m.default, m.backend]), [['a', true, 'wasm'], ['b', false, 'wasm'], ['tiny', false, 'wasm']]);
  const b = info.find((m) => m.id === 'b');
  assert.ok(b.bytes.heap > 1e6 && b.bytes.gpu === 0, JSON.stringify(b));
  // Each model's header was parsed in that one module: three loads, whichever model is asked.
  assert.equal(engine.debugStats('b').header_parses, engine.debugStats('tiny').header_parses);

  await engine.unload('b');
  const without = engine.memory().heaps[0].inUseBytes;
  t.diagnostic(`heap in use: ${memory.heaps[0].inUseBytes} bytes with a, b, tiny; ${without} after unloading b (its load took ${b.bytes.heap})`);
  assert.ok(memory.heaps[0].inUseBytes - without > b.bytes.heap - 4096, `unload freed ${memory.heaps[0].inUseBytes - without} bytes; the load took ${b.bytes.heap}`);
  assert.deepEqual((await engine.models.list()).data.map((m) => m.id), ['a', 'tiny']);
  await assert.rejects(engine.chat.completions.create(ask('b')), (e) => e.status === 404 && e.code === 'model_not_found');
  // Loaded again, used and unloaded: the heap holds what it held without it (nothing leaks; malloc's
  // bookkeeping of a block may differ by a few bytes from one load to the next).
  const near = (x, y) => Math.abs(x - y) < 4096;
  const again = await engine.load(storiesPath(), { name: 'b' });
  assert.ok(near(again.bytes.heap, b.bytes.heap), `${again.bytes.heap} vs ${b.bytes.heap}`);
  assert.ok(startsReference((await engine.chat.completions.create(ask('b'))).choices[0].message.content));
  await engine.unload('b');
  assert.ok(near(engine.memory().heaps[0].inUseBytes, without), `${engine.memory().heaps[0].inUseBytes} bytes in use, ${without} before`);
  await engine.load(storiesPath(), { name: 'b' });
});

test('models: on the threaded build, a second model joins the module (its pthread pool grows by the workers its session takes)', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const threaded = await createEngine({ backend: 'wasm', wasmVariant: 'threaded', threads: 2, contextSize: 128,
    models: [{ model: storiesPath(), name: 'a' }, { model: tinyPath, name: 'tiny' }] });
  t.after(() => threaded.unload());
  assert.deepEqual(threaded.memory().heaps.map((h) => [h.variant, h.threads, h.models]), [['threaded', 2, 2]]);
  const [tiny, a] = await Promise.all([threaded.chat.completions.create(ask('tiny')), threaded.chat.completions.create(ask('a'))]);
  assert.equal(tiny.choices[0].message.content, tinyAlone);
  assert.ok(startsReference(a.choices[0].message.content));
  await threaded.unload('tiny');
  await threaded.load(tinyPath, { name: 'tiny' });  // the freed session's worker went back to the pool
  assert.equal((await threaded.chat.completions.create(ask('tiny'))).choices[0].message.content, tinyAlone);
});

test('models: an unknown model is OpenAI\'s 404 through the openai client; /v1/models lists them', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const client = new OpenAI({ apiKey: 'local', baseURL: 'http://tabllm.local/v1', fetch: engine.fetch });
  assert.deepEqual((await client.models.list()).data.map((m) => m.id).sort(), ['a', 'b', 'tiny']);
  assert.equal((await client.models.retrieve('tiny')).id, 'tiny');
  await assert.rejects(client.chat.completions.create(ask('gpt-4o')), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, String(e));
    assert.equal(e.status, 404);
    assert.deepEqual([e.type, e.param, e.code], ['invalid_request_error', 'model', 'model_not_found']);
    assert.match(e.message, /'gpt-4o' does not exist \(models loaded: 'a', 'tiny', 'b'\)/);
    return true;
  });
  const streamed = await fetch404(engine.fetch, ask('nope', { stream: true }));
  assert.equal(streamed.status, 404);
  assert.equal((await streamed.json()).error.code, 'model_not_found');
  const r = await client.chat.completions.create(ask('tiny'));
  assert.equal(r.choices[0].message.content, tinyAlone);
});

function fetch404(fetchFn, body) {
  return fetchFn('http://tabllm.local/v1/chat/completions', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

test('models: a memory budget evicts the least recently used model, never one a request waits for', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const single = await createEngine({ model: storiesPath(), ...common });
  const one = single.memory().used;  // weights and KV cache of stories260K
  await single.unload();
  const budgeted = await createEngine({ ...common, memoryBudget: Math.floor(2.5 * one), models: [{ model: storiesPath(), name: 'a' }, { model: storiesPath(), name: 'b' }] });
  t.after(() => budgeted.unload());
  assert.deepEqual(budgeted.models.info().map((m) => m.budgetBytes), [one, one]);
  t.diagnostic(`stories260K counts ${one} bytes against a budget of ${budgeted.memory().budget}`);
  await budgeted.chat.completions.create(ask('a'));  // 'b' is now the least recently used
  await budgeted.load(storiesPath(), { name: 'c' });
  assert.deepEqual(budgeted.models.info().map((m) => m.id), ['a', 'c']);
  await assert.rejects(budgeted.chat.completions.create(ask('b')), (e) => e.status === 404 && /unloaded to make room for 'c'/.test(e.message));

  // 'a' is the least recently used, but a request made before the load runs waits for it: 'c' goes instead.
  await budgeted.chat.completions.create(ask('c'));
  await budgeted.chat.completions.create(ask('a'));
  await budgeted.chat.completions.create(ask('c'));
  const loading = budgeted.load(storiesPath(), { name: 'd' });
  const waiting = budgeted.chat.completions.create(ask('a'));
  await loading;
  assert.ok(startsReference((await waiting).choices[0].message.content));
  assert.deepEqual(budgeted.models.info().map((m) => m.id).sort(), ['a', 'd']);
  assert.ok(budgeted.memory().used <= budgeted.memory().budget);

  // A model larger than the whole budget: an error with both sizes.
  const small = await createEngine({ ...common, memoryBudget: Math.floor(one / 2), models: [] });
  await assert.rejects(small.load(storiesPath(), { name: 'big' }), (e) => {
    assert.match(e.message, /the model 'big' needs about [\d.]+ MB \(weights [\d.]+ MB \+ KV cache [\d.]+ MB at context 128\), more than the engine's memoryBudget of [\d.]+ MB/);
    return true;
  });
  assert.equal(small.memory().used, 0);
  await assert.rejects(small.chat.completions.create(ask(undefined)), (e) => e.status === 503 && /no model is loaded/.test(e.message));
});

test('models: options are checked, names are unique; a reloaded model keeps its place (the default stays the default)', async (t) => {
  if (skip) return skipOrFail(t, skip);
  await assert.rejects(createEngine({ models: [{ model: storiesPath(), cacheDir: '/tmp' }] }), /models\[0\]: the option "cacheDir" is not one model's \(it is the engine's/);
  await assert.rejects(createEngine({ models: 'a.gguf' }), /models must be an array/);
  await assert.rejects(engine.load(storiesPath(), { name: 'a' }), /a model named 'a' is loaded already/);
  await assert.rejects(engine.unload('zzz'), (e) => e.code === 'model_not_found');
  await assert.rejects(engine.chat.completions.create(ask(42)), (e) => e.status === 400 && e.param === 'model');
  const order = engine.models.info().map((m) => m.id);
  await engine.reload('a');
  assert.deepEqual(engine.models.info().map((m) => m.id), order);
  assert.equal(engine.modelId, 'a');
  assert.ok(startsReference((await engine.chat.completions.create(ask(undefined))).choices[0].message.content));
});

test('models: the worker engine loads, selects, unloads and counts as createEngine does', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const worker = await createWorkerEngine({ ...common, models: [{ model: storiesPath(), name: 'a' }] });
  t.after(() => worker.terminate());
  const loaded = await worker.load(tinyPath, { name: 'tiny' });
  assert.deepEqual([loaded.id, loaded.backend, loaded.default], ['tiny', 'wasm', false]);
  assert.deepEqual((await worker.models.list()).data.map((m) => m.id), ['a', 'tiny']);
  const [tiny, a] = await Promise.all([worker.chat.completions.create(ask('tiny')), worker.chat.completions.create(ask('a', { stream: true }))]);
  assert.equal(tiny.choices[0].message.content, tinyAlone);
  let text = '';
  for await (const chunk of a) text += chunk.choices[0]?.delta?.content ?? '';
  assert.ok(startsReference(text), text);
  const client = new OpenAI({ apiKey: 'local', baseURL: 'http://tabllm.local/v1', fetch: worker.fetch });
  await assert.rejects(client.chat.completions.create(ask('b')), (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  await assert.rejects(worker.models.retrieve('b'), (e) => e.status === 404 && e.code === 'model_not_found');
  const before = await worker.memory();
  await worker.unload('tiny');
  assert.deepEqual(worker.models.info().map((m) => m.id), ['a']);
  const after = await worker.memory();
  assert.equal(after.heaps[0].models, 1);
  assert.ok(before.heaps[0].inUseBytes - after.heaps[0].inUseBytes >= loaded.bytes.heap - 4096);
});

test('models: the options that name the `model` option\'s file (sha256, chatTemplate, name) are not another model\'s', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const { createHash } = await import('node:crypto');
  const { readFileSync } = await import('node:fs');
  const sha256 = createHash('sha256').update(readFileSync(storiesPath())).digest('hex');
  const first = await createEngine({ ...common, model: storiesPath(), modelName: 'stories', sha256, chatTemplate: '{{ messages[0].content }}' });
  t.after(() => first.unload());
  await first.load(tinyPath, { name: 'tiny' });  // checked against its own hash (none), not the stories file's
  assert.equal((await first.chat.completions.create(ask('tiny'))).choices[0].message.content, tinyAlone);
  assert.equal((await first.chat.completions.create(ask('stories'))).model, 'stories');
});
