// A prefix cache that outlives the page: KV pages (the core's checksummed copies of cached positions, see
// docs/long-context.md) kept in a store — OPFS in a browser, files in Node — so a reopened tab continues a
// long conversation from its stored keys and values instead of prefilling it again.
//
// A page holds positions [start, end) with start a multiple of PAGE; its key hashes every token from
// position 0 to `end`, so conversations that begin alike share pages, and the pages of one conversation
// form a chain (each entry knows the key of what comes before it and its own tokens). A prompt gets the
// chain's pages it begins with, and of the first page it parts from, the positions before it parts (a
// chat's earlier reply, tokenized again, may differ from the tokens that were sampled). Full pages are
// written once; the last, partial one is rewritten as the conversation grows (the previous partial page of
// the same chain is dropped). Entries are evicted least recently used first
// once the store holds more than maxBytes. The store is keyed by the model, the cache type, the backend
// and the tabllm version: pages of anything else are never read. With an at-rest key (the encryption
// option, at_rest/keys.mjs) the index and every page are sealed records (at_rest/record.mjs): one that
// fails authentication is discarded with a warning, as a missing one is.
import { importNodeOnly, isNode } from './node_only.mjs';
import { base64ToBytes, bytesToBase64 } from './base64.mjs';
import { nodeDirs } from './at_rest/node_dirs.mjs';
import { webCryptoSealer } from './at_rest/record.mjs';
import { SealedStore } from './at_rest/sealed_store.mjs';

export const PAGE = 256;
const INDEX = 'index.json';
const FORMAT = 2;
const WORTH_RESTORING = 32;  // positions: fewer are prefilled faster than read
const READ_AHEAD = 4;  // pages being read while one is imported

// FNV-1a (64-bit) over the token ids from position 0: keys[i] covers tokens [0, i), for the positions i
// that `at` names (a key's text costs more than the hash). The hash runs in two 32-bit halves, no BigInt
// per token: h * 0x100000001b3 mod 2^64 is h * 0x1b3 + (h << 40), and lo * 0x1b3 < 2^41 is exact in a double.
function prefixKeys(tokens, upTo = tokens.length, at = () => true) {
  const keys = new Array(upTo + 1);
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  keys[0] = '0';
  for (let i = 0; i < upTo; i++) {
    lo = (lo ^ tokens[i]) >>> 0;
    const low = lo * 0x1b3;
    hi = (hi * 0x1b3 + Math.floor(low / 0x100000000) + ((lo << 8) >>> 0)) >>> 0;
    lo = low >>> 0;
    if (at(i + 1)) keys[i + 1] = hi ? hi.toString(16) + lo.toString(16).padStart(8, '0') : lo.toString(16);
  }
  return keys;
}

// Token ids in the index, compactly: base64 of their little-endian int32s.
function packTokens(ids) {
  return bytesToBase64(new Uint8Array(Int32Array.from(ids).buffer));
}

function unpackTokens(text) {
  return new Int32Array(base64ToBytes(text).buffer);
}

export class PrefixCache {
  #unpacked = new Map();  // key → the tokens of its entry (Int32Array)

  /**
   * @param {{get(name): Promise<Uint8Array|null>, put(name, bytes): Promise<void>, delete(name): Promise<void>, clear(): Promise<void>}} store
   * @param {{identity: string, maxBytes?: number, onWarning?: (message: string) => void}} options
   */
  constructor(store, { identity, maxBytes = 512 << 20, onWarning = (m) => console.warn(`tabllm: ${m}`) }) {
    this.store = store;
    this.identity = identity;
    this.maxBytes = maxBytes;
    this.warn = onWarning;
    this.entries = new Map();  // key → {start, end, prev (the key of [0, start)), tokens (packTokens), bytes, used}
    // restore_ms is the restores' whole time; open_ms, lookup_ms, read_ms and import_ms say where it goes
    // (reading the index, finding the chain, reading pages from the store, the core's checks and copies).
    this.stats = { lookups: 0, pages_written: 0, pages_read: 0, bytes_written: 0, bytes_read: 0, restores: 0, restored_tokens: 0, restore_ms: 0,
      open_ms: 0, lookup_ms: 0, read_ms: 0, import_ms: 0, refused: 0 };
    this.writing = Promise.resolve();
  }

