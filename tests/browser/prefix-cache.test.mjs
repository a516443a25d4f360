// The persisted prefix cache in Chromium, on real OPFS: a page answers a long prompt and stores its KV
// pages; after a reload, a new engine answers the next turn from them — the same text as an engine that
// prefills it all, with a TTFT (call to first streamed text, the restore included) many times shorter.
// And its faults, each a warning and the answer of an engine without a cache: the origin's quota exhausted
// mid-generation (CDP Storage.overrideQuotaForOrigin), a stored page with a byte changed, the page store
// removed by another tab while the engine runs (before a request, and mid-generation).
//
//   node --test --test-concurrency=1 tests/browser/prefix-cache.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { launchChromium, openPage, startServer } from './harness.mjs';
import { modelsDir, skipOrFail, storiesModel, wasmDir } from '../js/wasm_env.mjs';

const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ';
const prompt = story.repeat(12);  // 335 tokens (context 512): one full page and a partial one
const missing = fs.existsSync(path.join(wasmDir, 'tabllm-st.mjs')) ? null : `${wasmDir}/tabllm-st.mjs is missing: run scripts/build-wasm.sh`;

let server;
let chromium;
before(async () => {
  if (missing) return;
  storiesModel('f32');
  server = await startServer({ mounts: { '/build-wasm/': wasmDir, '/models/': modelsDir } });
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
  await server?.close();
});

