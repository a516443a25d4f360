// Every bad request is refused with OpenAI's error shape — thrown by the JavaScript API as a
// TabllmAPIError, sent by engine.fetch as {error: {message, type, param, code}} with status 400 — and a
// valid request right after each one works.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { TabllmAPIError } from '../../js/src/index.mjs';
import { missingBuild, reference, storiesEngine } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

let engine = null;
const skip = missingBuild();
before(async () => {
  if (!skip) engine = await storiesEngine({ contextSize: 64 });
});
after(() => engine?.unload());

const user = [{ role: 'user', content: 'Once upon a time' }];
const long = 'Once upon a time there was a little girl who liked to play in the park with her dog. '.repeat(8);

// [what, endpoint, body, param, code]
const CASES = [
  ['an unknown field', 'chat', { messages: user, temprature: 0.5 }, 'temprature', 'unknown_parameter'],
  ['a field of OpenAI this engine lacks', 'chat', { messages: user, functions: [] }, 'functions', 'unsupported_parameter'],
  ['messages missing', 'chat', {}, 'messages', 'missing_required_parameter'],
  ['messages empty', 'chat', { messages: [] }, 'messages', 'empty_array'],
  ['messages not an array', 'chat', { messages: 'hi' }, 'messages', 'invalid_type'],
  ['a message without a known role', 'chat', { messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role', 'invalid_value'],
  ['a message content of the wrong type', 'chat', { messages: [{ role: 'user', content: 42 }] }, 'messages[0].content', 'invalid_type'],
  ['an image part', 'chat', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages[0].content[0]', 'unsupported_content'],
  ['messages without text', 'chat', { messages: [{ role: 'user', content: '' }] }, 'messages', 'empty_string'],
  ['temperature of the wrong type', 'chat', { messages: user, temperature: 'hot' }, 'temperature', 'invalid_type'],
  ['temperature out of range', 'chat', { messages: user, temperature: 3 }, 'temperature', 'invalid_value'],
  ['top_p out of range', 'chat', { messages: user, top_p: 0 }, 'top_p', 'invalid_value'],
  ['n out of range', 'chat', { messages: user, n: 0 }, 'n', 'invalid_value'],
  ['max_tokens not an integer', 'chat', { messages: user, max_tokens: 1.5 }, 'max_tokens', 'invalid_type'],
  ['max_completion_tokens out of range', 'chat', { messages: user, max_completion_tokens: 0 }, 'max_completion_tokens', 'invalid_value'],
  ['a negative seed', 'chat', { messages: user, seed: -1 }, 'seed', 'invalid_value'],
  ['stop of the wrong type', 'chat', { messages: user, stop: [1] }, 'stop', 'invalid_type'],
  ['too many stop strings', 'chat', { messages: user, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop', 'invalid_value'],
  ['frequency_penalty out of range', 'chat', { messages: user, frequency_penalty: 2.5 }, 'frequency_penalty', 'invalid_value'],
  ['logit_bias with a token outside the vocabulary', 'chat', { messages: user, logit_bias: { 99999: 1 } }, 'logit_bias', 'invalid_value'],
  ['logit_bias out of range', 'chat', { messages: user, logit_bias: { 5: 200 } }, 'logit_bias', 'invalid_value'],
  ['top_logprobs without logprobs', 'chat', { messages: user, top_logprobs: 2 }, 'top_logprobs', 'invalid_value'],
  ['top_logprobs out of range', 'chat', { messages: user, logprobs: true, top_logprobs: 21 }, 'top_logprobs', 'invalid_value'],
  ['stream_options without stream', 'chat', { messages: user, stream_options: { include_usage: true } }, 'stream_options', 'invalid_value'],
  ['response_format with an invalid schema', 'chat', { messages: user, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'strng' } } } }, 'response_format.json_schema.schema', 'invalid_response_format'],
  ['response_format of an unknown type', 'chat', { messages: user, response_format: { type: 'yaml' } }, 'response_format.type', 'invalid_value'],
  ['tools that are not an array', 'chat', { messages: user, tools: { type: 'function' } }, 'tools', 'invalid_type'],
  ['tool_choice naming no tool', 'chat', { messages: user, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } }, 'tool_choice', 'invalid_value'],
  ['a last message longer than the context (truncation "auto" drops whole turns only)', 'chat', { messages: [{ role: 'user', content: long }] }, 'messages', 'context_length_exceeded'],
  ['a chat longer than the context under truncation "disabled"', 'chat', { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: long }, { role: 'user', content: 'Go on' }], truncation: 'disabled' }, 'messages', 'context_length_exceeded'],
  ['truncation of an unknown value', 'chat', { messages: user, truncation: 'sometimes' }, 'truncation', 'invalid_value'],
  ['a completion without a prompt', 'completion', {}, 'prompt', 'missing_required_parameter'],
  ['a completion prompt of token ids', 'completion', { prompt: [1, 2, 3] }, 'prompt', 'invalid_type'],
  ['a completion prompt longer than the context under truncation "disabled"', 'completion', { prompt: long, truncation: 'disabled' }, 'prompt', 'context_length_exceeded'],
  ['completion logprobs out of range', 'completion', { prompt: 'Once', logprobs: 6 }, 'logprobs', 'invalid_value'],
];

