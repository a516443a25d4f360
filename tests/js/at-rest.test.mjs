// Encryption at rest in Node (WebAssembly, stories260K, files): the record format's two sealers agree and
// refuse a changed, truncated, moved or foreign-key record; the device key is one file of mode 0600; an
// app's records (createSealer) are sealed the same way; an
// engine's prefix-cache pages, its index and its KV pager's pages hold nothing of the prompt (no text, no
// token ids, no KV row of the same engine unencrypted), a reopened engine still answers from them, a
// passphrase opens its own pages only, and forget() leaves nothing of tabllm in its folders.
import assert from 'node:assert/strict';
import nodeCrypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { createEngine, createSealer, createWorkerEngine } from '../../js/src/index.mjs';
import { atRestKeys } from '../../js/src/at_rest/keys.mjs';
import { OVERHEAD, RecordError, nodeSealer, webCryptoSealer } from '../../js/src/at_rest/record.mjs';
import { missingBuild, storiesPath } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

const skip = missingBuild();
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-at-rest-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const kvDir = path.join(root, 'kv');
fs.mkdirSync(kvDir);
process.env.TABLLM_KV_DIR = kvDir;  // the prefix cache, the key and the pager's folders
process.env.TABLLM_CACHE_DIR = path.join(root, 'models');  // what forget() empties besides

const SECRET = 'The secret launch code is ZEBRA ALPHA NINE and the cat is named Marmalade. ';
const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ';
const pagedRequest = { prompt: SECRET + story.repeat(10), max_tokens: 24, temperature: 0 };  // ~500 tokens: pages out under the budget
const cachedRequest = { prompt: SECRET + story.repeat(8), max_tokens: 24, temperature: 0 };  // ~420 tokens: a full page and a partial one
const BUDGET = 256 * 640;  // one page of f16 rows: a window of 256 positions

const open = (options = {}) => createEngine({ model: storiesPath(), backend: 'wasm', wasmVariant: 'single', contextSize: 512, ...options });
const forgetFiles = () => { for (const name of fs.readdirSync(kvDir)) fs.rmSync(path.join(kvDir, name), { recursive: true }); };
const filesUnder = (dir) => fs.readdirSync(dir, { recursive: true }).map((f) => path.join(dir, String(f))).filter((f) => fs.statSync(f).isFile());
const contains = (haystack, needle) => Buffer.from(haystack).indexOf(Buffer.from(needle)) >= 0;

// The page files of the engine's pager (its live folder), by page name, once its background writes are done.
async function pagerPages(engine) {
  const written = () => { const s = engine.kvPagerStats(); return s.store.pagesWritten + s.store.writeFailures === s.pagesOut; };
  while (!written() || filesUnder(kvDir).some((f) => f.endsWith('.part'))) await new Promise((resolve) => setTimeout(resolve, 5));
  return pagerFiles();
}
const pagerFiles = () => Object.fromEntries(filesUnder(kvDir).filter((f) => f.includes('tabllm-kv-pages-')).map((f) => [path.basename(f), fs.readFileSync(f)]));
const prefixPages = () => Object.fromEntries(filesUnder(kvDir).filter((f) => f.endsWith('.kv')).map((f) => [path.basename(f), fs.readFileSync(f)]));

// 32-byte pieces of `plain`, every 1 KiB: none may appear in `sealed`.
function sharesPieces(plain, sealed) {
  for (let at = 0; at + 32 <= plain.length; at += 1024) if (contains(sealed, plain.subarray(at, at + 32))) return true;
  return false;
}