// In a page: globalThis.open(prefixCache) makes the page's engine; globalThis.ask({prompt, maxTokens})
// answers streamed — globalThis.firstText resolves with its first text, with the prefix cache's counters
// then — and returns the text, TTFT from the call, the usage and the warnings since the last ask.
function install() {
  globalThis.warnings = [];
  const warn = console.warn;
  console.warn = (m) => { globalThis.warnings.push(String(m)); warn(m); };
  globalThis.open = async (prefixCache, encryption) => {
    const { createEngine } = await import('/js/src/index.mjs');
    await globalThis.engine?.unload();
    globalThis.engine = await createEngine({ model: '/models/stories260K-f32.gguf', backend: 'wasm', wasmVariant: 'single', prefixCache, encryption });
  };
  globalThis.firstText = new Promise((resolve) => { globalThis.firstTextOut = resolve; });
  globalThis.ask = async ({ prompt, maxTokens }) => {
    globalThis.warnings = [];
    const start = performance.now();
    let ttft = null;
    let text = '';
    let usage = null;
    const stream = await globalThis.engine.completions.create({ prompt, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) {
      if (chunk.choices?.[0]?.text && ttft === null) {
        ttft = performance.now() - start;
        globalThis.firstTextOut(globalThis.engine.prefixCacheStats());
      }
      text += chunk.choices?.[0]?.text ?? '';
      usage = chunk.usage ?? usage;
    }
    await globalThis.engine.flushPrefixCache();
    globalThis.firstText = new Promise((resolve) => { globalThis.firstTextOut = resolve; });
    return { text, ttft, usage, reused: usage.timings.prompt_tokens_reused, stats: globalThis.engine.prefixCacheStats(), warnings: globalThis.warnings };
  };
  globalThis.kvFiles = async () => {
    const files = [];
    try {
      const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabllm-kv');
      for await (const [, dir] of root.entries()) for await (const [name, file] of dir.entries()) if (name.endsWith('.kv')) files.push({ name, file, dir });
    } catch { /* no store */ }
    return files;
  };
}

// Asks, brings `fault` about once the answer's first text is out (the engine goes on generating meanwhile),
// and returns the answer. The fault must come before the answer's pages are written: a long answer leaves
// it the time, and the counters say whether it did.
async function askWithFault(page, request, fault) {
  const answer = page.evaluate((r) => globalThis.ask(r), request);
  answer.catch(() => {});  // awaited below; a failure before that must not hide the test's own error
  const atFirstText = await Promise.race([page.evaluate(() => globalThis.firstText), answer]);
  await fault();
  const now = await page.evaluate(() => globalThis.engine.prefixCacheStats());
  assert.equal(now.pages_written, atFirstText.pages_written, 'the fault came after the answer was stored: make the answer longer');
  return answer;
}

async function newPage(context) {
  const page = await openPage(context, `${server.url}/tests/browser/pages/engine.html`);
  page.setDefaultTimeout(120_000);
  await page.evaluate(install);
  return page;
}

// The answer of an engine without a prefix cache (a page of its own: its storage is the same origin's).
async function plainAnswer(context, request) {
  const page = await newPage(context);
  await page.evaluate(() => globalThis.open(false));
  const result = await page.evaluate((r) => globalThis.ask(r), request);
  await page.close();
  return result;
}

// A context of its own per test: OPFS starts empty and pages of one context share it.
async function withContext(t, fn) {
  if (missing) return skipOrFail(t, missing);
  const context = await chromium.browser.newContext();
  try {
    await fn(context);
  } finally {
    await context.close();
  }
}

test('Chromium, OPFS: a reloaded page continues a long prompt from its stored KV pages, many times faster', (t) => withContext(t, async (context) => {
  const page = await newPage(context);
  await page.evaluate(() => globalThis.open(true));
  const first = await page.evaluate((p) => globalThis.ask({ prompt: p, maxTokens: 40 }), prompt);
  assert.ok((await page.evaluate(async () => (await globalThis.kvFiles()).length)) >= 2, JSON.stringify(first.stats));

  await page.reload();
  await page.evaluate(install);
  const next = { prompt: `${prompt}${first.text} The next day,`, maxTokens: 16 };
  await page.evaluate(() => globalThis.open(false));
  const plain = await page.evaluate((r) => globalThis.ask(r), next);
  await page.evaluate(() => globalThis.open(true));
  const restored = await page.evaluate((r) => globalThis.ask(r), next);
  const s = restored.stats;
  t.diagnostic(`prompt ${restored.usage.prompt_tokens} tokens: TTFT ${plain.ttft.toFixed(0)} ms prefilled, ${restored.ttft.toFixed(0)} ms restored ` +
    `(${restored.reused} positions from ${s.pages_read} pages, ${s.bytes_read} bytes; restore ${s.restore_ms.toFixed(1)} ms: ` +
    `lookup ${s.lookup_ms.toFixed(1)}, reads ${s.read_ms.toFixed(1)}, imports ${s.import_ms.toFixed(1)}; index ${s.open_ms.toFixed(1)} ms at load)`);
  assert.equal(restored.text, plain.text);
  assert.equal(plain.reused, 0);
  assert.ok(restored.reused >= 350, JSON.stringify(restored));
  assert.ok(restored.ttft * 3 < plain.ttft, `TTFT ${restored.ttft} ms restored against ${plain.ttft} ms prefilled`);
}));

test('Chromium, OPFS: the quota exhausted mid-generation is a warning, the answer right, and the engine goes on', (t) => withContext(t, async (context) => {
  const turn = { prompt, maxTokens: 150 };
  const expected = await plainAnswer(context, turn);
  const page = await newPage(context);
  const cdp = await context.newCDPSession(page);
  try {
    await page.evaluate(() => globalThis.open(true));
    // Mid-generation, the origin's quota becomes what it uses now (the model file counts): no page fits.
    const got = await askWithFault(page, turn, async () => {
      const { usage } = await page.evaluate(() => navigator.storage.estimate());
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url, quotaSize: usage + 1024 });
    });
    assert.equal(got.text, expected.text);
    assert.ok(got.warnings.some((w) => w.includes('could not be stored') && /quota/i.test(w)), got.warnings.join(' | '));
    assert.equal(await page.evaluate(async () => (await globalThis.kvFiles()).length), 0);

    const next = { prompt: `${prompt}${got.text} Then`, maxTokens: 16 };
    const later = await page.evaluate((r) => globalThis.ask(r), next);
    assert.equal(later.text, (await plainAnswer(context, next)).text);
  } finally {
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url });
  }
}));

