// A page store (get, put, delete, clear: prefix_cache.mjs's interface) whose records are sealed
// (record.mjs) on the way in and opened on the way out. A record that fails authentication is a RecordError
// from get: the caller discards it with a warning, as it does a missing one. With a naming key, a record's
// file is named by a MAC of its name (keeping its extension), so names that hash a prompt reveal nothing.
export class SealedStore {
  #files = new Map();  // name → file name

  /**
   * @param {{kind: string, get, put, delete, clear}} store where the sealed records go
   * @param {{seal, open}} sealer record.mjs's webCryptoSealer or nodeSealer
   * @param {string} name the store's identity, authenticated with every record
   * @param {CryptoKey} [names] an HMAC-SHA-256 key (keys.mjs) that names the files
   */
  constructor(store, sealer, name, names = null) {
    this.store = store;
    this.sealer = sealer;
    this.name = name;
    this.names = names;
    this.kind = `${store.kind}, encrypted`;
  }

  async #file(name) {
    if (!this.names) return name;
    let file = this.#files.get(name);
    if (!file) {
      const mac = new Uint8Array(await crypto.subtle.sign('HMAC', this.names, new TextEncoder().encode(`${this.name}/${name}`)));
      const dot = name.lastIndexOf('.');
      file = [...mac.subarray(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('') + (dot > 0 ? name.slice(dot) : '');
      this.#files.set(name, file);
    }
    return file;
  }

  async get(name) {
    const record = await this.store.get(await this.#file(name));
    return record && this.sealer.open(this.name, name, record);
  }

  async put(name, bytes) {
    await this.store.put(await this.#file(name), await this.sealer.seal(this.name, name, bytes));
  }

  async delete(name) {
    await this.store.delete(await this.#file(name));
    this.#files.delete(name);
  }

  clear() {
    return this.store.clear();
  }
}