  async open() {
    const started = performance.now();
    const index = await this.#readIndex();
    if (index?.format === FORMAT && index.identity === this.identity) {
      for (const [key, e] of Object.entries(index.entries ?? {})) this.entries.set(key, e);
    } else if (index) {
      // Pages of another model, cache type or version: never read, so dropped.
      await Promise.all(Object.keys(index.entries ?? {}).map((key) => this.store.delete(`${key}.kv`).catch(() => {})));
    } else {
      // No index this cache can read (none, a damaged one; encrypted, one stored unencrypted before or under
      // another key, whose file this cache does not even find by name): the folder's pages can never be
      // found again, so none is left behind (unencrypted ones least of all).
      try {
        const removed = await this.store.clear();
        if (removed && index === null) this.warn(`the prefix cache's folder held ${removed} files that no index it can read names (stored unencrypted, or under another key or passphrase): removed`);
      } catch (error) {
        this.warn(`the prefix cache's unreadable pages could not be removed (${error.message})`);
      }
    }
    this.stats.open_ms = performance.now() - started;
    return this;
  }

  /**
   * Restores into `session` the stored pages of `request`'s prompt beyond what the session already holds.
   * @returns {Promise<number>} the positions restored (0: none)
   */
  async restore(session, request) {
    this.stats.lookups++;
    const started = performance.now();
    const tokens = request.tokens();
    const cached = session.info().cached_tokens;
    let held = 0;
    while (held < cached.length && held < tokens.length && cached[held] === tokens[held]) held++;
    // The last prompt token is always processed again (its logits start the reply).
    const limit = tokens.length - 1;
    if (limit - held < WORTH_RESTORING) return 0;
    const wanted = this.#chain(tokens, limit).filter((p) => p.end > held);
    if (!wanted.length || wanted.at(-1).end - held < WORTH_RESTORING) return 0;
    const looked = performance.now();
    this.stats.lookup_ms += looked - started;
    // The store reads the next pages while the core imports one (a few ahead: a long chain's pages are
    // not all held in memory at once).
    const readPage = (i) => this.store.get(`${wanted[i].key}.kv`).catch((error) => error);
    const reads = wanted.slice(0, READ_AHEAD).map((_, i) => readPage(i));
    let now = held;
    for (const [i, { key }] of wanted.entries()) {
      if (i + READ_AHEAD < wanted.length) reads.push(readPage(i + READ_AHEAD));
      const waited = performance.now();
      const bytes = await reads[i];
      const read = performance.now();
      this.stats.read_ms += read - waited;
      if (!bytes || bytes instanceof Error) {
        this.warn(`a stored KV page ${bytes ? `was discarded (${bytes.message})` : `is missing (${key})`}: the rest of the prompt is prefilled`);
        await this.#forget(key);
        break;
      }
      try {
        now = session.importPage(request, bytes);
      } catch (error) {
        this.stats.refused++;
        this.warn(`a stored KV page was refused and removed (${error.message}): the rest of the prompt is prefilled`);
        await this.#forget(key);
        break;
      } finally {
        this.stats.import_ms += performance.now() - read;
      }
      this.entries.get(key).used = Date.now();
      this.stats.pages_read++;
      this.stats.bytes_read += bytes.length;
    }
    const restored = Math.max(0, now - held);
    if (restored) {
      this.stats.restores++;
      this.stats.restored_tokens += restored;
    }
    this.stats.restore_ms += performance.now() - started;
    return restored;
  }