// Unencrypted, so that the core's checksum is what refuses the page (encrypted, its authentication fails
// first: tests/browser/privacy.test.mjs).
test('Chromium, OPFS: a stored page with a byte changed is refused with a warning; the pages before it still serve', (t) => withContext(t, async (context) => {
  const page = await newPage(context);
  await page.evaluate(() => globalThis.open(true, false));
  const first = await page.evaluate((p) => globalThis.ask({ prompt: p, maxTokens: 40 }), prompt);
  // The page of positions [256, …) gets one byte flipped in the middle, on disk.
  await page.evaluate(async () => {
    await globalThis.engine.unload();
    const index = JSON.parse(await (await (await (await globalThis.kvFiles())[0].dir.getFileHandle('index.json')).getFile()).text());
    const [key] = Object.entries(index.entries).find(([, e]) => e.start === 256);
    const { file, dir } = (await globalThis.kvFiles()).find((f) => f.name === `${key}.kv`);
    const bytes = new Uint8Array(await (await file.getFile()).arrayBuffer());
    bytes[bytes.length >> 1] ^= 0x40;
    const writable = await (await dir.getFileHandle(`${key}.kv`)).createWritable();
    await writable.write(bytes);
    await writable.close();
  });

  const next = { prompt: `${prompt}${first.text} The next day,`, maxTokens: 16 };
  await page.reload();
  await page.evaluate(install);
  await page.evaluate(() => globalThis.open(true, false));
  const got = await page.evaluate((r) => globalThis.ask(r), next);
  assert.equal(got.text, (await plainAnswer(context, next)).text);
  assert.ok(got.warnings.some((w) => w.includes('refused') && w.includes('checksum')), got.warnings.join(' | '));
  assert.equal(got.reused, 256, 'the first page, intact, is restored');
  assert.equal(got.stats.refused, 1);
}));

