// Where the KV rows beyond a kvBudget go (docs/long-context.md, "Paged KV"). The core hands a page over
// synchronously when a full window shifts (wasm/host_kv_store.h); this store keeps its bytes in memory only
// until the background write to a page store of prefix_cache.mjs (files in Node) is done, and reads a page
// back synchronously when a recall asks for it. The pages checksum themselves: the core checks them on the
// way back. A full store, a failed write or a lost page is a warning and the shift a plain one: never a
// wrong answer.
import { NodePageStore, MemoryPageStore } from './prefix_cache.mjs';
import { importNodeOnly, isNode } from './node_only.mjs';

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
}

/**
 * The spill of one engine: in Node files under `dir` (written in the background, read back with
 * readFileSync); elsewhere, for now, in JavaScript's memory, outside the WebAssembly heap (a browser store on
 * disk needs OPFS's synchronous handles).
 */
export async function openKvPageSpill({ dir, maxBytes, onWarning } = {}) {
  if (!isNode) {
    const store = new MemoryPageStore();
    return { spill: new KvPageSpill(store, { maxBytes, onWarning, readSync: (name) => store.files.get(name) }), close: async () => {} };
  }
  const fs = await importNodeOnly('node:fs');
  const path = await importNodeOnly('node:path');
  const os = await importNodeOnly('node:os');
  const folder = dir ?? fs.mkdtempSync(path.join(process.env.TABLLM_KV_DIR ?? os.tmpdir(), 'tabllm-kv-pages-'));
  const store = new NodePageStore(folder);
  const spill = new KvPageSpill(store, { maxBytes, onWarning, readSync: (name) => new Uint8Array(fs.readFileSync(path.join(folder, name))) });
  // The pages are a live cache's: nothing reads them once the engine is gone.
  const close = async () => {
    await spill.flush();
    if (!dir) await fs.promises.rm(folder, { recursive: true, force: true });
  };
  return { spill, close };
}
