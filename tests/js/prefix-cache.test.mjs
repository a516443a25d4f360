// The persisted prefix cache through the package (WebAssembly, stories260K, Node files): a second engine
// on the same folder (a reopened page) answers the next turn of a long chat from the stored KV pages —
// the same text as an engine that prefills it all, with the stored positions reported as reused, a chain
// of pages longer than the restore reads ahead included — and a damaged or missing page, or a store that
// cannot be written, is a warning and a correct answer.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { createEngine } from '../../js/src/index.mjs';
import { PAGE, PrefixCache, MemoryPageStore } from '../../js/src/prefix_cache.mjs';
import { VERSION } from '../../js/src/version.mjs';
import { missingBuild, storiesPath } from './api-env.mjs';
import { nativeBuildDir, sharedDir, skipOrFail } from './wasm_env.mjs';

const skip = missingBuild();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-kv-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
process.env.TABLLM_KV_DIR = dir;

const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ';
const first = { prompt: story.repeat(9), max_tokens: 40, temperature: 0 };  // ~430 prompt tokens: one full page and a partial one

const open = (prefixCache = true, encryption = undefined) => createEngine({ model: storiesPath(), backend: 'wasm', wasmVariant: 'single', prefixCache, encryption });
const kvFiles = () => fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.kv')).map((f) => path.join(dir, String(f)));

async function warnings(fn) {
  const seen = [];
  const warn = console.warn;
  console.warn = (m) => seen.push(String(m));
  try {
    return { result: await fn(), seen };
  } finally {
    console.warn = warn;
  }
}

test('the package version and the prefix cache\'s agree', () => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../js/package.json', import.meta.url), 'utf8'));
  assert.equal(VERSION, pkg.version);
});

test('a reopened engine answers the next turn from the stored pages, with the text of a full prefill', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const a = await open();
  const one = await a.completions.create(first);
  await a.flushPrefixCache();
  const written = a.prefixCacheStats();
  assert.ok(written.pages_written >= 2, JSON.stringify(written));
  await a.unload();
  assert.ok(kvFiles().length >= 2);

  const next = { ...first, prompt: first.prompt + one.choices[0].text + ' The next day,', max_tokens: 24 };
  const plain = await open(false);
  const expected = await plain.completions.create(next);
  await plain.unload();

  const b = await open();
  const got = await b.completions.create(next);
  const stats = b.prefixCacheStats();
  t.diagnostic(`prompt ${got.usage.prompt_tokens} tokens, ${got.usage.timings.prompt_tokens_reused} reused from ${stats.pages_read} pages; ` +
    `TTFT ${got.usage.timings.ttft_ms.toFixed(1)} ms against ${expected.usage.timings.ttft_ms.toFixed(1)} ms prefilled`);
  assert.equal(got.choices[0].text, expected.choices[0].text);
  assert.ok(got.usage.timings.prompt_tokens_reused >= PAGE, JSON.stringify(got.usage.timings));
  assert.equal(expected.usage.timings.prompt_tokens_reused, 0);
  assert.ok(stats.pages_read >= 1 && stats.restored_tokens >= PAGE, JSON.stringify(stats));
  await b.unload();
});

test('a chain of pages longer than the read-ahead is restored whole, with the text of a full prefill', async (t) => {
  if (skip) return skipOrFail(t, skip);
  // stories260K declaring 2048 positions (trained on 512: the text past that is its guess, the same both ways).
  const model = path.join(dir, 'stories260K-2k.gguf');
  const stories = path.join(sharedDir, 'models/stories260K');
  execFileSync(path.join(nativeBuildDir, 'bin/tabllm'), ['convert-llama2c', path.join(stories, 'stories260K.bin'), path.join(stories, 'tok512.bin'), model, '--context', '2048']);
  const openLong = (prefixCache) => createEngine({ model, backend: 'wasm', wasmVariant: 'single', contextSize: 2048, prefixCache });
  const long = { prompt: story.repeat(45), max_tokens: 8, temperature: 0 };  // ~1,590 tokens: 6 full pages and a partial one
  const a = await openLong(true);
  const one = await a.completions.create(long);
  await a.unload();
  const next = { ...long, prompt: long.prompt + one.choices[0].text + ' Then' };
  const plain = await openLong(false);
  const expected = await plain.completions.create(next);
  await plain.unload();
  const b = await openLong(true);
  const got = await b.completions.create(next);
  const stats = b.prefixCacheStats();
  await b.clearPrefixCache();
  await b.unload();
  assert.equal(got.choices[0].text, expected.choices[0].text);
  assert.ok(stats.pages_read >= 6 && got.usage.timings.prompt_tokens_reused >= 6 * PAGE, JSON.stringify(stats));
});

test('a damaged page and a missing page are warnings, the answer still right; a failing store is a warning', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const plain = await open(false);
  const expected = await plain.completions.create(first);
  await plain.unload();

  // Encrypted (the default), a changed byte fails the record's authentication; unencrypted, the core's
  // checksum refuses the page.
  const faults = { damaged: 'failed authentication', 'damaged, unencrypted': 'refused', missing: 'missing' };
  for (const [fault, said] of Object.entries(faults)) {
    const encryption = fault.includes('unencrypted') ? false : undefined;
    const seed = await open(true, encryption);
    await seed.completions.create(first);
    await seed.flushPrefixCache();
    await seed.unload();
    for (const file of kvFiles()) {
      if (fault === 'missing') fs.rmSync(file);
      else {
        const bytes = fs.readFileSync(file);
        bytes[bytes.length >> 1] ^= 0x40;
        fs.writeFileSync(file, bytes);
      }
    }
    const e = await open(true, encryption);
    const { result, seen } = await warnings(() => e.completions.create(first));
    assert.equal(result.choices[0].text, expected.choices[0].text, fault);
    assert.ok(seen.some((m) => m.includes(said)), `${fault}: ${seen.join(' | ')}`);
    await e.clearPrefixCache();
    await e.unload();
  }

  // A store that cannot be written: the answer comes, saving warns.
  const store = new MemoryPageStore();
  store.put = async () => { throw new Error('QuotaExceededError: the quota is exhausted'); };
  const seen = [];
  const cache = await new PrefixCache(store, { identity: 'x', onWarning: (m) => seen.push(m) }).open();
  const e = await open(false);
  const result = await e.completions.create(first);
  assert.equal(result.choices[0].text, expected.choices[0].text);
  await e.unload();
  assert.ok(cache.entries.size === 0);
  await cache.save({ info: () => ({ cached_tokens: [1, 2, 3] }), exportPage: () => new Uint8Array(8) });
  assert.ok(seen.some((m) => m.includes('could not be stored')), seen.join(' | '));
});