  // The stored pages `tokens` begins with, up to position `limit`: at each page start, the page stored after
  // this same prefix that shares most of the prompt; a page the prompt parts from ends the chain.
  #chain(tokens, limit) {
    const keys = prefixKeys(tokens, limit, (i) => i % PAGE === 0);
    const after = new Map();  // the key of a prefix → the keys of the pages stored after it
    for (const [key, e] of this.entries) {
      if (e.start >= limit) continue;
      if (after.has(e.prev)) after.get(e.prev).push(key);
      else after.set(e.prev, [key]);
    }
    const plan = [];
    for (let start = 0; start < limit; start += PAGE) {
      let best = null;
      for (const key of after.get(keys[start]) ?? []) {
        const e = this.entries.get(key);
        if (e.start !== start) continue;
        const ids = this.#tokensOf(key, e);
        let shared = 0;
        while (shared < ids.length && start + shared < limit && ids[shared] === tokens[start + shared]) shared++;
        if (shared > 0 && (!best || shared > best.shared)) best = { key, shared, whole: shared === ids.length && ids.length === PAGE };
      }
      if (!best) break;
      plan.push({ key: best.key, end: start + best.shared });
      if (!best.whole) break;
    }
    return plan;
  }

  // An entry's tokens, unpacked once.
  #tokensOf(key, entry) {
    let ids = this.#unpacked.get(key);
    if (!ids) this.#unpacked.set(key, ids = unpackTokens(entry.tokens));
    return ids;
  }

  // The keys of `cached`'s prefixes (at page starts, its end and the ends of stored partial pages) and the
  // pages [start, end) of it the store lacks.
  #unsaved(cached) {
    const partialEnds = new Set([...this.entries.values()].filter((e) => e.end % PAGE !== 0).map((e) => e.end));
    const keys = prefixKeys(cached, cached.length, (i) => i % PAGE === 0 || i === cached.length || partialEnds.has(i));
    const missing = [];
    for (let start = 0; start < cached.length; start += PAGE) {
      const end = Math.min(start + PAGE, cached.length);
      if (!this.entries.has(keys[end])) missing.push({ start, end });
    }
    return { keys, missing };
  }

  /** The first position of the session's cache that save would copy out (its length when none): a host
   * that reads its cache back (WebGPU) reads from there. */
  firstUnsaved(session) {
    const cached = session.info().cached_tokens;
    return this.#unsaved(cached).missing[0]?.start ?? cached.length;
  }

  /** Copies the session's new pages out now and writes them in the background (see flush). */
  save(session) {
    const cached = session.info().cached_tokens;
    if (cached.length < 1) return this.writing;
    const { keys, missing } = this.#unsaved(cached);
    const pages = missing.map(({ start, end }) =>
      ({ key: keys[end], start, end, prev: keys[start], tokens: packTokens(cached.slice(start, end)), bytes: session.exportPage(start, end) }));
    // Partial pages of this chain that the new pages cover are superseded.
    const superseded = [...this.entries].filter(([key, e]) => e.end % PAGE !== 0 && e.end <= cached.length && keys[e.end] === key &&
      pages.some((p) => p.start === e.start && p.end > e.end)).map(([key]) => key);
    this.writing = this.writing.then(() => this.#write(pages, superseded)).catch((error) => {
      this.warn(`KV pages could not be stored (${error?.message ?? error}); conversations will be prefilled after a reload`);
    });
    return this.writing;
  }

  /** Resolves once every page handed to save is written. */
  flush() {
    return this.writing;
  }

  async clear() {
    await this.flush();
    await Promise.all([...this.entries.keys()].map((key) => this.store.delete(`${key}.kv`).catch(() => {})));
    this.entries.clear();
    this.#unpacked.clear();
    await this.#writeIndex();
  }

  async #write(pages, superseded) {
    for (const p of pages) {
      await this.store.put(`${p.key}.kv`, p.bytes);
      this.entries.set(p.key, { start: p.start, end: p.end, prev: p.prev, tokens: p.tokens, bytes: p.bytes.length, used: Date.now() });
      this.stats.pages_written++;
      this.stats.bytes_written += p.bytes.length;
    }
    for (const key of superseded) await this.#forget(key, false);
    await this.#evict();
    await this.#writeIndex();
  }

  async #evict() {
    let total = [...this.entries.values()].reduce((s, e) => s + e.bytes, 0);
    const oldest = [...this.entries].sort((a, b) => a[1].used - b[1].used);
    for (const [key, e] of oldest) {
      if (total <= this.maxBytes) break;
      await this.#forget(key, false);
      total -= e.bytes;
    }
  }

  async #forget(key, writeIndex = true) {
    this.entries.delete(key);
    this.#unpacked.delete(key);
    await this.store.delete(`${key}.kv`).catch(() => {});
    if (writeIndex) await this.#writeIndex();
  }

  // The index; null when there is none, false when it cannot be read.
  async #readIndex() {
    try {
      const bytes = await this.store.get(INDEX);
      return bytes ? JSON.parse(new TextDecoder().decode(bytes)) : null;
    } catch (error) {
      this.warn(`the prefix cache's index was discarded with its pages (${error.message}): their prompts are prefilled again`);
      return false;
    }
  }

  async #writeIndex() {
    const index = { format: FORMAT, identity: this.identity, entries: Object.fromEntries(this.entries) };
    await this.store.put(INDEX, new TextEncoder().encode(JSON.stringify(index)));
  }
}