test('the two sealers write one format, and refuse what is not their record', async () => {
  const raw = nodeCrypto.randomBytes(32);
  const web = webCryptoSealer(await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']));
  const node = nodeSealer(raw, nodeCrypto);
  const bytes = new TextEncoder().encode(SECRET);
  const a = await web.seal('s', 'n', bytes);
  const b = node.seal('s', 'n', bytes);
  assert.equal(a.length, bytes.length + OVERHEAD);
  assert.notDeepEqual(a, b);  // a fresh IV each
  assert.deepEqual(node.open('s', 'n', a), bytes);
  assert.deepEqual(await web.open('s', 'n', b), bytes);
  const flipped = a.slice();
  flipped[20] ^= 1;
  const other = webCryptoSealer(await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']));
  for (const [why, attempt] of Object.entries({
    'a changed byte': () => web.open('s', 'n', flipped),
    'a truncated record': () => web.open('s', 'n', a.subarray(0, a.length - 1)),
    'a record moved to another name': () => web.open('s', 'm', a),
    'a record moved to another store': () => web.open('t', 'n', a),
    'another key': () => other.open('s', 'n', a),
    'too short to be a record': () => web.open('s', 'n', a.subarray(0, 10)),
    'not sealed at all': () => web.open('s', 'n', bytes),
  })) await assert.rejects(async () => attempt(), RecordError, why);
  assert.throws(() => node.open('s', 'n', flipped), RecordError);
});

test('the device keys: one file of mode 0600, the same keys each time; a passphrase derives its own', async () => {
  const sealerOf = async (encryption) => webCryptoSealer((await atRestKeys(encryption)).key);
  const first = await sealerOf(true);
  const sealed = await first.seal('s', 'n', new Uint8Array([1, 2, 3]));
  assert.deepEqual(await (await sealerOf(true)).open('s', 'n', sealed), new Uint8Array([1, 2, 3]));
  const file = path.join(kvDir, 'device.key');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(file).size, 64);
  const mac = async (keys) => Buffer.from(await crypto.subtle.sign('HMAC', keys.names, new TextEncoder().encode('a name')));
  assert.deepEqual(await mac(await atRestKeys(true)), await mac(await atRestKeys(true)));
  assert.notDeepEqual(await mac(await atRestKeys(true)), await mac(await atRestKeys({ passphrase: 'correct horse' })));
  assert.equal(await atRestKeys(false), null);
  const started = performance.now();
  const mine = await sealerOf({ passphrase: 'correct horse' });
  const ms = performance.now() - started;
  const record = await mine.seal('s', 'n', new Uint8Array([4]));
  assert.deepEqual(await (await sealerOf({ passphrase: 'correct horse' })).open('s', 'n', record), new Uint8Array([4]));
  await assert.rejects(async () => (await sealerOf({ passphrase: 'wrong horse' })).open('s', 'n', record), RecordError);
  await assert.rejects(async () => first.open('s', 'n', record), RecordError);
  assert.ok(ms > 20, `600,000 PBKDF2 iterations took ${ms.toFixed(0)} ms`);
});

test('createSealer: an app\'s text sealed as base64 under the device key; a changed or moved record is refused', async () => {
  const sealer = await createSealer({ store: 'notes' });
  const record = await sealer.sealText('today', SECRET);
  assert.ok(!record.includes('ZEBRA') && !Buffer.from(record, 'base64').includes('ZEBRA'));
  assert.equal(await (await createSealer({ store: 'notes' })).openText('today', record), SECRET);
  await assert.rejects(sealer.openText('yesterday', record), RecordError);
  await assert.rejects((await createSealer({ store: 'other' })).openText('today', record), RecordError);
  const changed = `${record.slice(0, 10)}${record[10] === 'A' ? 'B' : 'A'}${record.slice(11)}`;
  await assert.rejects(sealer.openText('today', changed), RecordError);
  await assert.rejects(sealer.openText('today', 'not base64 at all!'), RecordError);
  await assert.rejects(createSealer({}), /store must be a non-empty string/);
  await assert.rejects(createSealer({ store: 'x', encryption: false }), /encryption must be true/);
});

test('an engine stores nothing of the prompt in plain; reopened, it answers from its pages; forget() leaves nothing', async (t) => {
  if (skip) return skipOrFail(t, skip);
  // The same requests unencrypted, for the bytes encryption must hide and the answers it must not change:
  // one engine with the prefix cache, one whose pages go out under a budget and come back (kvRecall).
  const cached = { prefixCache: true };
  const paged = { kvBudget: BUDGET, kvRecall: true };
  const plainCached = await open({ ...cached, encryption: false });
  const plainAnswer = await plainCached.completions.create(cachedRequest);
  await plainCached.flushPrefixCache();
  const plainPrefix = prefixPages();
  const plainIndex = JSON.parse(fs.readFileSync(filesUnder(kvDir).find((f) => f.endsWith('index.json')), 'utf8'));
  const packedTokens = Object.values(plainIndex.entries).map((e) => e.tokens);
  await plainCached.unload();
  forgetFiles();
  const plainPaged = await open({ ...paged, encryption: false });
  const plainPagedAnswer = await plainPaged.completions.create(pagedRequest);
  const plainPager = await pagerPages(plainPaged);
  await plainPaged.unload();

  const engine = await open(cached);
  assert.match(engine.runtime.prefixCache, /encrypted/);
  const answer = await engine.completions.create(cachedRequest);
  assert.equal(answer.choices[0].text, plainAnswer.choices[0].text);
  await engine.flushPrefixCache();
  const pagedEngine = await open(paged);
  assert.match(pagedEngine.runtime.kvPageStore, /encrypted/);
  const pagedAnswer = await pagedEngine.completions.create(pagedRequest);
  assert.equal(pagedAnswer.choices[0].text, plainPagedAnswer.choices[0].text);
  const kv = pagedAnswer.usage.kv_pages;
  assert.ok(kv.pages_in >= 1 && kv.failures === 0, JSON.stringify(kv));  // pages read back and opened
  const pager = await pagerPages(pagedEngine);
  const prefix = prefixPages();
  t.diagnostic(`pager pages ${Object.keys(pager).length}, prefix-cache pages ${Object.keys(prefix).length}`);
  assert.ok(Object.keys(pager).length >= 1 && Object.keys(prefix).length >= 1);
  // Pages of the same names hold the same rows (a page the core has dropped may be gone from either).
  const common = Object.keys(pager).filter((name) => Object.hasOwn(plainPager, name));
  assert.ok(common.length >= 1, `pager pages ${Object.keys(pager)}, unencrypted ${Object.keys(plainPager)}`);
  for (const [name, bytes] of Object.entries(pager)) {
    for (const unencrypted of Object.values(plainPager)) assert.ok(!sharesPieces(unencrypted, bytes), `pager page ${name} holds bytes of an unencrypted page`);
  }
  for (const name of common) assert.equal(pager[name].length, plainPager[name].length + OVERHEAD, name);
  // The prefix cache's files are named by a keyed MAC: none has an unencrypted page's name (a hash of the
  // prompt's tokens), and none holds a piece of any unencrypted page.
  const sizes = (pages, extra = 0) => Object.values(pages).map((b) => b.length + extra).sort((a, b) => a - b);
  assert.deepEqual(sizes(prefix), sizes(plainPrefix, OVERHEAD));
  for (const [name, bytes] of Object.entries(prefix)) {
    assert.ok(!Object.hasOwn(plainPrefix, name), name);
    for (const unencrypted of Object.values(plainPrefix)) assert.ok(!sharesPieces(unencrypted, bytes), `page ${name} holds bytes of an unencrypted page`);
  }
  assert.ok(!filesUnder(kvDir).some((f) => f.endsWith('index.json')));
  assert.ok(packedTokens.length >= 1);
  for (const file of filesUnder(kvDir)) {
    const bytes = fs.readFileSync(file);
    assert.ok(!contains(bytes, 'ZEBRA') && !contains(bytes, 'Marmalade'), file);
    for (const tokens of packedTokens) {
      assert.ok(!contains(bytes, tokens.slice(0, 24)), `${file} holds the prompt's token ids`);
      assert.ok(!contains(bytes, Buffer.from(tokens, 'base64').subarray(0, 32)), `${file} holds the prompt's token ids`);
    }
  }
  await engine.unload();

  // Reopened with the key: the pages answer the prompt again.
  const reopened = await open(cached);
  const again = await reopened.completions.create(cachedRequest);
  assert.ok(again.usage.timings.prompt_tokens_reused > 0, JSON.stringify(again.usage.timings));
  assert.equal(again.choices[0].text, plainAnswer.choices[0].text);
  // forget() through either engine wipes what both stored, the paged engine's live pages included; files
  // of others in the same folders stay.
  const oldKey = fs.readFileSync(path.join(kvDir, 'device.key'));
  const others = [path.join(kvDir, 'notes.txt'), path.join(process.env.TABLLM_CACHE_DIR, 'mine.gguf')];
  fs.mkdirSync(process.env.TABLLM_CACHE_DIR, { recursive: true });
  for (const file of others) fs.writeFileSync(file, 'not tabllm\'s');
  fs.writeFileSync(path.join(process.env.TABLLM_CACHE_DIR, `${'a'.repeat(32)}.gguf`), 'a stored model');
  await reopened.forget();
  assert.deepEqual(fs.readdirSync(kvDir), ['notes.txt']);
  assert.deepEqual(fs.readdirSync(process.env.TABLLM_CACHE_DIR), ['mine.gguf']);
  for (const file of others) fs.rmSync(file);
  const afterPaged = await pagedEngine.completions.create(pagedRequest);
  assert.equal(afterPaged.choices[0].text, plainPagedAnswer.choices[0].text);
  await pagedEngine.forget();
  await pagedEngine.unload();
  // The engine goes on (its session still holds the conversation in memory); its prefix cache starts
  // afresh, under a new key.
  const after = await reopened.completions.create(cachedRequest);
  assert.equal(after.choices[0].text, plainAnswer.choices[0].text);
  await reopened.flushPrefixCache();
  assert.deepEqual(reopened.prefixCacheStats().restores, 0);
  assert.ok(Object.keys(prefixPages()).length >= 1);
  assert.notDeepEqual(fs.readFileSync(path.join(kvDir, 'device.key')), oldKey);
  await reopened.forget();
  await reopened.unload();
  assert.deepEqual(fs.readdirSync(kvDir), []);
});

test('a passphrase opens its own pages only; a wrong one is a warning and a prefill', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const first = await open({ prefixCache: true, encryption: { passphrase: 'correct horse' } });
  const expected = await first.completions.create(cachedRequest);
  await first.unload();
  const right = await open({ prefixCache: true, encryption: { passphrase: 'correct horse' } });
  assert.ok((await right.completions.create(cachedRequest)).usage.timings.prompt_tokens_reused > 0);
  await right.unload();
  const seen = [];
  const warn = console.warn;
  console.warn = (m) => seen.push(String(m));
  try {
    const wrong = await open({ prefixCache: true, encryption: { passphrase: 'wrong horse' } });
    const r = await wrong.completions.create(cachedRequest);
    assert.equal(r.choices[0].text, expected.choices[0].text);
    assert.equal(r.usage.timings.prompt_tokens_reused, 0);
    await wrong.forget();
    await wrong.unload();
  } finally {
    console.warn = warn;
  }
  assert.ok(seen.some((m) => /files that no index it can read names .*another key or passphrase/.test(m)), seen.join(' | '));
  await assert.rejects(open({ encryption: { passphrase: '' } }), /encryption must be true/);
  await assert.rejects(open({ encryption: 'yes' }), /encryption must be true/);
});

