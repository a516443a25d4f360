// The Origin Private File System: the model's bytes in tabllm-models/KEY.gguf, what they are in KEY.json.
// In a dedicated worker the download writes in place through a sync access handle (flushed as it goes, so
// a closed tab leaves a partial file to resume); on a page it goes through a writable stream, which the
// browser commits when the download ends or is interrupted.
import { ModelLoadError } from './errors.mjs';
import { blobSource } from './sources.mjs';
import { sha256Text } from './sha256.mjs';

const DIR = 'tabllm-models';
const FLUSH_EVERY = 16 << 20;
const keyOf = (url) => sha256Text(url).slice(0, 32);
const inWorker = () => typeof WorkerGlobalScope !== 'undefined' && typeof FileSystemSyncAccessHandle !== 'undefined';

export async function opfsAvailable() {
  try {
    await navigator.storage.getDirectory();
    return true;
  } catch {
    return false;
  }
}

export class OpfsStore {
  kind = 'opfs';

  async dir({ create = true } = {}) {
    return (await navigator.storage.getDirectory()).getDirectoryHandle(DIR, { create });
  }

  async readJson(dir, file) {
    try {
      return JSON.parse(await (await (await dir.getFileHandle(file)).getFile()).text());
    } catch {
      return null;
    }
  }

  async readMeta(url) {
    const meta = await this.readJson(await this.dir(), `${keyOf(url)}.json`);
    return meta?.url === url ? meta : null;
  }

  async writeMeta(url, meta) {
    const handle = await (await this.dir()).getFileHandle(`${keyOf(url)}.json`, { create: true });
    const writable = await handle.createWritable();
    await writable.write(JSON.stringify(meta));
    await writable.close();
  }

  async complete(url, name) {
    const meta = await this.readMeta(url);
    if (!meta?.complete) return null;
    try {
      const file = await (await (await this.dir()).getFileHandle(`${keyOf(url)}.gguf`)).getFile();
      if (file.size !== meta.size) return null;
      return blobSource(file, { name, storage: this.kind, url, sha256: meta.sha256 ?? null });
    } catch {
      return null;
    }
  }

  async open(url) {
    const dir = await this.dir();
    const fileHandle = await dir.getFileHandle(`${keyOf(url)}.gguf`, { create: true });
    let meta = await this.readMeta(url);
    let writer;
    try {
      writer = inWorker() ? await syncWriter(fileHandle) : await streamWriter(fileHandle);
    } catch (error) {
      if (error?.name !== 'NoModificationAllowedError') throw error;
      throw new ModelLoadError(`${url} is being downloaded by another tab or worker of this site: wait until it is done, then load it again (it will open from storage).`, { code: 'busy', cause: error });
    }
    if (!meta || meta.complete || writer.size === 0) {
      await writer.truncate();
      meta = { url, complete: false };
      await this.writeMeta(url, meta);
    }
    const store = this;
    return {
      url,
      meta,
      get loaded() { return writer.size; },
      read: (offset, length) => writer.read(offset, length),
      write: (bytes) => writer.write(bytes),
      reset: () => writer.truncate(),
      async setMeta(extra) {
        this.meta = { ...this.meta, ...extra };
        await store.writeMeta(url, this.meta);
      },
      suspend: () => writer.close(),
      async finish(extra, name) {
        await writer.close();
        this.meta = { ...this.meta, ...extra, size: writer.size, complete: true, storedAt: new Date().toISOString() };
        await store.writeMeta(url, this.meta);
        return blobSource(await fileHandle.getFile(), { name, storage: store.kind, url, sha256: this.meta.sha256 ?? null });
      },
      async discard() {
        await writer.close().catch(() => {});
        await store.delete(url);
      },
    };
  }

  async list() {
    // Listing makes nothing: after forget() the origin holds no folder of tabllm's.
    const dir = await this.dir({ create: false }).catch(() => null);
    const out = [];
    if (!dir) return out;
    for await (const [file, handle] of dir.entries()) {
      if (!file.endsWith('.json')) continue;
      const meta = await this.readJson(dir, file);
      if (!meta?.url) continue;
      let stored = 0;
      try {
        stored = (await (await dir.getFileHandle(file.replace(/\.json$/, '.gguf'))).getFile()).size;
      } catch { /* metadata without data: listed as empty */ }
      out.push({ url: meta.url, size: meta.size ?? null, stored, sha256: meta.sha256 ?? null, storedAt: meta.storedAt ?? null, complete: !!meta.complete, storage: this.kind });
      void handle;
    }
    return out;
  }

  async delete(url) {
    const dir = await this.dir();
    let existed = false;
    for (const file of [`${keyOf(url)}.gguf`, `${keyOf(url)}.json`]) {
      try {
        await dir.removeEntry(file);
        existed = true;
      } catch { /* not there */ }
    }
    return existed;
  }

  async estimate() {
    return navigator.storage?.estimate ? navigator.storage.estimate() : null;
  }
}

// Writes in place (workers only); reads see what was written.
async function syncWriter(fileHandle) {
  const access = await fileHandle.createSyncAccessHandle();
  let size = access.getSize();
  let unflushed = 0;
  let open = true;
  return {
    get size() { return size; },
    async read(offset, length) {
      const bytes = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      access.read(bytes, { at: offset });
      return bytes;
    },
    async write(bytes) {
      access.write(bytes, { at: size });
      size += bytes.length;
      unflushed += bytes.length;
      if (unflushed >= FLUSH_EVERY) {
        access.flush();
        unflushed = 0;
      }
    },
    async truncate() {
      access.truncate(0);
      size = 0;
    },
    async close() {
      if (!open) return;
      open = false;
      access.flush();
      access.close();
    },
  };
}

// Writes through a FileSystemWritableFileStream (pages): the bytes land in the file when it is closed.
async function streamWriter(fileHandle) {
  const committed = await fileHandle.getFile();
  let size = committed.size;
  let writable = await fileHandle.createWritable({ keepExistingData: true });
  await writable.seek(size);
  return {
    get size() { return size; },
    async read(offset, length) {
      return new Uint8Array(await committed.slice(offset, offset + length).arrayBuffer());
    },
    async write(bytes) {
      await writable.write(bytes);
      size += bytes.length;
    },
    async truncate() {
      await writable.truncate(0);
      size = 0;
    },
    async close() {
      if (!writable) return;
      const w = writable;
      writable = null;
      await w.close();
    },
  };
}
