// Speculative decoding on WebGPU in Node (Dawn, SwiftShader without a GPU), stories260K: prompt-lookup
// drafts, and a draft model's (stories260K Q8_0 on the same device), verified in one call of the plan's
// verify list give plain decoding's greedy text and the held references, with drafts kept; through each
// position's argmax on the GPU (greedy) and through the logits rows read back (a logit bias, a
// response_format); self-speculation is refused with the reason; the measured fallback to plain decoding
// (forced by min_speedup) keeps the reference across the switch. One engine, its draft model beside it.
import path from 'node:path';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createEngine } from '../../js/src/index.mjs';
import { SpeculationMemory } from '../../js/src/runners/webgpu_speculative.mjs';
import { missingBuild, storiesPath } from './api-env.mjs';
import { greedyReference, modelsDir, skipOrFail, storiesModel } from './wasm_env.mjs';

const END_TOKENS = { 1: -100, 2: -100 };  // stories260K's BOS and EOS: the references run 64 tokens past them
let engine = null;
let skip = missingBuild();

before(async () => {
  if (skip) return;
  try {
    storiesModel('q8_0');
    engine = await createEngine({ model: storiesPath(), backend: 'webgpu', contextSize: 256, draftModel: path.join(modelsDir, 'stories260K-q8_0.gguf') });
  } catch (e) {
    skip = `no WebGPU engine: ${e.message}`;
  }
});
after(() => engine?.unload());

function checkCounts(usage, method = 'prompt-lookup') {
  const s = usage.speculative;
  assert.equal(s.method, method);
  assert.ok(s.drafted > 0 && s.accepted > 0 && s.accepted <= s.drafted, JSON.stringify(s));
  assert.equal(s.forward_passes + s.accepted, usage.completion_tokens - 1);  // each kept draft saved a pass
  return s;
}

// Without the bias a greedy text may end at EOS: then it is the reference's beginning. The references are
// plain greedy decoding's, computed by an independent implementation.
function assertReferencePrefix(text, ref) {
  assert.ok(text.length > 30 && ref.text.startsWith(text), text);
}

test('prompt-lookup on WebGPU: the GPU argmax of each verified position gives the reference', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = greedyReference()[1];
  const r = await engine.completions.create({ prompt: ref.prompt, max_tokens: 48, temperature: 0, speculative: { method: 'prompt-lookup', k: 8, min_speedup: 0 } });
  assertReferencePrefix(r.choices[0].text, ref);
  t.diagnostic(JSON.stringify(checkCounts(r.usage)));
});

test('prompt-lookup on WebGPU: the logits rows read back (a logit bias) give the reference exactly, streamed', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = greedyReference()[0];
  const parts = [];
  let usage = null;
  const body = { prompt: ref.prompt, max_tokens: 48, temperature: 0, logit_bias: END_TOKENS, speculative: { method: 'prompt-lookup', k: 6, min_speedup: 0 },
    stream: true, stream_options: { include_usage: true } };
  for await (const chunk of await engine.completions.create(body)) {
    if (chunk.choices.length) parts.push(chunk.choices[0].text);
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(usage.completion_tokens, 48);
  assertReferencePrefix(parts.join(''), ref);
  t.diagnostic(JSON.stringify(checkCounts(usage)));
});

