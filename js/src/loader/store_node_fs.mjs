// Downloads kept in a folder on disk (Node): KEY.gguf holds the bytes, KEY.json what they are
// ({url, size, etag, lastModified, sha256, complete, storedAt}). A partial file survives the process, so
// the next run continues it with a Range request.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { nodeFileSource } from './sources.mjs';
import { sha256Text } from './sha256.mjs';

export function defaultCacheDir() {
  return process.env.TABLLM_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'tabllm', 'models');
}

const keyOf = (url) => sha256Text(url).slice(0, 32);

export class NodeFsStore {
  kind = 'node-fs';

  constructor(dir = defaultCacheDir()) {
    this.dir = dir;
  }

  paths(url) {
    const key = keyOf(url);
    return { data: path.join(this.dir, `${key}.gguf`), meta: path.join(this.dir, `${key}.json`) };
  }

  async readMeta(url) {
    try {
      const meta = JSON.parse(await fs.readFile(this.paths(url).meta, 'utf8'));
      return meta.url === url ? meta : null;
    } catch {
      return null;
    }
  }

  async writeMeta(url, meta) {
    await fs.writeFile(this.paths(url).meta, JSON.stringify(meta));
  }

  async complete(url, name) {
    const meta = await this.readMeta(url);
    if (!meta?.complete) return null;
    const stat = await fs.stat(this.paths(url).data).catch(() => null);
    if (!stat || stat.size !== meta.size) return null;
    return nodeFileSource(this.paths(url).data, { name, storage: this.kind, url, sha256: meta.sha256 ?? null });
  }

  async open(url) {
    await fs.mkdir(this.dir, { recursive: true });
    const { data } = this.paths(url);
    let meta = await this.readMeta(url);
    const handle = await fs.open(data, 'a+').then((h) => h.close()).then(() => fs.open(data, 'r+'));
    let loaded = meta && !meta.complete ? (await handle.stat()).size : 0;
    if (loaded === 0) {
      await handle.truncate(0);
      meta = { url, complete: false };
      await this.writeMeta(url, meta);
    }
    const store = this;
    return {
      url,
      meta,
      get loaded() { return loaded; },
      async read(offset, length) {
        const bytes = new Uint8Array(length);
        const { bytesRead } = await handle.read(bytes, 0, length, offset);
        return bytes.subarray(0, bytesRead);
      },
      async write(bytes) {
        let done = 0;
        while (done < bytes.length) {
          const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, loaded + done);
          done += bytesWritten;
        }
        loaded += bytes.length;
      },
      async reset() {
        await handle.truncate(0);
        loaded = 0;
      },
      async setMeta(extra) {
        this.meta = { ...this.meta, ...extra };
        await store.writeMeta(url, this.meta);
      },
      async suspend() {
        await handle.close();
      },
      async finish(extra, name) {
        await handle.sync();
        await handle.close();
        this.meta = { ...this.meta, ...extra, size: loaded, complete: true, storedAt: new Date().toISOString() };
        await store.writeMeta(url, this.meta);
        return nodeFileSource(data, { name, storage: store.kind, url, sha256: this.meta.sha256 ?? null });
      },
      async discard() {
        await handle.close().catch(() => {});
        await store.delete(url);
      },
    };
  }

  async list() {
    const names = await fs.readdir(this.dir).catch(() => []);
    const out = [];
    for (const file of names.filter((n) => n.endsWith('.json'))) {
      try {
        const meta = JSON.parse(await fs.readFile(path.join(this.dir, file), 'utf8'));
        const stat = await fs.stat(path.join(this.dir, file.replace(/\.json$/, '.gguf'))).catch(() => null);
        out.push({ url: meta.url, size: meta.complete ? meta.size : (meta.size ?? null), stored: stat?.size ?? 0, sha256: meta.sha256 ?? null, storedAt: meta.storedAt ?? null, complete: !!meta.complete, storage: this.kind });
      } catch { /* a half-written entry: not listed */ }
    }
    return out;
  }

  async delete(url) {
    const { data, meta } = this.paths(url);
    const existed = await fs.stat(meta).then(() => true, () => false);
    await fs.rm(data, { force: true });
    await fs.rm(meta, { force: true });
    return existed;
  }

  async estimate() {
    try {
      const s = await fs.statfs(this.dir);
      return { quota: s.bavail * s.bsize, usage: 0 };
    } catch {
      return null;
    }
  }
}
