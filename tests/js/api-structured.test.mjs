// Structured output through the engine's OpenAI API (stories260K, WebAssembly): JSON Schema generations
// over 200 seeds that parse and validate with ajv, json_object, grammar and regex formats, streaming,
// warnings for keywords a grammar cannot enforce, and errors naming the parameter, keyword or line at fault.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { SCHEMAS, runSeeds } from '../structured/seeds.mjs';
import { missingBuild, storiesEngine } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

let engine = null;
const skip = missingBuild();

before(async () => {
  if (!skip) engine = await storiesEngine();
});
after(() => engine?.unload());

const schemaFormat = (schema, extra = {}) => ({ type: 'json_schema', json_schema: { name: 'test', schema, ...extra } });

test('200 seeds per schema: every completion that stops parses and validates', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const report = await runSeeds(engine, { seeds: 200, maxTokens: 256 });
  const summary = Object.fromEntries(Object.entries(report).map(([name, r]) => [name, `${r.stop} stop, ${r.length} cut by max_tokens`]));
  t.diagnostic(JSON.stringify(summary));
  for (const [name, r] of Object.entries(report)) {
    assert.equal(r.runs, 200);
    assert.deepEqual(r.invalid, [], `${name}: invalid documents`);
    assert.ok(r.stop >= 100, `${name}: only ${r.stop} of 200 completions finished`);
  }
});

test('chat: json_object, grammar, EBNF and regex formats', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ask = (response_format, seed = 1) => engine.chat.completions.create({
    messages: [{ role: 'user', content: 'Tell me about the cat.' }], seed, max_tokens: 200, response_format,
  }).then((r) => r.choices[0]);
  for (const seed of [1, 2, 3]) {
    const c = await ask({ type: 'json_object' }, seed);
    if (c.finish_reason === 'stop') assert.equal(typeof JSON.parse(c.message.content), 'object');
  }
  const yesNo = await ask({ type: 'grammar', grammar: 'root ::= ("yes" | "no") ", " [a-z ]{1,20} "."' });
  assert.match(yesNo.message.content, /^(yes|no), [a-z ]{1,20}\.$/);
  assert.equal(yesNo.finish_reason, 'stop');
  const ebnf = await ask({ type: 'grammar', syntax: 'ebnf', grammar: "root ::= 'Lily ' verb\nverb ::= 'ran' | 'sat'" });
  assert.match(ebnf.message.content, /^Lily (ran|sat)$/);
  const date = await ask({ type: 'regex', pattern: '20[0-9]{2}-(0[1-9]|1[0-2])-[0-2][0-9]' });
  assert.match(date.message.content, /^20\d\d-(0[1-9]|1[0-2])-[0-2]\d$/);
  assert.equal(date.finish_reason, 'stop');
});

test('streaming under a schema gives the same text as the whole response', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const request = { prompt: 'Once upon a time', seed: 9, temperature: 1, max_tokens: 200, response_format: schemaFormat(SCHEMAS.tree) };
  const whole = await engine.completions.create(request);
  let text = '';
  for await (const chunk of await engine.completions.create({ ...request, stream: true })) text += chunk.choices[0]?.text ?? '';
  assert.equal(text, whole.choices[0].text);
  if (whole.choices[0].finish_reason === 'stop') assert.equal(typeof JSON.parse(text).label, 'string');
});

test('keywords a grammar cannot enforce are listed in warnings, or refused when strict', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const schema = { type: 'array', items: { type: 'integer' }, uniqueItems: true, maxItems: 3 };
  const r = await engine.completions.create({ prompt: 'x', max_tokens: 40, response_format: schemaFormat(schema) });
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0], /uniqueItems/);
  const chunks = [];
  for await (const chunk of await engine.completions.create({ prompt: 'x', max_tokens: 40, response_format: schemaFormat(schema), stream: true })) chunks.push(chunk);
  assert.deepEqual(chunks.at(-1).warnings, r.warnings);
  assert.ok(chunks.slice(0, -1).every((c) => c.warnings === undefined));
  await assert.rejects(engine.completions.create({ prompt: 'x', response_format: schemaFormat(schema, { strict: true }) }),
    (e) => e.status === 400 && e.param === 'response_format.json_schema.schema' && /uniqueItems/.test(e.message));
});

test('bad formats are 400 errors naming the parameter, keyword, line or column; the engine keeps serving', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const cases = [
    [{ type: 'yaml' }, 'response_format.type', /json_schema/],
    [{ type: 'json_schema' }, 'response_format.json_schema', /object/],
    [schemaFormat({ type: 'strng' }), 'response_format.json_schema.schema', /'type'.*strng/],
    [schemaFormat({ $ref: '#/$defs/missing' }), 'response_format.json_schema.schema', /missing/],
    [{ type: 'grammar', grammar: 'root ::= "a" item' }, 'response_format.grammar', /line 1, column \d+/],
    [{ type: 'grammar', grammar: 'root ::= root "a"' }, 'response_format.grammar', /root.*never be completed/],
    [{ type: 'regex', pattern: '[a-' }, 'response_format.pattern', /pattern/],
  ];
  for (const [response_format, param, message] of cases) {
    for (const stream of [false, true]) {
      await assert.rejects(engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], response_format, stream }), (e) => {
        assert.equal(e.status, 400, e.message);
        assert.equal(e.param, param, e.message);
        assert.match(e.message, message);
        return true;
      });
    }
  }
  const ok = await engine.completions.create({ prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
  assert.equal(ok.choices[0].finish_reason, 'length');
});
