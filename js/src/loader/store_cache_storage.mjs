// Cache Storage (the fallback where OPFS is missing): one cache entry per model URL. The Cache API cannot
// append to an entry, so a download is assembled in memory and stored whole at the end; it resumes within
// a visit, not across visits. Bodies read back from the cache are disk-backed blobs, read by slices.
import { MemoryPart } from './store_memory.mjs';
import { blobSource } from './sources.mjs';

const CACHE_NAME = 'tabllm-models';
const META_HEADER = 'X-Tabllm-Meta';

export class CacheStorageStore {
  kind = 'cache-storage';

  async cache() {
    return caches.open(CACHE_NAME);
  }

  async complete(url, name) {
    const response = await (await this.cache()).match(url);
    if (!response) return null;
    const meta = JSON.parse(response.headers.get(META_HEADER) ?? '{}');
    const blob = await response.blob();
    if (meta.size !== undefined && blob.size !== meta.size) return null;
    return blobSource(blob, { name, storage: this.kind, url, sha256: meta.sha256 });
  }

  async open(url) {
    return new MemoryPart(url, async (blob, meta, name) => {
      const stored = { ...meta, size: blob.size, storedAt: new Date().toISOString() };
      const cache = await this.cache();
      await cache.put(url, new Response(blob, {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size), [META_HEADER]: JSON.stringify(stored) },
      }));
      return (await this.complete(url, name)) ?? blobSource(blob, { name, storage: 'memory', url, sha256: meta.sha256 });
    });
  }

  async list() {
    const out = [];
    if (!await caches.has(CACHE_NAME)) return out;  // listing makes no cache (nothing left after forget())
    const cache = await this.cache();
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      const meta = JSON.parse(response?.headers.get(META_HEADER) ?? '{}');
      out.push({ url: request.url, size: meta.size ?? Number(response?.headers.get('Content-Length') ?? 0), sha256: meta.sha256 ?? null, storedAt: meta.storedAt ?? null, complete: true, storage: this.kind });
    }
    return out;
  }

  async delete(url) {
    return (await this.cache()).delete(url);
  }

  async estimate() {
    return navigator.storage?.estimate ? navigator.storage.estimate() : null;
  }
}
