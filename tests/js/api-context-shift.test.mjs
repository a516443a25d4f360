// Conversations past the end of the context, through the package on WebAssembly (stories260K, context
// 512): a reply longer than the context goes on (the core shifts the context) and only max_tokens ends it;
// a chat longer than the context is answered under truncation "auto" (its oldest turns dropped, and said in
// usage) and refused under "disabled" with a 400 that names truncation; a completion prompt longer than the
// context keeps BOS and its end; the engine option sets the default; structured output holds across shifts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { TabllmAPIError, createEngine } from '../../js/src/index.mjs';
import { droppableTurns, fewestTurnsToDrop, replyRoom, withoutOldestTurns } from '../../js/src/truncation.mjs';
import { longChat, missingBuild, storiesEngine, storiesPath } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

const CONTEXT = 512;
const END_TOKENS = { 1: -100, 2: -100 };  // stories260K's BOS and EOS: the story never ends
let engine = null;
const skip = missingBuild();
before(async () => {
  if (!skip) engine = await storiesEngine({ contextSize: CONTEXT });
});
after(() => engine?.unload());

test('a turn is a user message and what follows it; system messages and the last turn stay', () => {
  const m = [
    { role: 'system', content: 's' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'u1' },
    { role: 'assistant', content: 'a1' }, { role: 'tool', content: 't1' }, { role: 'system', content: 's2' }, { role: 'user', content: 'u2' },
  ];
  assert.equal(droppableTurns(m), 2);
  assert.deepEqual(withoutOldestTurns(m, 1).map((x) => x.content), ['s', 'u1', 'a1', 't1', 's2', 'u2']);
  assert.deepEqual(withoutOldestTurns(m, 2).map((x) => x.content), ['s', 's2', 'u2']);
  assert.equal(fewestTurnsToDrop(10, (n) => n >= 7), 7);
  assert.equal(fewestTurnsToDrop(10, () => false), null);
  assert.equal(replyRoom(512, undefined), 128);
  assert.equal(replyRoom(512, 32), 32);
});

test('max_tokens 1500 at context 512, end tokens banned: 1500 tokens, the context shifted, finish_reason length', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const r = await engine.completions.create({ prompt: 'Once upon a time', max_tokens: 1500, temperature: 0.8, seed: 3, logit_bias: END_TOKENS });
  t.diagnostic(`${r.usage.context_shifts} shifts, ${r.usage.timings.decode_tokens_per_s.toFixed(0)} tokens/s`);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 1500);
  assert.ok(r.usage.context_shifts >= 4, `${r.usage.context_shifts} shifts`);
  assert.ok(r.choices[0].text.length > 3000);
});

test('a 14-turn chat longer than the context: answered under truncation "auto", its oldest turns dropped', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const messages = longChat();
  const r = await engine.chat.completions.create({ messages, truncation: 'auto', max_tokens: 24, temperature: 0 });
  t.diagnostic(`${r.usage.truncated_messages} of ${messages.length} messages dropped, prompt ${r.usage.prompt_tokens} tokens`);
  assert.ok(r.choices[0].message.content.length > 0);
  assert.ok(r.usage.truncated_messages > 0 && r.usage.truncated_messages % 2 === 0, `${r.usage.truncated_messages} messages dropped: whole turns`);
  assert.ok(r.usage.prompt_tokens + 24 <= CONTEXT, `${r.usage.prompt_tokens} prompt tokens leave room for the reply`);
  // The fewest turns: with one turn more the prompt would not leave that room (or not fit at all).
  let longer = Infinity;
  try {
    longer = (await engine.chat.completions.create({ messages: messages.slice(r.usage.truncated_messages - 2), truncation: 'disabled', max_tokens: 1 })).usage.prompt_tokens;
  } catch (e) {
    assert.equal(e.code, 'context_length_exceeded');
  }
  assert.ok(longer + 24 > CONTEXT, `one turn more: ${longer} prompt tokens`);
});