test('prompt-lookup on WebGPU under a response_format: the document plain decoding gives', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const schema = { type: 'array', minItems: 3, maxItems: 3, items: { type: 'object', properties: { pet: { enum: ['cat', 'dog'] } },
    required: ['pet'], additionalProperties: false } };
  const body = { prompt: '[{"pet": "cat"}, {"pet": "dog"}, {"pet": "cat"}] ', max_tokens: 28, temperature: 0,
    response_format: { type: 'json_schema', json_schema: { schema } } };
  const plain = await engine.completions.create(body);
  const r = await engine.completions.create({ ...body, speculative: { method: 'prompt-lookup', min_speedup: 0 } });
  assert.equal(r.choices[0].text, plain.choices[0].text);
  assert.match(r.choices[0].text, /^\[\s*\{\s*"pet"/);  // the format holds (28 tokens do not close it)
  t.diagnostic(JSON.stringify(checkCounts(r.usage)));
});

test('self-speculation on WebGPU is a 400 naming speculative.method and what runs instead', async (t) => {
  if (skip) return skipOrFail(t, skip);
  await assert.rejects(engine.completions.create({ prompt: 'Once upon a time', max_tokens: 8, speculative: { method: 'self' } }),
    (e) => e.status === 400 && e.param === 'speculative.method' && /use "prompt-lookup"/.test(e.message));
  await assert.rejects(engine.completions.create({ prompt: 'Once', max_tokens: 4, speculative: { method: 'prompt-lookup', min_speedup: -1 } }),
    (e) => e.status === 400 && e.param === 'speculative.min_speedup' && /number >= 0/.test(e.message));
});

// min_speedup far above any measure forces the fallback: the first decode steps run plain (timed), then
// 4 verify calls, then the rest plain; the next request starts plain from the measure remembered (here
// through the logits rows: a logit bias), and the next test's min_speedup 0 speculates all the same.
test('measured fallback: a request that goes plain after 4 verify calls gives the reference; the next starts plain', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = greedyReference()[0];
  const body = { prompt: ref.prompt, max_tokens: 40, temperature: 0, speculative: { method: 'draft', k: 8, min_speedup: 1000 } };
  const switched = await engine.completions.create(body);
  assertReferencePrefix(switched.choices[0].text, ref);
  const s = checkCounts(switched.usage, 'draft');
  assert.deepEqual([s.fallback, s.fallback_after], ['slower than plain', 4]);
  assert.ok(s.speedup > 0 && s.speedup < 1000, JSON.stringify(s));
  assert.ok(s.forward_passes > 4 + 3, JSON.stringify(s));  // plain steps before and after the verify calls
  t.diagnostic(JSON.stringify(s));

  const next = await engine.completions.create({ ...body, max_tokens: 8, logit_bias: END_TOKENS });
  assert.ok(switched.choices[0].text.startsWith(next.choices[0].text) && next.usage.completion_tokens === 8, next.choices[0].text);
  const n = next.usage.speculative;
  assert.deepEqual([n.fallback, n.fallback_after, n.drafted, n.speedup], ['slower than plain', 0, 0, s.speedup]);
  assert.equal((await engine.metrics()).fallbacks.speculative, 2);
});

test('the remembered speedup: requests below their min_speedup start plain, every 8th measures again', () => {
  const memory = new SpeculationMemory();
  assert.equal(memory.startPlain('draft', 1), null);  // nothing measured yet
  memory.record('draft', 0.5);
  assert.deepEqual([memory.startPlain('draft', 0), memory.startPlain('draft', 0.4), memory.startPlain('prompt-lookup', 1)], [null, null, null]);
  assert.deepEqual(Array.from({ length: 8 }, () => memory.startPlain('draft', 1)), [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, null]);
  memory.record('draft', 1.2);
  assert.equal(memory.startPlain('draft', 1), null);
});

test('a draft model on the same device (stories260K Q8_0): the reference, nearly every draft kept', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = greedyReference()[0];
  const r = await engine.completions.create({ prompt: ref.prompt, max_tokens: 40, temperature: 0, speculative: { method: 'draft', k: 8, min_speedup: 0 } });
  assertReferencePrefix(r.choices[0].text, ref);
  const s = checkCounts(r.usage, 'draft');
  assert.ok(s.accepted / s.drafted > 0.8 && s.draft_passes >= s.drafted, JSON.stringify(s));
  assert.ok(!('fallback' in s), JSON.stringify(s));  // min_speedup 0: whatever was measured before
  t.diagnostic(JSON.stringify(s));
});
