// The host-driven C ABI without a GPU: a model opened from its GGUF header only (no weights in the heap)
// and an external session, whose forward pass this test runs on a CPU session of the full model. Greedy
// tokens chosen by the host, and logits handed over for the core to sample, both give the reference text.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { TabllmError } from '../../js/src/core/wasm.mjs';
import { missingBuild, reference } from './api-env.mjs';
import { loadEngine, skipOrFail, storiesModel } from './wasm_env.mjs';

const skip = missingBuild();
let tabllm, full, cpu, header, bytes;

before(async () => {
  if (skip) return;
  tabllm = await loadEngine('tabllm-st');
  bytes = storiesModel('f32');
  full = tabllm.loadModel(bytes);
  cpu = full.createSession({ threads: 1 });
  let reads = 0;
  header = await tabllm.loadModelHeader(async (offset, length) => {
    reads += length;
    return bytes.subarray(offset, offset + length);
  }, bytes.length);
  assert.ok(reads < bytes.length, 'only the header was read');
});
after(() => {
  cpu?.free();
  full?.free();
  header?.free();
});

// The logits of the last of `ids` (all processed from position 0: simple, and the model is tiny).
function lastLogits(ids) {
  const all = cpu.logits(ids);
  return all.subarray(all.length - full.info().vocab);
}

// What the stand-in for the GPU holds in its KV cache, per session: the tokens processed so far.
const cached = new WeakMap();

function drive(session, prompt, params, { hostArgmax }) {
  session.begin(prompt, params);
  let ids = cached.get(session) ?? [];
  let text = '';
  for (;;) {
    const { tokens, pos } = session.pending();
    assert.ok(pos <= ids.length, 'the core reuses only what the host processed');
    ids = [...ids.slice(0, pos), ...tokens];
    cached.set(session, ids);
    let chunk;
    if (tokens.length === 0) chunk = session.advance(null);
    else if (hostArgmax) {
      const logits = lastLogits(ids);
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      chunk = session.advanceToken(best);
    } else chunk = session.advance(lastLogits(ids));
    if (chunk === null) return { text, result: session.result() };
    text += chunk;
  }
}

test('a header-only model: tokenizer and config, no weights; CPU sessions refused', (t) => {
  if (skip) return skipOrFail(t, skip);
  const info = header.info();
  assert.equal(info.weights, false);
  assert.equal(full.info().weights, true);
  assert.equal(info.vocab, full.info().vocab);
  assert.deepEqual(header.tokenize('Once upon a time'), full.tokenize('Once upon a time'));
  assert.throws(() => header.createSession({ threads: 1 }), (e) => e instanceof TabllmError && /header only/.test(e.message));
  const s = header.createExternalSession({ contextSize: 64 });
  s.begin('Once', { max_tokens: 2 });
  assert.throws(() => s.next(), /runs on the host/);
  s.free();
});

test('host argmax and host logits both give the greedy reference text', (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const session = header.createExternalSession({ contextSize: 256 });
  try {
    session.begin(ref.prompt, { temperature: 0, max_tokens: 1 });
    assert.equal(session.hostCanSample(), true);
    session.abort();
    const greedy = drive(session, ref.prompt, { temperature: 0, max_tokens: 16 }, { hostArgmax: true });
    assert.ok(ref.text.startsWith(greedy.text) && greedy.text.length > 30, greedy.text);
    assert.equal(greedy.result.generated_tokens, 16);
    const sampled = drive(session, ref.prompt, { temperature: 0, max_tokens: 16, logprobs: 2 }, { hostArgmax: false });
    assert.equal(sampled.text, greedy.text);
    assert.ok(sampled.result.prompt_tokens_reused > 0, 'the KV prefix is reused');
    assert.equal(sampled.result.tokens.length, 16);
    assert.equal(sampled.result.tokens[0].top_logprobs.length, 2);
    // A request that needs the logits refuses a host-chosen token.
    session.begin(ref.prompt, { temperature: 0.8, max_tokens: 4 });
    assert.equal(session.hostCanSample(), false);
    session.pending();
    assert.throws(() => session.advanceToken(1), /needs the logits/);
  } finally {
    session.free();
  }
});

test('the header size is found from a prefix; a truncated or foreign file is a clear error', async (t) => {
  if (skip) return skipOrFail(t, skip);
  await assert.rejects(tabllm.loadModelHeader(async (o, n) => bytes.subarray(o, Math.min(o + n, 100)), 100), /truncated/);
  const junk = new TextEncoder().encode('not a gguf file at all, just some text');
  await assert.rejects(tabllm.loadModelHeader(async (o, n) => junk.subarray(o, o + n), junk.length), (e) => e instanceof TabllmError);
});
