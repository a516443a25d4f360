// Paged KV under a kvBudget on WebAssembly (stories260K, f16: 640 bytes a position, context 512): a budget
// of one page holds a window of 256 positions; a prompt longer than the window runs through it, its older
// rows going to files in the background and coming back when the prompt's end names them, counted in
// usage.kv_pages and engine.kvPagerStats(). Paging out never changes the window: the tokens equal those of
// a store that refuses every page (a plain context shift); a full store or one that cannot be written
// warns and the answer is still a whole generation. A worker engine answers kvPagerStats() from its worker.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { createWorkerEngine } from '../../js/src/index.mjs';
import { KvPageSpill, openKvPageSpill } from '../../js/src/kv_pager.mjs';
import { MemoryPageStore, NodePageStore } from '../../js/src/prefix_cache.mjs';
import { missingBuild, storiesEngine, storiesPath } from './api-env.mjs';
import { loadEngine, skipOrFail } from './wasm_env.mjs';

const skip = missingBuild();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-kv-budget-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const BUDGET = 256 * 640;  // one page of stories260K's f16 rows
const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ';
const END_TOKENS = { 1: -100, 2: -100 };

async function session(spill, recallPositions = 0) {
  const tabllm = await loadEngine('tabllm-st');
  const model = tabllm.loadModel(fs.readFileSync(storiesPath()));
  const s = model.createSession({ contextSize: 512, kvBudget: BUDGET, kvPageStore: spill, recallPositions });
  return { s, done: () => { s.free(); model.free(); tabllm.shutdown(); } };
}

function generate(s, prompt, params) {
  s.begin(prompt, params);
  while (s.next() !== null);
  return s.result();
}

const refusing = { put() { throw new Error('the disk is unavailable'); }, get(name) { throw new Error(`no page ${name}`); }, remove() {} };

test('paging out keeps the window as a plain shift leaves it; a refusing store warns', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const params = { max_tokens: 60, temperature: 0, logit_bias: END_TOKENS };
  const paged = await session(new KvPageSpill(new MemoryPageStore(), { readSync: () => null }));
  const plain = await session(refusing);
  try {
    assert.equal(paged.s.info().kv_window, 256);
    assert.equal(paged.s.info().context_size, 512);
    const a = generate(paged.s, story.repeat(10), params);  // ~480 prompt tokens: almost twice the window
    const b = generate(plain.s, story.repeat(10), params);
    t.diagnostic(`${a.context_shifts} shifts, ${a.kv_pages.pages_out} pages out (${a.kv_pages.bytes_out} bytes), ${a.kv_pages.page_out_ms.toFixed(1)} ms`);
    assert.equal(a.generated_tokens, 60);
    assert.ok(a.kv_pages.pages_out >= 2, JSON.stringify(a.kv_pages));
    assert.deepEqual(a.warnings, []);
    assert.deepEqual(b.tokens.map((x) => x.id), a.tokens.map((x) => x.id));
    assert.equal(b.kv_pages.pages_out, 0);
    assert.equal(b.kv_pages.failures, a.kv_pages.pages_out);
    assert.match(b.warnings[0], /the disk is unavailable.*plain context shift/);
  } finally {
    paged.done();
    plain.done();
  }
});

test('a full store and an unwritable folder: warnings and a whole generation', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const params = { max_tokens: 40, temperature: 0, logit_bias: END_TOKENS };
  const warned = [];
  const full = await session(new KvPageSpill(new MemoryPageStore(), { maxBytes: 100_000, readSync: () => null }), 64);
  // A folder under a file cannot be made: every background write fails, and a recall finds nothing.
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, '');
  const spill = new KvPageSpill(new NodePageStore(path.join(file, 'pages')), { readSync: (name) => fs.readFileSync(path.join(file, 'pages', name)), onWarning: (m) => warned.push(m) });
  const broken = await session(spill, 64);
  try {
    const a = generate(full.s, story.repeat(10), params);
    assert.equal(a.generated_tokens, 40);
    assert.ok(a.kv_pages.failures > 0 && a.warnings.some((w) => /full/.test(w)), JSON.stringify(a.warnings));
    // The writes fail after the handover: let them, then a long prompt's recall asks for the lost pages.
    generate(broken.s, story.repeat(10), params);
    await spill.flush();
    const b = generate(broken.s, `${story.repeat(10)} Lily`, params);
    await spill.flush();
    assert.equal(b.generated_tokens, 40);
    assert.ok(warned.some((w) => /could not be written/.test(w)), JSON.stringify(warned));
    assert.ok(spill.stats.writeFailures > 0);
  } finally {
    full.done();
    broken.done();
  }
});

test('the engine option: files in the background, recall, usage.kv_pages and kvPagerStats()', async (t) => {
  if (skip) return skipOrFail(t, skip);
  await assert.rejects(async () => storiesEngine({ kvBudget: -1 }), /kvBudget must be a positive number of bytes/);
  await assert.rejects(storiesEngine({ contextSize: 512, kvBudget: 50_000 }), /holds 78 positions.*at least 163840 bytes/);
  await assert.rejects(storiesEngine({ kvRecall: true }), /kvRecall needs a kvBudget/);
  const engine = await storiesEngine({ contextSize: 512, kvBudget: BUDGET, kvRecall: true });
  try {
    assert.equal(engine.runtime.kvWindow, 256);
    // A code given early and asked about at the end: a page out comes back before the question.
    const prompt = `The code is 4 7 1 9 2. ${story.repeat(10)}Was the code 4 7 1 9 2?`;
    const r = await engine.completions.create({ prompt, max_tokens: 30, temperature: 0 });
    t.diagnostic(`usage.kv_pages ${JSON.stringify(r.usage.kv_pages)}`);
    assert.ok(r.usage.kv_pages.pages_out >= 2);
    assert.ok(r.usage.kv_pages.pages_in >= 1);
    assert.equal(r.usage.kv_pages.failures, 0);
    const stats = engine.kvPagerStats();
    assert.equal(stats.window, 256);
    assert.equal(stats.pagesOut, r.usage.kv_pages.pages_out);
    assert.equal(stats.pagesIn, r.usage.kv_pages.pages_in);
    assert.ok(stats.store.bytesHeld > 0 || stats.store.pagesWritten > 0);
  } finally {
    await engine.unload();
  }
});

test('a worker engine answers kvPagerStats() and prefixCacheStats() from its worker', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const engine = await createWorkerEngine({ model: storiesPath(), backend: 'wasm', wasmVariant: 'single', contextSize: 512, kvBudget: BUDGET });
  try {
    const r = await engine.completions.create({ prompt: story.repeat(8), max_tokens: 4, temperature: 0 });
    const stats = await engine.kvPagerStats();
    assert.equal(stats.window, 256);
    assert.ok(stats.pagesOut >= 1 && stats.pagesOut === r.usage.kv_pages.pages_out, JSON.stringify(stats));
    assert.equal(await engine.prefixCacheStats(), null);  // no prefixCache option
  } finally {
    await engine.unload();
    await engine.terminate();
  }
});

test('openKvPageSpill in Node: pages written to files and read back from them, the folder removed at close', async () => {
  const { spill, close } = await openKvPageSpill({});
  const bytes = new Uint8Array([1, 2, 3, 4]);
  spill.put('kv-0', bytes);
  await spill.flush();
  assert.equal(spill.pending.size, 0);
  assert.deepEqual(spill.get('kv-0'), bytes);  // from the file
  assert.equal(spill.stats.pagesWritten, 1);
  assert.throws(() => spill.get('kv-9'), /no KV page kv-9/);
  await close();
});
