// createWorkerEngine in Node (worker_threads): the same API as createEngine, with the model in the
// worker; streamed chunks arrive as produced, an abort crosses over, errors keep their OpenAI shape, and
// engine.fetch works on the proxy.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { TabllmAPIError, createWorkerEngine } from '../../js/src/index.mjs';
import { missingBuild, reference, storiesPath } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

let engine = null;
const progress = [];
const skip = missingBuild();
before(async () => {
  if (skip) return;
  engine = await createWorkerEngine({ model: storiesPath(), backend: 'wasm', wasmVariant: 'single', onProgress: (e) => progress.push(e.phase) });
});
after(async () => {
  await engine?.unload();
  await engine?.terminate();
});

test('worker engine: loaded in the worker, with progress and state on the proxy', async (t) => {
  if (skip) return skipOrFail(t, skip);
  assert.ok(progress.includes('ready'));
  assert.equal(engine.backend, 'wasm');
  assert.equal(engine.modelId, 'stories260K');
  assert.equal(engine.contextSize, 512);
});

test('worker engine: chat completion and stream give the reference text', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const req = { messages: [{ role: 'user', content: ref.prompt }], temperature: 0, max_tokens: 16 };
  const r = await engine.chat.completions.create(req);
  assert.ok(ref.text.startsWith(r.choices[0].message.content));
  let text = '';
  for await (const c of await engine.chat.completions.create({ ...req, stream: true })) text += c.choices[0]?.delta?.content ?? '';
  assert.equal(text, r.choices[0].message.content);
});

test('worker engine: abort crosses over; errors keep their shape; the next request works', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const controller = new AbortController();
  const stream = await engine.completions.create({ prompt: 'Once', max_tokens: 300, stream: true }, { signal: controller.signal });
  let n = 0;
  const started = performance.now();
  await assert.rejects(async () => {
    for await (const _ of stream) if (++n === 2) controller.abort();
  }, (e) => e.name === 'AbortError');
  assert.ok(performance.now() - started < 5000);
  await assert.rejects(engine.chat.completions.create({ messages: [] }), (e) => e instanceof TabllmAPIError && e.code === 'empty_array' && e.status === 400);
  const response = await engine.fetch('http://tabllm.local/v1/chat/completions', {
    method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: reference().prompt }], temperature: 0, max_tokens: 6 }),
  });
  assert.equal(response.status, 200);
  assert.ok(reference().text.startsWith((await response.json()).choices[0].message.content));
});

test('worker engine: metrics() crosses over, its percentiles those of the responses', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const before = (await engine.metrics()).requests;
  const r = await engine.completions.create({ prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
  const m = await engine.metrics();
  assert.equal(m.requests, before + 1);
  assert.equal(m.history.at(-1).decode_tokens_per_s, r.usage.timings.decode_tokens_per_s);
  assert.equal(m.backend, 'wasm');
  assert.ok(m.memory.wasm_heap_bytes > 0);
});
