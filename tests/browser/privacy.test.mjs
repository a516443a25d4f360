// Encryption at rest in Chromium, on real OPFS, IndexedDB, Cache Storage and localStorage, through the chat
// demo (its engine in a Web Worker, prefixCache on, encrypted by default) and a worker engine whose KV
// pages go out under a kvBudget (to OPFS, sealed; with kvRecall, to memory): the origin's raw storage holds
// no text of a chat, no token ids of its prompt, and no bytes of the KV pages an unencrypted engine (a
// second browser profile) stores for the same prompt; a reload restores the thread and answers from the
// stored pages; a flipped byte in a stored page and in the saved thread is detected and discarded with a
// warning, the answer unchanged; "Forget everything" leaves nothing of tabllm in OPFS, IndexedDB, Cache
// Storage or localStorage (and, dismissed, leaves everything).
//
//   node --test --test-concurrency=1 tests/browser/privacy.test.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import path from 'node:path';

import { launchChromium, repoRoot } from './harness.mjs';
import { serveChat } from '../../apps/chat/server.mjs';
import { OVERHEAD } from '../../js/src/at_rest/record.mjs';

const SECRET = 'The secret launch code is ZEBRA ALPHA NINE and the cat is named Marmalade.';
const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ';
const LONG = `${SECRET} ${story.repeat(8)}`;  // ~420 tokens: a full KV page and a partial one
const PAGED = `${SECRET} ${story.repeat(10)}`;  // ~500 tokens: pages out of a window of 256
const BUDGET = 256 * 640;  // one page of stories260K's f16 rows

let chromium;
let server;

before(async () => {
  const dev = process.env.TABLLM_CHAT_DEV === '1' ? ['--dev'] : [];
  execFileSync(process.execPath, [path.join(repoRoot, 'apps/chat/build.mjs'), ...dev], { stdio: 'inherit' });
  server = await serveChat({});
  chromium = await launchChromium();
});

after(async () => {
  await chromium?.close();
  await server?.close();
});

// The demo in a browser profile; `said` collects what its page and its workers warn.
async function openDemo(context, query, said) {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'warning' || m.type() === 'error') said.push(m.text()); });
  page.on('pageerror', (e) => said.push(`exception: ${e.message}`));
  await page.goto(`${server.url}?${query}`);
  await page.waitForFunction(() => window.tabllmChat?.loads >= 1 || (window.tabllmChat?.state === 'idle' && document.querySelector('#model-select').options.length > 0), null, { timeout: 120_000 });
  return page;
}

