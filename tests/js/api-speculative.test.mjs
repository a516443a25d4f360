// Speculative decoding through the package on WebAssembly (stories260K): greedy output equals plain
// decoding and the held reference, streamed or not, for each drafting method; usage carries the counts;
// bad values are 400s naming the field; the engine option sets the default and a request overrides it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { TabllmAPIError, createEngine } from '../../js/src/index.mjs';
import { missingBuild, reference, storiesEngine, storiesPath } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

const END_TOKENS = { 1: -100, 2: -100 };  // stories260K's BOS and EOS: the reference runs 64 tokens past them
let engine = null;
const skip = missingBuild();
before(async () => {
  if (!skip) engine = await storiesEngine();
});
after(() => engine?.unload());

for (const method of ['prompt-lookup', 'self']) {
  test(`${method}: greedy output equals plain decoding and the reference, streamed or not`, async (t) => {
    if (skip) return skipOrFail(t, skip);
    const ref = reference();
    const body = { prompt: ref.prompt, max_tokens: 64, temperature: 0, logit_bias: END_TOKENS };
    const plain = await engine.completions.create(body);
    const r = await engine.completions.create({ ...body, speculative: { method, k: 6 } });
    assert.equal(plain.choices[0].text, ref.text);
    assert.equal(r.choices[0].text, ref.text);
    assert.equal(plain.usage.speculative, undefined);
    const s = r.usage.speculative;
    t.diagnostic(JSON.stringify(s));
    assert.equal(s.method, method);
    assert.ok(s.drafted > 0 && s.accepted > 0 && s.accepted <= s.drafted, JSON.stringify(s));
    assert.equal(s.acceptance_rate, s.accepted / s.drafted);
    assert.equal(s.forward_passes + s.accepted, r.usage.completion_tokens - 1);  // each kept draft saves a pass
    assert.equal(s.draft_passes > 0, method === 'self');

    const parts = [];
    let usage = null;
    for await (const chunk of await engine.completions.create({ ...body, speculative: { method }, stream: true, stream_options: { include_usage: true } })) {
      if (chunk.choices.length) parts.push(chunk.choices[0].text);
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(parts.join(''), ref.text);
    assert.equal(usage.speculative.method, method);
  });
}

test('streamed logprobs with speculation: one per token, as plain decoding gives them', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const body = { messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 48, temperature: 0, logprobs: true, top_logprobs: 2,
    stream: true, logit_bias: END_TOKENS };
  const collect = async (extra) => {
    const content = [];
    for await (const chunk of await engine.chat.completions.create({ ...body, ...extra })) content.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    return content;
  };
  const plain = await collect({});
  const spec = await collect({ speculative: { method: 'prompt-lookup', k: 4 } });
  assert.equal(plain.length, 48);
  assert.deepEqual(spec.map((c) => c.token), plain.map((c) => c.token));
  for (let i = 0; i < plain.length; i++) assert.ok(Math.abs(spec[i].logprob - plain[i].logprob) < 1e-4, `token ${i}`);
});

test('structured output with speculation: the document plain decoding gives', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 10 }, tags: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 3 } },
    required: ['name', 'tags'], additionalProperties: false };
  const body = { prompt: 'Once upon a time', max_tokens: 120, temperature: 0, response_format: { type: 'json_schema', json_schema: { schema } } };
  const plain = await engine.completions.create(body);
  const r = await engine.completions.create({ ...body, speculative: { method: 'prompt-lookup' } });
  assert.equal(r.choices[0].text, plain.choices[0].text);
  assert.deepEqual(Object.keys(JSON.parse(r.choices[0].text)), ['name', 'tags']);
});

const BAD = [
  [{ method: 'medusa' }, 'speculative.method'],
  [{ method: 'draft' }, 'speculative.method'],  // the WebAssembly engine loads no draft model
  [{ k: 4 }, 'speculative.method'],
  [{ method: 'self', k: 0 }, 'speculative.k'],
  [{ method: 'self', k: 2.5 }, 'speculative.k'],
  [{ method: 'prompt-lookup', ngram: 9 }, 'speculative.ngram'],
  [{ method: 'self', draft_layers: 5 }, 'speculative.draft_layers'],  // stories260K has 5 layers: no draft runs them all
  [{ method: 'self', lookahead: 3 }, 'speculative.lookahead'],
  ['self', 'speculative'],
];
for (const [value, param] of BAD) {
  test(`speculative ${JSON.stringify(value)}: a 400 naming ${param}`, async (t) => {
    if (skip) return skipOrFail(t, skip);
    await assert.rejects(engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, speculative: value }), (e) => {
      assert.ok(e instanceof TabllmAPIError, e.message);
      assert.equal(e.status, 400);
      assert.equal(e.param, param, e.message);
      return true;
    });
  });
}

test('the engine option sets the default; a request turns it off; a bad option is refused at createEngine', async (t) => {
  if (skip) return skipOrFail(t, skip);
  await assert.rejects(createEngine({ model: storiesPath(), backend: 'wasm', wasmVariant: 'single', speculative: { method: 'eagle' } }), /speculative must be/);
  const spec = await storiesEngine({ speculative: { method: 'prompt-lookup', k: 4 } });
  try {
    const body = { prompt: 'Once upon a time', max_tokens: 40, temperature: 0 };
    const on = await spec.completions.create(body);
    assert.equal(on.usage.speculative.method, 'prompt-lookup');
    const off = await spec.completions.create({ ...body, speculative: { method: 'off' } });
    assert.equal(off.usage.speculative, undefined);
    assert.equal(off.choices[0].text, on.choices[0].text);
  } finally {
    await spec.unload();
  }
});
