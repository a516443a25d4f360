// createEngine on stories260K (WebAssembly): chat and text completions in OpenAI's shapes, streamed and
// not, greedy text equal to the reference, n, seeds, stop strings, logprobs, usage with timings, and
// abort (AbortSignal, engine.interrupt()) after which the next request runs normally.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { missingBuild, reference, storiesEngine } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

let engine = null;
const skip = missingBuild();

before(async () => {
  if (!skip) engine = await storiesEngine();
});
after(() => engine?.unload());

const ask = (content, extra = {}) => ({ messages: [{ role: 'user', content }], ...extra });

function checkUsage(usage) {
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  for (const k of ['ttft_ms', 'prefill_ms', 'decode_ms', 'prefill_tokens_per_s', 'decode_tokens_per_s', 'prompt_tokens_reused'])
    assert.equal(typeof usage.timings[k], 'number', k);
  assert.ok(usage.timings.ttft_ms > 0);
}

test('greedy chat completion: the reference text, OpenAI shape, usage with timings', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const r = await engine.chat.completions.create(ask(ref.prompt, { temperature: 0, max_tokens: 24 }));
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, 'chat.completion');
  assert.equal(typeof r.created, 'number');
  assert.equal(r.model, 'stories260K');
  assert.equal(r.choices.length, 1);
  const [c] = r.choices;
  assert.equal(c.index, 0);
  assert.equal(c.message.role, 'assistant');
  assert.ok(ref.text.startsWith(c.message.content) && c.message.content.length > 40, c.message.content);
  assert.equal(c.finish_reason, 'length');
  assert.equal(c.logprobs, null);
  assert.equal(r.usage.prompt_tokens, ref.prompt_ids.length);
  assert.equal(r.usage.completion_tokens, 24);
  checkUsage(r.usage);
  assert.ok(r.usage.timings.decode_tokens_per_s > 0);
});

test('streamed chat: role first, content deltas that add up to the same text, finish, usage last', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const stream = await engine.chat.completions.create(ask(ref.prompt, { temperature: 0, max_tokens: 24, stream: true, stream_options: { include_usage: true } }));
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks.length >= 4);
  const ids = new Set(chunks.map((c) => c.id));
  assert.equal(ids.size, 1);
  for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk');
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  checkUsage(last.usage);
  const finish = chunks.at(-2);
  assert.equal(finish.choices[0].finish_reason, 'length');
  assert.equal(finish.usage, null);
  const text = chunks.slice(1, -2).map((c) => c.choices[0].delta.content).join('');
  assert.ok(ref.text.startsWith(text) && text.length > 40);
});

test('text completion, streamed and not; stop strings end with finish_reason stop', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const whole = await engine.completions.create({ prompt: ref.prompt, temperature: 0, max_tokens: 16 });
  assert.equal(whole.object, 'text_completion');
  assert.match(whole.id, /^cmpl-/);
  assert.ok(ref.text.startsWith(whole.choices[0].text));
  const parts = [];
  for await (const chunk of await engine.completions.create({ prompt: ref.prompt, temperature: 0, max_tokens: 16, stream: true })) {
    assert.equal(chunk.object, 'text_completion');
    parts.push(chunk.choices[0].text);
  }
  assert.equal(parts.join(''), whole.choices[0].text);
  const stopped = await engine.completions.create({ prompt: ref.prompt, temperature: 0, max_tokens: 40, stop: [' Lily'] });
  assert.equal(stopped.choices[0].finish_reason, 'stop');
  assert.equal(stopped.choices[0].text, ref.text.slice(0, ref.text.indexOf(' Lily')));
});

test('n choices; the same seed gives the same text; sampling extensions are accepted', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const req = ask('Lily and her dog', { n: 2, seed: 42, temperature: 0.9, top_k: 20, min_p: 0.05, repetition_penalty: 1.1, max_tokens: 12 });
  const a = await engine.chat.completions.create(req);
  const b = await engine.chat.completions.create(req);
  assert.equal(a.choices.length, 2);
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1]);
  assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
  assert.equal(a.usage.completion_tokens, 24);
});

test('logprobs with top_logprobs, in chat and completions', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const r = await engine.chat.completions.create(ask('Once upon a time', { temperature: 0, max_tokens: 6, logprobs: true, top_logprobs: 3 }));
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, 6);
  assert.equal(content.map((e) => e.token).join(''), r.choices[0].message.content);
  for (const e of content) {
    assert.ok(e.logprob <= 0);
    assert.ok(Array.isArray(e.bytes));
    assert.equal(e.top_logprobs.length, 3);
    assert.equal(e.top_logprobs[0].token, e.token);  // greedy: the chosen token is the most likely
  }
  const c = await engine.completions.create({ prompt: 'Once upon a time', temperature: 0, max_tokens: 4, logprobs: 2 });
  const lp = c.choices[0].logprobs;
  assert.equal(lp.tokens.length, 4);
  assert.equal(lp.token_logprobs.length, 4);
  assert.equal(Object.keys(lp.top_logprobs[0]).length, 2);
  assert.deepEqual(lp.text_offset.slice(0, 2), [0, lp.tokens[0].length]);
});

test('an AbortSignal stops a stream; interrupt() ends a request with "abort"; the next request is normal', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const controller = new AbortController();
  const stream = await engine.chat.completions.create(ask('Once upon a time', { max_tokens: 200, stream: true }), { signal: controller.signal });
  let seen = 0;
  await assert.rejects(async () => {
    for await (const _ of stream) if (++seen === 3) controller.abort();
  }, (e) => e.name === 'AbortError');
  assert.ok(seen <= 5, `stopped after ${seen} chunks`);

  const pending = engine.chat.completions.create(ask('Once upon a time', { max_tokens: 200 }));
  setTimeout(() => engine.interrupt(), 20);
  const interrupted = await pending;
  assert.equal(interrupted.choices[0].finish_reason, 'abort');
  assert.ok(interrupted.usage.completion_tokens < 200);

  const ref = reference();
  const next = await engine.chat.completions.create(ask(ref.prompt, { temperature: 0, max_tokens: 10 }));
  assert.ok(ref.text.startsWith(next.choices[0].message.content));
  assert.equal(next.choices[0].finish_reason, 'length');
});

test('requests queue: concurrent requests each get their own complete answer', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const [a, b] = await Promise.all([
    engine.chat.completions.create(ask(ref.prompt, { temperature: 0, max_tokens: 8 })),
    engine.completions.create({ prompt: ref.prompt, temperature: 0, max_tokens: 8 }),
  ]);
  assert.equal(a.choices[0].message.content, b.choices[0].text);
});
