// A page store (get, put, delete: prefix_cache.mjs's interface) whose records are sealed (record.mjs)
// on the way in and opened on the way out. A record that fails authentication is a RecordError from get:
// the caller discards it with a warning, as it does a missing one.
export class SealedStore {
  /**
   * @param {{kind: string, get, put, delete}} store where the sealed records go
   * @param {{seal, open}} sealer record.mjs's webCryptoSealer or nodeSealer
   * @param {string} name the store's identity, authenticated with every record
   */
  constructor(store, sealer, name) {
    this.store = store;
    this.sealer = sealer;
    this.name = name;
    this.kind = `${store.kind}, encrypted`;
  }

  async get(name) {
    const record = await this.store.get(name);
    return record && this.sealer.open(this.name, name, record);
  }

  async put(name, bytes) {
    await this.store.put(name, await this.sealer.seal(this.name, name, bytes));
  }

  delete(name) {
    return this.store.delete(name);
  }

  clear() {
    return this.store.clear();
  }
}