// In a page of the demo: helpers the test calls with page.evaluate.
function install() {
  const toBase64 = (bytes) => { let s = ''; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000)); return btoa(s); };
  const model = () => [...document.querySelector('#model-select').options].find((o) => /stories260K/.test(o.value)).value;
  globalThis.privacy = {
    // A worker engine of its own (the demo's is window.tabllmChat.engine).
    async engine(options) {
      const { createWorkerEngine } = await import('./js/dist/index.js');
      return createWorkerEngine({ model: model(), backend: 'wasm', contextSize: 512, ...options });
    },
    async ask(engine, prompt) {
      const r = await engine.completions.create({ prompt, max_tokens: 16, temperature: 0 });
      return { text: r.choices[0].text, usage: r.usage };
    },
    // Every OPFS file of tabllm but the models (public data), as base64, by path.
    async opfs(skip = 'tabllm-models') {
      const out = {};
      const walk = async (dir, prefix) => {
        for await (const [name, handle] of dir.entries()) {
          if (prefix === '' && (!name.startsWith('tabllm') || name === skip)) continue;
          if (handle.kind === 'directory') await walk(handle, `${prefix}${name}/`);
          else out[`${prefix}${name}`] = toBase64(new Uint8Array(await (await handle.getFile()).arrayBuffer()));
        }
      };
      await walk(await navigator.storage.getDirectory(), '');
      return out;
    },
    // The slab file of a live pager, once its size has stopped changing (sealing is asynchronous).
    async pagerFile() {
      let last = -1;
      for (;;) {
        const files = await globalThis.privacy.opfs();
        const name = Object.keys(files).find((f) => f.startsWith('tabllm-kv-pages/'));
        const size = name ? files[name].length : 0;
        if (size > 0 && size === last) return files[name];
        last = size;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    // Every value of every tabllm IndexedDB database: CryptoKeys described, bytes as base64, the rest as JSON.
    async indexedDb() {
      const out = [];
      for (const { name } of await indexedDB.databases()) {
        if (!name.startsWith('tabllm')) continue;
        const db = await new Promise((resolve, reject) => { const r = indexedDB.open(name); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
        for (const store of db.objectStoreNames) {
          const values = await new Promise((resolve) => { const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => resolve(r.result); });
          const describe = async (k) => ({ type: k.type, extractable: k.extractable, algorithm: k.algorithm.name, exported: await crypto.subtle.exportKey('raw', k).then(() => 'exported', (e) => e.name) });
          for (const v of values) {
            const keys = v instanceof CryptoKey ? { v } : Object.values(v ?? {}).every((k) => k instanceof CryptoKey) ? v : null;
            if (keys) out.push({ db: name, store, keys: Object.fromEntries(await Promise.all(Object.entries(keys).map(async ([n, k]) => [n, await describe(k)]))) });
            else out.push({ db: name, store, value: v instanceof Uint8Array ? toBase64(v) : JSON.stringify(v) });
          }
        }
        db.close();
      }
      return out;
    },
    async leftovers() {
      const opfs = [];
      for await (const [name] of (await navigator.storage.getDirectory()).entries()) if (name.startsWith('tabllm')) opfs.push(name);
      return {
        opfs,
        indexedDb: (await indexedDB.databases()).map((d) => d.name).filter((n) => n.startsWith('tabllm')),
        caches: (await caches.keys()).filter((n) => n.startsWith('tabllm')),
        localStorage: Object.keys(localStorage).filter((n) => n.startsWith('tabllm')),
      };
    },
    async flip(file) {
      const [dir, name] = file.split('/').slice(-2);
      const handle = await (await (await (await navigator.storage.getDirectory()).getDirectoryHandle('tabllm-kv')).getDirectoryHandle(dir)).getFileHandle(name);
      const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
      bytes[bytes.length >> 1] ^= 0x10;
      const w = await handle.createWritable();
      await w.write(bytes);
      await w.close();
    },
  };
}

const bytesOf = (base64) => Buffer.from(base64, 'base64');
// 32-byte pieces of `plain`, every 1 KiB: whether any is in `stored`.
function sharesPieces(plain, stored) {
  for (let at = 0; at + 32 <= plain.length; at += 1024) if (stored.indexOf(plain.subarray(at, at + 32)) >= 0) return true;
  return false;
}

async function waitForReply(page, send) {
  const replied = page.evaluate(() => new Promise((resolve) => addEventListener('tabllm-chat-reply', () => resolve(), { once: true })));
  await send();
  await replied;
  await page.evaluate(() => window.tabllmChat.saved);
}

test('Chromium: nothing of a chat in plain storage; reload restores it; a flipped byte is discarded; Forget everything leaves nothing', async (t) => {
  // An unencrypted engine in a profile of its own: the bytes that must not be found, the answers that must not change.
  const plainContext = await chromium.browser.newContext();
  const said = [];
  let plain;
  try {
    const page = await openDemo(plainContext, 'autoload=0&sw=0', said);
    await page.evaluate(install);
    plain = await page.evaluate(async ({ LONG, PAGED, BUDGET }) => {
      const cached = await globalThis.privacy.engine({ prefixCache: true, encryption: false });
      const answer = await globalThis.privacy.ask(cached, LONG);
      await cached.unload();  // its pages are written
      const paged = await globalThis.privacy.engine({ kvBudget: BUDGET, encryption: false });
      const pagedAnswer = await globalThis.privacy.ask(paged, PAGED);
      const slab = await globalThis.privacy.pagerFile();
      await paged.unload();
      return { answer, pagedAnswer, slab, files: await globalThis.privacy.opfs() };
    }, { LONG, PAGED, BUDGET });
  } finally {
    await plainContext.close();
  }
  const plainPages = Object.entries(plain.files).filter(([f]) => f.endsWith('.kv'));
  const plainIndex = JSON.parse(bytesOf(Object.entries(plain.files).find(([f]) => f.endsWith('index.json'))[1]).toString());
  const packedTokens = Object.values(plainIndex.entries).map((e) => e.tokens);
  assert.ok(plainPages.length >= 2 && packedTokens.length >= 2);
  assert.ok(plain.pagedAnswer.usage.kv_pages.pages_out >= 1, JSON.stringify(plain.pagedAnswer.usage));

  const context = await chromium.browser.newContext();
  try {
    let page = await openDemo(context, 'backend=wasm', said);
    await page.evaluate(install);
    assert.equal(await page.evaluate(() => window.tabllmChat.state), 'ready');
    await page.locator('#prompt').fill(SECRET);
    await waitForReply(page, () => page.locator('#send').click());
    const stored = await page.evaluate(async ({ LONG, PAGED, BUDGET }) => {
      const answer = await globalThis.privacy.ask(window.tabllmChat.engine, LONG);
      const paged = await globalThis.privacy.engine({ kvBudget: BUDGET });
      const pagedAnswer = await globalThis.privacy.ask(paged, PAGED);
      const runtime = paged.runtime;
      const slab = await globalThis.privacy.pagerFile();
      await paged.unload();
      // With kvRecall, pages are read back mid-step, which WebCrypto cannot do at once: they stay in memory.
      const recalling = await globalThis.privacy.engine({ kvBudget: BUDGET, kvRecall: true });
      const recalled = { store: recalling.runtime.kvPageStore, answer: await globalThis.privacy.ask(recalling, PAGED),
        files: Object.keys(await globalThis.privacy.opfs()).filter((f) => f.startsWith('tabllm-kv-pages/')) };
      await recalling.unload();
      await window.tabllmChat.engine.unload();  // its pages are written
      return { answer, pagedAnswer, runtime, slab, recalled, files: await globalThis.privacy.opfs(), indexedDb: await globalThis.privacy.indexedDb(),
        localStorage: { ...localStorage } };
    }, { LONG, PAGED, BUDGET });
    assert.equal(stored.answer.text, plain.answer.text);
    assert.equal(stored.pagedAnswer.text, plain.pagedAnswer.text);
    assert.match(stored.runtime.kvPageStore, /opfs, encrypted/);
    assert.equal(stored.recalled.store, 'memory');
    assert.deepEqual(stored.recalled.files, []);
    assert.ok(stored.recalled.answer.usage.kv_pages.pages_out >= 1, JSON.stringify(stored.recalled.answer.usage.kv_pages));

    // No text, no token ids, no KV bytes of the unencrypted run, anywhere.
    const everything = [
      ...Object.entries(stored.files).map(([f, b]) => [`OPFS ${f}`, bytesOf(b)]),
      ['OPFS pager file', bytesOf(stored.slab)],
      ...stored.indexedDb.map((v) => [`IndexedDB ${v.db}/${v.store}`, v.value ? Buffer.concat([Buffer.from(v.value), bytesOf(v.value)]) : Buffer.from(JSON.stringify(v.keys))]),
      ...Object.entries(stored.localStorage).map(([k, v]) => [`localStorage ${k}`, Buffer.concat([Buffer.from(v), bytesOf(v)])]),
    ];
    t.diagnostic(`raw storage: ${everything.map(([w, b]) => `${w} (${b.length} bytes)`).join(', ')}`);
    assert.ok(Object.keys(stored.localStorage).includes('tabllm-chat-thread'));
    for (const [where, bytes] of everything) {
      for (const text of ['ZEBRA', 'Marmalade', 'launch code']) assert.ok(bytes.indexOf(text) < 0, `${where} holds "${text}"`);
      for (const tokens of packedTokens) {
        assert.ok(bytes.indexOf(tokens.slice(0, 24)) < 0 && bytes.indexOf(bytesOf(tokens).subarray(0, 32)) < 0, `${where} holds the prompt's token ids`);
      }
    }
    // The same pages (and the chat's), sealed, under names that are keyed MACs (not the hashes of the
    // prompt's tokens).
    const sealedPages = Object.entries(stored.files).filter(([f]) => f.endsWith('.kv'));
    const sealedSizes = sealedPages.map(([, b]) => bytesOf(b).length);
    for (const [file, base64] of plainPages) assert.ok(sealedSizes.includes(bytesOf(base64).length + OVERHEAD), `${file} has no sealed counterpart`);
    assert.ok(!Object.keys(stored.files).some((f) => f.endsWith('index.json')));
    for (const [file, sealed] of sealedPages) {
      assert.ok(!Object.hasOwn(plain.files, file), `${file}: the name of an unencrypted page`);
      for (const [, base64] of plainPages) assert.ok(!sharesPieces(bytesOf(base64), bytesOf(sealed)), `${file} holds bytes of an unencrypted page`);
    }
    assert.ok(bytesOf(plain.slab).length > 0 && !sharesPieces(bytesOf(plain.slab), bytesOf(stored.slab)), 'the pager file holds bytes of the unencrypted pages');
    // The device's keys, sealing and naming: non-extractable CryptoKeys, and nothing else in IndexedDB.
    const unreadable = (algorithm) => ({ type: 'secret', extractable: false, algorithm, exported: 'InvalidAccessError' });
    assert.deepEqual(stored.indexedDb.map((v) => v.keys), [{ key: unreadable('AES-GCM'), names: unreadable('HMAC') }]);

    // A reload: the thread is back, and the engine answers from the stored pages.
    await page.reload();
    await page.waitForFunction(() => window.tabllmChat?.loads >= 1, null, { timeout: 120_000 });
    await page.evaluate(install);
    const history = await page.evaluate(() => window.tabllmChat.history.map((m) => [m.role, m.content]));
    assert.deepEqual(history[0], ['user', SECRET]);
    assert.equal(history.length, 2);
    const again = await page.evaluate((LONG) => globalThis.privacy.ask(window.tabllmChat.engine, LONG), LONG);
    t.diagnostic(`after a reload: ${JSON.stringify(again.usage.timings)}`);
    assert.ok(again.usage.timings.prompt_tokens_reused > 0, JSON.stringify(again.usage.timings));
    assert.equal(again.text, plain.answer.text);

    // A byte changed in a stored page and in the saved thread: each discarded with a warning.
    await page.evaluate(() => window.tabllmChat.engine.unload());
    const firstPage = sealedPages.sort(([, a], [, b]) => bytesOf(b).length - bytesOf(a).length)[0][0];  // the full page
    await page.evaluate(async (file) => {
      await globalThis.privacy.flip(file);
      const thread = Uint8Array.from(atob(localStorage.getItem('tabllm-chat-thread')), (c) => c.charCodeAt(0));
      thread[thread.length >> 1] ^= 0x10;
      localStorage.setItem('tabllm-chat-thread', btoa(String.fromCharCode(...thread)));
    }, firstPage);
    said.length = 0;
    await page.reload();
    await page.waitForFunction(() => window.tabllmChat?.loads >= 1, null, { timeout: 120_000 });
    await page.evaluate(install);
    assert.deepEqual(await page.evaluate(() => window.tabllmChat.history.length), 0);
    const damaged = await page.evaluate((LONG) => globalThis.privacy.ask(window.tabllmChat.engine, LONG), LONG);
    assert.equal(damaged.text, plain.answer.text);
    t.diagnostic(`warnings: ${said.join(' | ')}`);
    assert.ok(said.some((m) => /saved thread was discarded.*failed authentication/.test(m)), said.join(' | '));
    assert.ok(said.some((m) => /KV page was discarded.*failed authentication/.test(m)), said.join(' | '));
    assert.equal(await page.evaluate(() => localStorage.getItem('tabllm-chat-thread')), null);

    // Forget everything, confirmed: nothing of tabllm is left in the origin's storage.
    await page.locator('#prompt').fill(SECRET);
    await waitForReply(page, () => page.locator('#send').click());
    // Dismissed, the confirmation leaves everything as it was.
    page.once('dialog', (dialog) => dialog.dismiss());
    await page.locator('#forget').click();
    const kept = await page.evaluate(() => globalThis.privacy.leftovers());
    assert.ok(kept.opfs.includes('tabllm-kv') && kept.indexedDb.includes('tabllm-keys') && kept.localStorage.includes('tabllm-chat-thread'), JSON.stringify(kept));
    assert.equal(await page.evaluate(() => window.tabllmChat.forgotten), undefined);
    page.once('dialog', (dialog) => dialog.accept());
    await page.locator('#forget').click();
    await page.waitForFunction(() => window.tabllmChat.forgotten === 1, null, { timeout: 30_000 });
    const left = await page.evaluate(() => globalThis.privacy.leftovers());
    assert.deepEqual(left, { opfs: [], indexedDb: [], caches: [], localStorage: [] });
    assert.deepEqual(await page.evaluate(() => window.tabllmChat.errors), []);
  } finally {
    await context.close();
  }
});
