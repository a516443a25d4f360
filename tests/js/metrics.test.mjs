// engine.metrics(): after 50 requests its percentiles are those of the responses' own usage.timings; the
// resources, cache rates and fallbacks are there; the history persists sealed and forget() wipes it; energy
// profiles are checked options, and saver's token-rate cap holds.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { TabllmAPIError } from '../../js/src/index.mjs';
import { createPacer } from '../../js/src/profiles/pacer.mjs';
import { PROFILE_SETTINGS } from '../../js/src/profiles/profiles.mjs';
import { missingBuild, storiesEngine } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

const skip = missingBuild();
let engine = null;
const responses = [];
before(async () => {
  if (skip) return;
  engine = await storiesEngine();
  const prompts = ['Once upon a time', 'The little dog', 'Lily went to the park', 'One day, Tom', 'The sun was'];
  for (let i = 0; i < 50; i++) {
    const request = { prompt: prompts[i % prompts.length], max_tokens: 4 + (i * 7) % 29, temperature: 0.8, seed: i };
    if (i % 3 === 0) {
      let usage = null;
      for await (const chunk of await engine.completions.create({ ...request, stream: true, stream_options: { include_usage: true } })) usage = chunk.usage ?? usage;
      responses.push({ usage });
    } else {
      responses.push(await engine.completions.create(request));
    }
  }
});
after(() => engine?.unload());

// Nearest rank, computed here from the responses alone.
function expected(values, p) {
  const sorted = values.filter((v) => Number.isFinite(v) && v > 0).sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}

test('metrics: after 50 requests, p50/p90/p99 equal those of the responses\' usage.timings', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const m = await engine.metrics();
  assert.equal(m.requests, 50);
  assert.equal(m.backend, 'wasm');
  for (const key of ['ttft_ms', 'decode_tokens_per_s', 'prefill_tokens_per_s']) {
    const values = responses.map((r) => r.usage.timings[key]);
    for (const p of [50, 90, 99]) assert.equal(m[key][`p${p}`], expected(values, p), `${key} p${p}`);
  }
  assert.equal(m.by_model.length, 1);
  assert.equal(m.by_model[0].decode_tokens_per_s.p50, m.decode_tokens_per_s.p50);
  assert.equal(m.history.length, 50);
  assert.equal(m.gpu, null);  // the WebAssembly backend runs no GPU work
  t.diagnostic(JSON.stringify({ ttft_ms: m.ttft_ms, decode_tokens_per_s: m.decode_tokens_per_s, memory: m.memory, cache: m.cache }));
});

test('metrics: memory, cache rates and fallbacks', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const m = await engine.metrics();
  assert.ok(m.memory.wasm_heap_bytes > 1 << 20);
  assert.equal(m.memory.gpu_buffer_bytes, 0);
  assert.ok(m.memory.kv_hot_bytes > 0, 'the last request\'s positions are held');
  assert.equal(m.memory.kv_cold_bytes, 0);
  // A file path is read in place: one load, none from the model store.
  assert.deepEqual(m.cache.weights_store, { hits: 0, of: 1, rate: 0 });
  const reused = responses.reduce((s, r) => s + r.usage.timings.prompt_tokens_reused, 0);
  assert.equal(m.cache.kv_reuse.hits, reused);
  assert.ok(reused > 0, 'a repeated prompt reuses the cached prefix');
  assert.equal(m.cache.prefix_cache, null);
  assert.deepEqual(m.fallbacks, { backend: 0, speculative: 0, cloud: 0 });
  assert.equal(m.speculative, null);
  assert.deepEqual(m.profile, { profile: 'performance', active: 'performance' });
});

test('metrics: speculative acceptance from usage.speculative', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const spec = await storiesEngine();
  try {
    const r = await spec.completions.create({ prompt: 'Once upon a time', max_tokens: 40, temperature: 0, speculative: { method: 'prompt-lookup', k: 4 } });
    const m = await spec.metrics();
    assert.equal(m.speculative.drafted, r.usage.speculative.drafted);
    assert.equal(m.speculative.accepted, r.usage.speculative.accepted);
  } finally {
    await spec.unload();
  }
});

test('metrics: the history persists sealed on this device, and forget() wipes it', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-metrics-'));
  const cacheDir = path.join(dir, 'models');
  try {
    const first = await storiesEngine({ metrics: { persist: true }, cacheDir });
    await first.completions.create({ prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
    await first.completions.create({ prompt: 'The little dog', max_tokens: 8, temperature: 0 });
    await first.unload();  // the history is written before unload resolves
    const folder = path.join(dir, 'kv', 'tabllm-metrics');
    const files = fs.readdirSync(folder);
    assert.equal(files.length, 1);
    const raw = fs.readFileSync(path.join(folder, files[0]));
    assert.ok(!raw.includes('ttft_ms') && !raw.includes('stories'), 'the record is sealed');

    const second = await storiesEngine({ metrics: { persist: true }, cacheDir });
    try {
      const m = await second.metrics();
      assert.equal(m.requests, 2);
      assert.equal(m.persisted, true);
      await second.forget();
      assert.equal(fs.existsSync(folder), false);
      assert.equal((await second.metrics()).requests, 0);
    } finally {
      await second.unload();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('profiles: checked options and request extension; saver caps the decode rate', async (t) => {
  if (skip) return skipOrFail(t, skip);
  await assert.rejects(storiesEngine({ profile: 'eco' }), /profile must be one of "performance", "balanced", "saver", "auto", got "eco"/);
  await assert.rejects(storiesEngine({ metrics: { persist: 'yes' } }), /metrics must be \{persist/);
  await assert.rejects(engine.completions.create({ prompt: 'Once', profile: 'fast' }),
    (e) => e instanceof TabllmAPIError && e.param === 'profile' && e.status === 400);
  assert.equal(createPacer(PROFILE_SETTINGS.performance), null);
  const r = await engine.completions.create({ prompt: 'Once upon a time', max_tokens: 24, temperature: 0, profile: 'saver' });
  const cap = PROFILE_SETTINGS.saver.maxTokensPerSecond;
  assert.ok(r.usage.completion_tokens > 8);
  assert.ok(r.usage.timings.decode_tokens_per_s <= cap * 1.1, `saver decoded at ${r.usage.timings.decode_tokens_per_s} tokens/s, over its cap of ${cap}`);
  assert.equal((await engine.metrics()).history.at(-1).profile, 'saver');
});