test('forget() through a worker engine (worker_threads) wipes what its engine stored', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const engine = await createWorkerEngine({ model: storiesPath(), backend: 'wasm', wasmVariant: 'single', contextSize: 512, prefixCache: true });
  try {
    await engine.completions.create(cachedRequest);
    await engine.unload();  // its pages are written
    assert.ok(filesUnder(kvDir).some((f) => f.endsWith('.kv')) && fs.existsSync(path.join(kvDir, 'device.key')));
    await engine.reload();
    await engine.forget();
    assert.deepEqual(fs.readdirSync(kvDir), []);
  } finally {
    await engine.terminate();
  }
});

test('pages stored unencrypted before are removed when an encrypting engine opens the store', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const plain = await open({ prefixCache: true, encryption: false });
  await plain.completions.create(cachedRequest);
  await plain.unload();
  const plainPages = prefixPages();
  assert.ok(Object.keys(plainPages).length >= 2);
  const seen = [];
  const warn = console.warn;
  console.warn = (m) => seen.push(String(m));
  let engine;
  try {
    engine = await open({ prefixCache: true });
  } finally {
    console.warn = warn;
  }
  assert.ok(seen.some((m) => /files that no index it can read names \(stored unencrypted/.test(m)), seen.join(' | '));
  assert.deepEqual(prefixPages(), {});
  await engine.completions.create(cachedRequest);
  await engine.flushPrefixCache();
  for (const [name, bytes] of Object.entries(prefixPages())) for (const plainPage of Object.values(plainPages)) assert.ok(!sharesPieces(plainPage, bytes), name);
  await engine.forget();
  await engine.unload();
});

test('an at-rest key that cannot be read: a warning, and the engine runs without its prefix cache', async (t) => {
  if (skip) return skipOrFail(t, skip);
  fs.mkdirSync(path.join(kvDir, 'device.key'));  // a folder where the key file belongs: reading it fails
  const seen = [];
  const warn = console.warn;
  console.warn = (m) => seen.push(String(m));
  try {
    const engine = await open({ prefixCache: true });
    assert.match(engine.runtime.prefixCache, /^off: the at-rest key is unavailable .*device\.key cannot be read/);
    assert.ok((await engine.completions.create(cachedRequest)).choices[0].text.length > 0);
    assert.equal(engine.prefixCacheStats(), null);
    await engine.unload();
  } finally {
    console.warn = warn;
    fs.rmSync(path.join(kvDir, 'device.key'), { recursive: true });
  }
  assert.ok(seen.some((m) => m.includes('the prefix cache is off')), seen.join(' | '));
  assert.deepEqual(filesUnder(kvDir), []);
});
