// The unmodified `openai` npm client against engine.fetch, in Node: chat completions streamed and not,
// text completions, the model list and an error, each parsed into the shapes OpenAI documents.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import OpenAI from 'openai';

import { missingBuild, reference, storiesEngine } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

let engine = null;
let client = null;
const skip = missingBuild();
before(async () => {
  if (skip) return;
  engine = await storiesEngine();
  client = new OpenAI({ apiKey: 'local', baseURL: 'http://tabllm.local/v1', fetch: engine.fetch, maxRetries: 0 });
});
after(() => engine?.unload());

test('openai client: chat completion', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const r = await client.chat.completions.create({ model: 'stories260K', messages: [{ role: 'user', content: ref.prompt }], temperature: 0, max_tokens: 20 });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(ref.text.startsWith(r.choices[0].message.content));
  assert.ok(r.choices[0].message.content.length > 30);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 20);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 20);
  assert.ok(r.usage.timings.decode_tokens_per_s > 0);
});

test('openai client: streamed chat completion with usage', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const stream = await client.chat.completions.create({
    model: 'stories260K', messages: [{ role: 'user', content: ref.prompt }], temperature: 0, max_tokens: 20, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
  }
  assert.ok(chunks > 5);
  assert.ok(ref.text.startsWith(text) && text.length > 30);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 20);
});

test('openai client: stream helper, aborted half-way, then a normal request', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const stream = await client.chat.completions.create({ messages: [{ role: 'user', content: 'Lily' }], max_tokens: 300, stream: true, model: 'stories260K' });
  let n = 0;
  for await (const _ of stream) if (++n === 3) break;  // leaving the loop aborts the fetch
  const r = await client.completions.create({ model: 'stories260K', prompt: reference().prompt, temperature: 0, max_tokens: 8 });
  assert.equal(r.object, 'text_completion');
  assert.ok(reference().text.startsWith(r.choices[0].text));
});

test('openai client: streamed text completion', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const stream = await client.completions.create({ model: 'stories260K', prompt: reference().prompt, temperature: 0, max_tokens: 12, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  assert.ok(reference().text.startsWith(text) && text.length > 10);
});

test('openai client: models list and retrieve', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const page = await client.models.list();
  assert.deepEqual(page.data.map((m) => m.id), ['stories260K']);
  const model = await client.models.retrieve('stories260K');
  assert.equal(model.object, 'model');
  await assert.rejects(client.models.retrieve('gpt-4'), (e) => e instanceof OpenAI.NotFoundError);
});

test('openai client: a bad request is a BadRequestError with OpenAI fields', async (t) => {
  if (skip) return skipOrFail(t, skip);
  await assert.rejects(client.chat.completions.create({ model: 'stories260K', messages: [], max_tokens: 4 }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.status, 400);
    assert.equal(e.param, 'messages');
    assert.equal(e.code, 'empty_array');
    assert.equal(e.type, 'invalid_request_error');
    return true;
  });
  const ok = await client.chat.completions.create({ model: 'stories260K', messages: [{ role: 'user', content: 'Once' }], max_tokens: 4 });
  assert.equal(ok.choices[0].finish_reason, 'length');
});

test('openai client: response_format json_schema, a bad schema, and a streamed tool call', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const schema = { type: 'object', properties: { pet: { enum: ['cat', 'dog'] }, age: { type: 'integer', minimum: 1, maximum: 20 } }, required: ['pet', 'age'], additionalProperties: false };
  const r = await client.chat.completions.create({
    model: 'stories260K', messages: [{ role: 'user', content: 'A pet.' }], seed: 3, max_tokens: 120,
    response_format: { type: 'json_schema', json_schema: { name: 'pet', schema, strict: true } },
  });
  assert.equal(r.choices[0].finish_reason, 'stop');
  const pet = JSON.parse(r.choices[0].message.content);
  assert.ok(['cat', 'dog'].includes(pet.pet) && pet.age >= 1 && pet.age <= 20, r.choices[0].message.content);
  await assert.rejects(client.chat.completions.create({
    model: 'stories260K', messages: [{ role: 'user', content: 'A pet.' }],
    response_format: { type: 'json_schema', json_schema: { name: 'pet', schema: { type: 'objekt' } } },
  }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'response_format.json_schema.schema');

  const tools = [{ type: 'function', function: { name: 'feed', parameters: schema } }];
  const runner = client.chat.completions.stream({ model: 'stories260K', messages: [{ role: 'user', content: 'Feed it.' }], tools, tool_choice: 'required', seed: 1, max_tokens: 140 });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  const [call] = final.choices[0].message.tool_calls;
  assert.equal(call.function.name, 'feed');
  assert.ok(['cat', 'dog'].includes(JSON.parse(call.function.arguments).pet));
});
