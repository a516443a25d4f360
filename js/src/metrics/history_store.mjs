// The metrics' history kept on this device, when the engine option metrics.persist asks for it: the
// samples (figures only, recorder.mjs) as one record sealed with the at-rest key (at_rest/), in the Origin
// Private File System (tabllm-kv/metrics) or, in Node, a folder beside the prefix cache (kv/tabllm-metrics).
// Nothing here is sent anywhere; engine.forget() removes it with everything else of tabllm.
import { atRestKeys } from '../at_rest/keys.mjs';
import { nodeDirs } from '../at_rest/node_dirs.mjs';
import { webCryptoSealer } from '../at_rest/record.mjs';
import { SealedStore } from '../at_rest/sealed_store.mjs';
import { importNodeOnly, isNode } from '../node_only.mjs';
import { NodePageStore, OpfsPageStore } from '../prefix_cache.mjs';

export const METRICS_FOLDER = 'tabllm-metrics';
const RECORD = 'history.json';

export class HistoryStore {
  #store;
  #writing = null;  // the write in progress
  #next = null;     // the samples to write after it (only the latest matters)

  constructor(store) {
    this.#store = store;
  }

  /** The store for `encryption` (the engine option: a history is never kept in plain, so false keeps none). */
  static async open({ encryption = true, cacheDir } = {}) {
    if (encryption === false) throw new Error('metrics.persist needs encryption (the history is kept sealed): leave the encryption option on');
    const keys = await atRestKeys(encryption, { cacheDir });
    let store;
    if (isNode) {
      const path = await importNodeOnly('node:path');
      store = new NodePageStore(path.join((await nodeDirs(cacheDir)).kv, METRICS_FOLDER));
    } else {
      store = new OpfsPageStore('metrics');
    }
    return new HistoryStore(new SealedStore(store, webCryptoSealer(keys.key), 'metrics', keys.names));
  }

  /** The stored samples; [] when there are none, or when the record fails authentication (with a warning). */
  async load() {
    try {
      const bytes = await this.#store.get(RECORD);
      return bytes ? JSON.parse(new TextDecoder().decode(bytes)) : [];
    } catch (error) {
      console.warn(`tabllm: the stored metrics history was discarded (${error.message})`);
      return [];
    }
  }

  /** Stores `samples` in the background; writes never overlap, and a burst of saves writes the last. */
  save(samples) {
    this.#next = samples.slice();
    this.#writing ??= this.#drain();
  }

  async #drain() {
    while (this.#next) {
      const samples = this.#next;
      this.#next = null;
      await this.#store.put(RECORD, new TextEncoder().encode(JSON.stringify(samples)))
        .catch((error) => console.warn(`tabllm: the metrics history was not stored (${error.message})`));
    }
    this.#writing = null;
  }

  /** Waits for the writes in progress. */
  async flush() {
    await this.#writing;
  }

  async clear() {
    this.#next = null;
    await this.flush();
    await this.#store.clear();
  }
}