async function validRequestWorks() {
  const ref = reference();
  const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: ref.prompt }], temperature: 0, max_tokens: 6 });
  assert.ok(ref.text.startsWith(r.choices[0].message.content) && r.choices[0].message.content.length > 0);
}

for (const [what, kind, body, param, code] of CASES) {
  test(`bad request: ${what}`, async (t) => {
    if (skip) return skipOrFail(t, skip);
    const api = kind === 'chat' ? engine.chat.completions : engine.completions;
    await assert.rejects(api.create(body), (e) => {
      assert.ok(e instanceof TabllmAPIError, `${e}`);
      assert.equal(e.status, 400);
      assert.equal(e.type, 'invalid_request_error');
      assert.equal(e.param, param);
      assert.equal(e.code, code);
      assert.ok(e.message.length > 10);
      assert.deepEqual(Object.keys(e.toJSON().error), ['message', 'type', 'param', 'code']);
      return true;
    });
    // Streaming requests are refused the same way, before any chunk.
    if (!body.stream_options) await assert.rejects(api.create({ ...body, stream: true }), (e) => e instanceof TabllmAPIError && e.code === code);
    // Through fetch: status 400 and the error body.
    const response = await engine.fetch(`http://tabllm.local/v1/${kind === 'chat' ? 'chat/completions' : 'completions'}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(response.status, 400);
    const json = await response.json();
    assert.deepEqual(Object.keys(json), ['error']);
    assert.equal(json.error.param, param);
    assert.equal(json.error.code, code);
    assert.equal(json.error.type, 'invalid_request_error');
    await validRequestWorks();
  });
}

test('fetch: malformed JSON, unknown paths and wrong methods get OpenAI-shaped errors', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const bad = await engine.fetch('http://tabllm.local/v1/chat/completions', { method: 'POST', body: '{"messages": [' });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, 'invalid_json');
  const missing = await engine.fetch('http://tabllm.local/v1/audio/speech', { method: 'POST', body: '{}' });
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.type, 'invalid_request_error');
  // Embeddings from a chat model: a 400 that says so.
  const chatModel = await engine.fetch('http://tabllm.local/v1/embeddings', { method: 'POST', body: '{"input": "hi"}' });
  assert.equal(chatModel.status, 400);
  assert.equal((await chatModel.json()).error.code, 'model_not_embedding');
  const method = await engine.fetch('http://tabllm.local/v1/chat/completions');
  assert.equal(method.status, 405);
  await validRequestWorks();
});