test('the same chat under truncation "disabled": a 400 that names truncation', async (t) => {
  if (skip) return skipOrFail(t, skip);
  await assert.rejects(engine.chat.completions.create({ messages: longChat(), truncation: 'disabled', max_tokens: 24 }), (e) => {
    assert.ok(e instanceof TabllmAPIError, `${e}`);
    assert.equal(e.status, 400);
    assert.equal(e.code, 'context_length_exceeded');
    assert.equal(e.param, 'messages');
    assert.match(e.message, /the prompt has \d+ tokens but the context holds 512: .*truncation: "auto"/);
    return true;
  });
  const response = await engine.fetch('http://tabllm.local/v1/chat/completions', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: longChat(), truncation: 'disabled' }),
  });
  assert.equal(response.status, 400);
  assert.match((await response.json()).error.message, /truncation/);
  await assert.rejects(engine.chat.completions.create({ messages: longChat(), truncation: 'never' }), (e) => e.status === 400 && e.param === 'truncation' && e.code === 'invalid_value');
  await assert.rejects(engine.chat.completions.create({ messages: longChat(), truncation: 1 }), (e) => e.param === 'truncation' && e.code === 'invalid_type');
});

test('truncation "auto" with a system message keeps it; a last turn alone too long is still a 400', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const system = 'Lily is a girl who has a dog.';
  const r = await engine.chat.completions.create({ messages: longChat(14, system), max_tokens: 300, temperature: 0.8, seed: 1, logit_bias: END_TOKENS });
  assert.ok(r.usage.truncated_messages > 0);
  assert.ok(r.usage.context_shifts >= 1, 'the reply outgrew the context');
  assert.equal(r.usage.completion_tokens, 300);
  const huge = 'Lily went to the park with her dog and they played. '.repeat(60);
  await assert.rejects(engine.chat.completions.create({ messages: [...longChat(3, system), { role: 'user', content: huge }] }),
    (e) => e.status === 400 && e.code === 'context_length_exceeded' && /whole turns/.test(e.message));
});

test('a completion prompt longer than the context keeps BOS and its end under "auto"; "disabled" refuses it', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const prompt = 'Lily went to the park with her dog and they played with a ball. '.repeat(60);
  const r = await engine.completions.create({ prompt, max_tokens: 16, temperature: 0 });
  assert.equal(r.usage.prompt_tokens, CONTEXT - 16);
  assert.ok(r.usage.truncated_prompt_tokens > 500, `${r.usage.truncated_prompt_tokens} tokens dropped`);
  assert.equal(r.usage.completion_tokens, 16);
  await assert.rejects(engine.completions.create({ prompt, truncation: 'disabled' }),
    (e) => e.status === 400 && e.param === 'prompt' && e.code === 'context_length_exceeded' && /truncation: "auto"/.test(e.message));
});

test('the engine option truncation sets the default; a wrong value is a TypeError', async (t) => {
  if (skip) return skipOrFail(t, skip);
  await assert.rejects(createEngine({ model: storiesPath(), truncation: 'sometimes' }), /truncation must be "auto" or "disabled", got "sometimes"/);
  const strict = await storiesEngine({ contextSize: CONTEXT, truncation: 'disabled' });
  try {
    await assert.rejects(strict.chat.completions.create({ messages: longChat(), max_tokens: 8 }), (e) => e.code === 'context_length_exceeded');
    const r = await strict.chat.completions.create({ messages: longChat(), max_tokens: 8, truncation: 'auto' });
    assert.ok(r.usage.truncated_messages > 0);
  } finally {
    await strict.unload();
  }
  const r = await engine.chat.completions.create({ messages: longChat(), max_tokens: 8 });  // this engine: "auto"
  assert.ok(r.usage.truncated_messages > 0);
});

test('structured output holds across context shifts', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const small = await storiesEngine({ contextSize: 64 });
  try {
    const r = await small.chat.completions.create({
      messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 400, temperature: 0,
      response_format: { type: 'regex', pattern: '(cat |dog ){50}' },
    });
    assert.ok(r.usage.context_shifts >= 2, `${r.usage.context_shifts} shifts`);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.match(r.choices[0].message.content, /^((cat|dog) ){50}$/);
  } finally {
    await small.unload();
  }
});