test('Chromium, OPFS: the page store removed by another tab while the engine runs is a warning, the answer right', (t) => withContext(t, async (context) => {
  const page = await newPage(context);
  const other = await newPage(context);
  // Chromium refuses the removal while a file is in use (a read or a write just ending): the other tab
  // tries again, as a user clearing the site's data never sees it.
  const removeStore = () => other.evaluate(async () => {
    for (let tries = 1; ; tries++) {
      try {
        return await (await navigator.storage.getDirectory()).removeEntry('tabllm-kv', { recursive: true });
      } catch (error) {
        if (error.name !== 'NoModificationAllowedError' || tries === 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  });
  await page.evaluate(() => globalThis.open(true));
  const first = await page.evaluate((p) => globalThis.ask({ prompt: p, maxTokens: 40 }), prompt);

  // A new engine knows the stored pages; the other tab removes them before its request.
  const next = { prompt: `${prompt}${first.text} The next day,`, maxTokens: 16 };
  await page.evaluate(() => globalThis.open(true));
  await removeStore();
  const got = await page.evaluate((r) => globalThis.ask(r), next);
  assert.equal(got.text, (await plainAnswer(context, next)).text);
  assert.ok(got.warnings.some((w) => w.includes('missing')), got.warnings.join(' | '));
  assert.equal(got.reused, 0);
  assert.ok((await page.evaluate(async () => (await globalThis.kvFiles()).length)) >= 2, 'the store is made again and the pages written');

  // And mid-generation: the pages of that answer cannot be written; the answer is still right.
  const last = { prompt: `${next.prompt}${got.text} Then`, maxTokens: 96 };
  const mid = await askWithFault(page, last, removeStore);
  assert.equal(mid.text, (await plainAnswer(context, last)).text);
  assert.ok(mid.warnings.some((w) => w.includes('could not be stored')), mid.warnings.join(' | '));
}));

// Records of IndexedDB's tabllm-kv database, by the store they belong to (its name before the "/").
function idbStores() {
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open('tabllm-kv');
    opening.onerror = () => reject(opening.error);
    opening.onsuccess = () => {
      const db = opening.result;
      if (!db.objectStoreNames.contains('pages')) { db.close(); return resolve({}); }
      const keys = db.transaction('pages').objectStore('pages').getAllKeys();
      keys.onsuccess = () => {
        db.close();
        const stores = {};
        for (const key of keys.result) { const store = String(key).split('/')[0]; stores[store] = (stores[store] ?? 0) + 1; }
        resolve(stores);
      };
    };
  });
}

test('Chromium without OPFS: the prefix cache and the KV pager keep their pages in IndexedDB; a reloaded page continues from them', (t) => withContext(t, async (context) => {
  // As a browser without the Origin Private File System (or where the site may not use it).
  await context.addInitScript(() => { delete StorageManager.prototype.getDirectory; });
  const page = await newPage(context);
  const defineIdbStores = `globalThis.idbStores = ${idbStores}`;
  assert.equal(await page.evaluate(() => typeof navigator.storage.getDirectory), 'undefined');
  await page.evaluate(() => globalThis.open(true));
  const first = await page.evaluate((p) => globalThis.ask({ prompt: p, maxTokens: 40 }), prompt);
  const stored = await page.evaluate(idbStores);
  assert.ok(Object.values(stored).some((n) => n >= 2), JSON.stringify(stored));
  assert.ok(first.stats.pages_written >= 2, JSON.stringify(first.stats));

  await page.reload();
  await page.evaluate(install);
  await page.evaluate(defineIdbStores);
  const next = { prompt: `${prompt}${first.text} The next day,`, maxTokens: 16 };
  const plain = await plainAnswer(context, next);
  await page.evaluate(() => globalThis.open(true));
  const restored = await page.evaluate((r) => globalThis.ask(r), next);
  t.diagnostic(`IndexedDB: ${restored.reused} positions restored from ${restored.stats.pages_read} pages; TTFT ${restored.ttft.toFixed(0)} ms restored, ${plain.ttft.toFixed(0)} ms prefilled`);
  assert.equal(restored.text, plain.text);
  assert.ok(restored.reused >= 350, JSON.stringify(restored));

  // A kvBudget engine on the page's main thread (no recall): the pages it drops go to IndexedDB, not memory.
  const paged = await page.evaluate(async (p) => {
    const { createEngine } = await import('/js/src/index.mjs');
    await globalThis.engine.unload();
    const engine = await createEngine({ model: '/models/stories260K-f32.gguf', backend: 'wasm', wasmVariant: 'single', contextSize: 512, kvBudget: 256 * 640 });
    const reply = await engine.completions.create({ prompt: p, max_tokens: 300, temperature: 0, logit_bias: { 1: -100, 2: -100 } });
    // The store writes a page to IndexedDB after the step that dropped it (bytesHeld until then): wait for it.
    let stats = engine.kvPagerStats();
    for (let i = 0; i < 200 && stats.store.pagesWritten + stats.store.writeFailures < stats.pagesOut; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      stats = engine.kvPagerStats();
    }
    const during = await globalThis.idbStores();
    await engine.unload();
    return { usage: reply.usage, stats, during, after: await globalThis.idbStores() };
  }, prompt.slice(0, 200));
  t.diagnostic(`main-thread pager: ${JSON.stringify(paged.stats)}`);
  assert.equal(paged.usage.completion_tokens, 300);
  assert.ok(paged.stats.pagesOut >= 1 && paged.stats.store.pagesWritten === paged.stats.pagesOut && paged.stats.failures === 0, JSON.stringify(paged.stats));
  const pagerStores = (stores) => Object.keys(stores).filter((name) => name.startsWith('pages-'));
  assert.equal(pagerStores(paged.during).length, 1, JSON.stringify(paged.during));
  assert.equal(pagerStores(paged.after).length, 0, 'the spill removes its pages when the engine unloads');

  await page.evaluate(async () => { const { createEngine } = await import('/js/src/index.mjs'); await (await createEngine({ model: '/models/stories260K-f32.gguf', backend: 'wasm', wasmVariant: 'single' })).forget(); });
  assert.deepEqual(await page.evaluate(() => indexedDB.databases().then((dbs) => dbs.map((d) => d.name).filter((n) => n.startsWith('tabllm')))), []);
}));