/** Pages in memory only (tests; no storage). */
export class MemoryPageStore {
  kind = 'memory';
  files = new Map();
  async get(name) { return this.files.get(name) ?? null; }
  async put(name, bytes) { this.files.set(name, bytes.slice()); }
  async delete(name) { this.files.delete(name); }
  async clear() {
    const removed = this.files.size;
    this.files.clear();
    return removed;
  }
}

/** Pages as files in a folder (Node). */
export class NodePageStore {
  kind = 'files';

  constructor(dir) {
    this.dir = dir;
  }

  async #fs() {
    this.fsp ??= await importNodeOnly('node:fs/promises');
    this.path ??= await importNodeOnly('node:path');
    await this.fsp.mkdir(this.dir, { recursive: true });
    return this.fsp;
  }

  async get(name) {
    const fs = await this.#fs();
    try {
      return new Uint8Array(await fs.readFile(this.path.join(this.dir, name)));
    } catch (error) {
      if (error.code === 'ENOENT') return null;
      throw error;
    }
  }

  async put(name, bytes) {
    const fs = await this.#fs();
    // Written beside, then renamed: a crash never leaves half a page under the page's name.
    const file = this.path.join(this.dir, name);
    await fs.writeFile(`${file}.part`, bytes);
    await fs.rename(`${file}.part`, file);
  }

  async delete(name) {
    const fs = await this.#fs();
    await fs.rm(this.path.join(this.dir, name), { force: true });
  }

  /** Removes the folder (made again by the next put); resolves with the number of files it held. */
  async clear() {
    const fs = await this.#fs();
    const removed = (await fs.readdir(this.dir)).length;
    await fs.rm(this.dir, { recursive: true, force: true });
    return removed;
  }
}

/** Pages in the Origin Private File System (browsers), folder tabllm-kv/NAME. */
export class OpfsPageStore {
  kind = 'opfs';
  #folder = null;  // the folder's handle, looked up once (three lookups a page otherwise)

  constructor(name) {
    this.name = name;
  }

  #dir() {
    this.#folder ??= (async () => {
      const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabllm-kv', { create: true });
      return root.getDirectoryHandle(this.name, { create: true });
    })();
    return this.#folder;
  }

  // Runs fn on the folder; a folder removed meanwhile (another tab cleared the site's data) is made again
  // for the next call.
  async #inDir(fn) {
    try {
      return await fn(await this.#dir());
    } catch (error) {
      if (error?.name === 'NotFoundError') this.#folder = null;
      throw error;
    }
  }

  async get(name) {
    try {
      return await this.#inDir(async (dir) => new Uint8Array(await (await (await dir.getFileHandle(name)).getFile()).arrayBuffer()));
    } catch (error) {
      if (error?.name === 'NotFoundError') return null;
      throw error;
    }
  }

  async put(name, bytes) {
    await this.#inDir(async (dir) => {
      const existing = await dir.getFileHandle(name).catch(() => null);
      try {
        const writable = await (existing ?? await dir.getFileHandle(name, { create: true })).createWritable();
        await writable.write(bytes);
        await writable.close();  // a refused write (over the quota, say) leaves the file as it was
      } catch (error) {
        // A new file's handle made it empty: no empty file under the name of a page.
        if (!existing) await dir.removeEntry(name).catch(() => {});
        throw error;
      }
    });
  }

  async delete(name) {
    try {
      await this.#inDir((dir) => dir.removeEntry(name));
    } catch (error) {
      if (error?.name !== 'NotFoundError') throw error;
    }
  }

  /** Removes the folder (made again by the next put); resolves with the number of files it held. */
  async clear() {
    this.#folder = null;
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabllm-kv', { create: true });
    const dir = await root.getDirectoryHandle(this.name).catch(() => null);
    if (!dir) return 0;
    const names = [];
    for await (const name of dir.keys()) names.push(name);
    await root.removeEntry(this.name, { recursive: true });
    return names.length;
  }
}

