// Where the KV rows beyond a kvBudget go (docs/long-context.md, "Paged KV"). The core hands a page over
// synchronously when a full window shifts (wasm/host_kv_store.h); this store keeps its bytes in memory only
// until the background write to a page store of prefix_cache.mjs (files in Node) is done, and reads a page
// back synchronously when a recall asks for it. The pages checksum themselves: the core checks them on the
// way back. A full store, a failed write or a lost page is a warning and the shift a plain one: never a
// wrong answer. Encrypted (the engine's default), the pages are sealed records (at_rest/record.mjs) under a
// key made for this spill and never stored: they are a live cache's, unreadable once the engine is gone.
import { IdbPageStore, NodePageStore, MemoryPageStore } from './prefix_cache.mjs';
import { importNodeOnly, isNode } from './node_only.mjs';
import { nodeSealer, webCryptoSealer } from './at_rest/record.mjs';
import { SealedStore } from './at_rest/sealed_store.mjs';
import { nodeDirs } from './at_rest/node_dirs.mjs';

const SEALED_AS = 'kv-pages';

export class KvPageSpill {
  /**
   * @param {{get, put, delete}} store an asynchronous page store (prefix_cache.mjs)
   * @param {{maxBytes?: number, readSync?: (name: string) => Uint8Array, onWarning?: (message: string) => void}} options
   *   readSync: reads a written page at once (Node: the file); without it only pages still being written come back.
   */
  constructor(store, { maxBytes = 4 * 2 ** 30, readSync = null, onWarning = (m) => console.warn(`tabllm: ${m}`) } = {}) {
    this.store = store;
    this.maxBytes = maxBytes;
    this.readSync = readSync;
    this.onWarning = onWarning;
    this.pending = new Map();  // name → bytes not yet written
    this.sizes = new Map();    // name → bytes, of every page held
    this.lost = new Map();     // name → why its write failed
    this.writes = new Set();
    this.stats = { pagesWritten: 0, bytesWritten: 0, pagesRead: 0, bytesRead: 0, writeFailures: 0, bytesHeld: 0 };
  }

  put(name, bytes) {
    if (this.stats.bytesHeld + bytes.length > this.maxBytes) {
      throw new Error(`the KV page store is full (${this.stats.bytesHeld} of ${this.maxBytes} bytes)`);
    }
    this.pending.set(name, bytes);
    this.sizes.set(name, bytes.length);
    this.stats.bytesHeld += bytes.length;
    const write = this.store.put(name, bytes).then(() => {
      this.stats.pagesWritten++;
      this.stats.bytesWritten += bytes.length;
    }, (error) => {
      this.stats.writeFailures++;
      this.lost.set(name, error.message);
      this.onWarning(`a KV page could not be written (${error.message}): the rows it held are dropped, as a plain context shift drops them`);
    }).finally(() => {
      if (this.pending.get(name) === bytes) this.pending.delete(name);
      this.writes.delete(write);
    });
    this.writes.add(write);
  }

  get(name) {
    const held = this.pending.get(name);
    const bytes = held ?? this.#read(name);
    this.stats.pagesRead++;
    this.stats.bytesRead += bytes.length;
    return bytes;
  }

  #read(name) {
    if (this.lost.has(name)) throw new Error(`KV page ${name} was never written: ${this.lost.get(name)}`);
    if (!this.sizes.has(name)) throw new Error(`no KV page ${name} in the store`);
    if (!this.readSync) throw new Error(`KV page ${name} is written, and this store cannot read pages back while the engine runs`);
    return this.readSync(name);
  }

  remove(name) {
    this.stats.bytesHeld -= this.sizes.get(name) ?? 0;
    this.sizes.delete(name);
    this.pending.delete(name);
    this.lost.delete(name);
    // After its write, if one is under way: a page is never deleted before it is written.
    Promise.allSettled([...this.writes]).then(() => this.store.delete(name)).catch(() => {});
  }

  /** Waits for the writes under way. */
  async flush() {
    while (this.writes.size) await Promise.allSettled([...this.writes]);
  }

  /** Drops every page held and removes the store's files (engine.forget()); a recall of one fails as a
   * lost page does, and pages paged out later are stored afresh. */
  async forget() {
    await this.flush();
    for (const name of this.sizes.keys()) this.lost.set(name, 'forget() wiped it');
    this.sizes.clear();
    this.pending.clear();
    this.stats.bytesHeld = 0;
    await this.store.clear();
  }
}

/** A runner's paging counts (engine.kvPagerStats()): the core's of each request (its result's kv_pages, whose
 * warnings are printed) summed, with the spill's own writes and reads, and the time a host spent reading
 * the dropped rows back (WebGPU: from the GPU, before the core's page-out). */
export class KvPagerCounts {
  constructor(spill, window) {
    this.spill = spill;
    this.window = window;
    this.sums = { pages_out: 0, pages_in: 0, bytes_out: 0, bytes_in: 0, page_out_ms: 0, rehydrate_ms: 0, failures: 0 };
    this.readBackMs = 0;
  }

  add(result) {
    if (result.kv_pages) for (const key of Object.keys(this.sums)) this.sums[key] += result.kv_pages[key];
    for (const warning of result.warnings ?? []) console.warn(`tabllm: ${warning}`);
  }

  stats() {
    const { pages_out, pages_in, bytes_out, bytes_in, page_out_ms, rehydrate_ms, failures } = this.sums;
    return { window: this.window, pagesOut: pages_out, pagesIn: pages_in, bytesOut: bytes_out, bytesIn: bytes_in,
      pageOutMs: page_out_ms, rehydrateMs: rehydrate_ms, readBackMs: this.readBackMs, failures, store: { ...this.spill.stats } };
  }
}

