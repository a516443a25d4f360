// Keeps a download in memory only (cache: false, or no storage available). A Part is what a download
// writes to; it can be continued within this visit after a dropped connection, never across visits.
import { blobSource } from './sources.mjs';

export class MemoryPart {
  constructor(url, onFinish = null) {
    this.url = url;
    this.meta = { url };
    this.chunks = [];
    this.loaded = 0;
    this.onFinish = onFinish;
  }

  async read(offset, length) {
    return new Uint8Array(await new Blob(this.chunks).slice(offset, offset + length).arrayBuffer());
  }

  async write(bytes) {
    this.chunks.push(bytes);
    this.loaded += bytes.length;
  }

  async reset() {
    this.chunks = [];
    this.loaded = 0;
  }

  async setMeta(meta) {
    this.meta = { ...this.meta, ...meta };
  }

  async suspend() {}

  async finish(meta, name) {
    const blob = new Blob(this.chunks, { type: 'application/octet-stream' });
    this.chunks = [];
    if (this.onFinish) return this.onFinish(blob, { ...this.meta, ...meta }, name);
    return blobSource(blob, { name, storage: 'memory', url: this.url, sha256: meta.sha256 });
  }

  async discard() {
    this.chunks = [];
  }
}

export class MemoryStore {
  kind = 'memory';
  async complete() { return null; }
  async open(url) { return new MemoryPart(url); }
  async list() { return []; }
  async delete() { return false; }
  async estimate() { return null; }
}