/**
 * Pages in IndexedDB (browsers without OPFS, and a page's main thread, where OPFS has no synchronous
 * handles): database tabllm-kv, one record per page keyed NAME/page. The connection closes when another
 * context deletes or upgrades the database (forget() in this or another tab), and opens again on the next call.
 */
export class IdbPageStore {
  kind = 'indexeddb';
  static DATABASE = 'tabllm-kv';
  #db = null;

  constructor(name) {
    this.name = name;
  }

  #open() {
    this.#db ??= new Promise((resolve, reject) => {
      const opening = indexedDB.open(IdbPageStore.DATABASE, 1);
      opening.onupgradeneeded = () => opening.result.createObjectStore('pages');
      opening.onsuccess = () => {
        const db = opening.result;
        db.onversionchange = () => { db.close(); this.#db = null; };
        resolve(db);
      };
      opening.onerror = () => { this.#db = null; reject(opening.error); };
    });
    return this.#db;
  }

  async #run(mode, fn) {
    const db = await this.#open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction('pages', mode);
      const request = fn(tx.objectStore('pages'));
      // A write counts once it is durable (the transaction committed), not when the request succeeds.
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error ?? request.error);
      tx.onabort = () => reject(tx.error ?? new Error('the IndexedDB transaction was aborted'));
    });
  }

  #key(page) {
    return `${this.name}/${page}`;
  }

  async get(page) {
    const value = await this.#run('readonly', (pages) => pages.get(this.#key(page)));
    return value === undefined ? null : new Uint8Array(value);
  }

  async put(page, bytes) {
    await this.#run('readwrite', (pages) => pages.put(bytes.slice().buffer, this.#key(page)));
  }

  async delete(page) {
    await this.#run('readwrite', (pages) => pages.delete(this.#key(page)));
  }

  /** Removes this store's pages; resolves with how many there were. */
  async clear() {
    const range = IDBKeyRange.bound(`${this.name}/`, `${this.name}/\uffff`);
    const count = await this.#run('readonly', (pages) => pages.count(range));
    await this.#run('readwrite', (pages) => pages.delete(range));
    return count;
  }
}

/**
 * The prefix cache for an engine: pages in OPFS (browsers; IndexedDB where OPFS is missing) or in a folder
 * (Node: cacheDir's sibling `kv`, or TABLLM_KV_DIR), one store per identity; sealed with `keys`
 * (at_rest/keys.mjs) unless it is null.
 */
export async function openPrefixCache({ identity, cacheDir, maxBytes, onWarning, keys = null }) {
  const name = await digest(identity);
  let store;
  if (isNode) {
    const path = await importNodeOnly('node:path');
    store = new NodePageStore(path.join((await nodeDirs(cacheDir)).kv, name));
  } else if (globalThis.navigator?.storage?.getDirectory) {
    store = new OpfsPageStore(name);
  } else if (globalThis.indexedDB) {
    store = new IdbPageStore(name);
  } else {
    store = new MemoryPageStore();
  }
  if (keys) store = new SealedStore(store, webCryptoSealer(keys.key), `prefix-cache/${name}`, keys.names);
  return new PrefixCache(store, { identity, maxBytes, onWarning }).open();
}

async function digest(text) {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return [...bytes.slice(0, 12)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