/**
 * Pages in one OPFS file through a synchronous access handle (workers only), so that a recall reads a page
 * back at once: slots of the file are reused as pages come and go. put and delete look asynchronous, as the
 * prefix cache's stores, so that KvPageSpill writes in the background; readSync reads.
 */
export class OpfsSlabStore {
  kind = 'opfs';

  static async open(name) {
    const store = new OpfsSlabStore(name);
    await store.#open();
    return store;
  }

  constructor(name) {
    this.name = name;
    this.handle = null;      // null once cleared, until the next put
    this.slots = new Map();  // page name → {at, size (the slot's), length (the page's)}
    this.free = [];          // {at, size} of removed pages' slots
    this.end = 0;
  }

  async #open() {
    this.dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabllm-kv-pages', { create: true });
    this.handle = await (await this.dir.getFileHandle(this.name, { create: true })).createSyncAccessHandle();
    this.handle.truncate(0);
  }

  async put(name, bytes) {
    if (!this.handle) await this.#open();
    const i = this.free.findIndex((slot) => slot.size >= bytes.length);
    const slot = i >= 0 ? this.free.splice(i, 1)[0] : { at: this.end, size: bytes.length };
    if (i < 0) this.end += bytes.length;
    const written = this.handle.write(bytes, { at: slot.at });
    if (written !== bytes.length) {
      this.free.push(slot);
      throw new Error(`OPFS took ${written} of a page's ${bytes.length} bytes (storage full?)`);
    }
    this.slots.set(name, { ...slot, length: bytes.length });
  }

  readSync(name) {
    const slot = this.slots.get(name);
    if (!slot) throw new Error(`no KV page ${name} in the OPFS file`);
    const out = new Uint8Array(slot.length);
    const read = this.handle.read(out, { at: slot.at });
    if (read !== out.length) throw new Error(`OPFS gave ${read} of a page's ${out.length} bytes`);
    return out;
  }

  async delete(name) {
    const slot = this.slots.get(name);
    if (!slot) return;
    this.slots.delete(name);
    this.free.push({ at: slot.at, size: slot.size });
  }

  async close() {
    if (!this.handle) return;
    this.handle.close();
    this.handle = null;
    await this.dir.removeEntry(this.name);
  }

  async clear() {
    await this.close();
    this.slots.clear();
    this.free = [];
    this.end = 0;
  }
}

/**
 * The spill of one engine: in Node files under `dir` (written in the background, read back with
 * readFileSync); in a worker with OPFS's synchronous access handles, one OPFS file (OpfsSlabStore);
 * elsewhere (a page's main thread, no OPFS) in IndexedDB when pages are never read back, else in
 * JavaScript's memory, outside the WebAssembly heap.
 * encrypt: pages are sealed on their way to a file. A browser opens records asynchronously only, and a
 * recall reads a page in the middle of a step: with readBack (kvRecall) an encrypted browser spill keeps
 * its pages in memory; without it, pages are written and never read, sealed.
 */
export async function openKvPageSpill({ dir, maxBytes, onWarning, encrypt = false, readBack = true } = {}) {
  const warn = onWarning ?? ((m) => console.warn(`tabllm: ${m}`));
  if (!isNode && globalThis.FileSystemFileHandle?.prototype?.createSyncAccessHandle && typeof WorkerGlobalScope !== 'undefined' && !(encrypt && readBack)) {
    try {
      const slab = await OpfsSlabStore.open(`pages-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);
      const key = encrypt ? await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']) : null;
      const store = key ? new SealedStore(slab, webCryptoSealer(key), SEALED_AS) : slab;
      const spill = new KvPageSpill(store, { maxBytes, onWarning, readSync: key ? null : (name) => slab.readSync(name) });
      return { spill, close: async () => { await spill.flush(); await slab.close(); } };
    } catch (error) {
      warn(`OPFS cannot hold KV pages (${error.message}): they stay in memory`);
    }
  }
  if (!isNode && globalThis.indexedDB && !readBack) {
    // Pages that are never read back (no recall) leave the page's memory for IndexedDB, sealed when asked.
    const idb = new IdbPageStore(`pages-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);
    const key = encrypt ? await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']) : null;
    const spill = new KvPageSpill(key ? new SealedStore(idb, webCryptoSealer(key), SEALED_AS) : idb, { maxBytes, onWarning });
    return { spill, close: async () => { await spill.flush(); await idb.clear().catch(() => {}); } };
  }
  if (!isNode) {
    // A recall reads a page in the middle of a step, synchronously: on a page's main thread only memory can.
    const store = new MemoryPageStore();
    return { spill: new KvPageSpill(store, { maxBytes, onWarning, readSync: (name) => store.files.get(name) }), close: async () => {} };
  }
  const fs = await importNodeOnly('node:fs');
  const path = await importNodeOnly('node:path');
  const folder = dir ?? fs.mkdtempSync(path.join((await nodeDirs()).pages, 'tabllm-kv-pages-'));
  const read = (name) => new Uint8Array(fs.readFileSync(path.join(folder, name)));
  let store = new NodePageStore(folder);
  let readSync = read;
  if (encrypt) {
    const nodeCrypto = await importNodeOnly('node:crypto');
    const sealer = nodeSealer(nodeCrypto.randomBytes(32), nodeCrypto);
    store = new SealedStore(store, sealer, SEALED_AS);
    readSync = (name) => sealer.open(SEALED_AS, name, read(name));
  }
  const spill = new KvPageSpill(store, { maxBytes, onWarning, readSync });
  // The pages are a live cache's: nothing reads them once the engine is gone.
  const close = async () => {
    await spill.flush();
    if (!dir) await fs.promises.rm(folder, { recursive: true, force: true });
  };
  return { spill, close };
}
