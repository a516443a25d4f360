// Model sources: a stored or given file read by byte ranges, never all at once.
//   {name, size, storage, read(offset, length) → Promise<Uint8Array>, chunks(size) → async iterable, close()}

import { importNodeOnly } from '../node_only.mjs';

const DEFAULT_CHUNK = 8 << 20;

function withChunks(source) {
  source.chunks = async function* chunks(chunkSize = DEFAULT_CHUNK) {
    for (let offset = 0; offset < source.size; offset += chunkSize) {
      yield await source.read(offset, Math.min(chunkSize, source.size - offset));
    }
  };
  return source;
}

function checkRange(name, size, offset, length) {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new RangeError(`read(${offset}, ${length}) is outside ${name} (${size} bytes)`);
  }
}

/** A File or Blob (a user's file, a Cache Storage body, a download kept in memory). */
export function blobSource(blob, { name = blob.name || 'model.gguf', storage = 'blob', ...extra } = {}) {
  let closed = false;
  return withChunks({
    name,
    size: blob.size,
    storage,
    ...extra,
    async read(offset, length) {
      if (closed) throw new Error(`${name} is closed`);
      checkRange(name, blob.size, offset, length);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
    async close() {
      closed = true;
    },
  });
}

function fileKind(stat) {
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a named pipe';
  if (stat.isSocket()) return 'a socket';
  return 'a device';
}

/** A file on disk (Node). */
export async function nodeFileSource(filePath, { name, storage = 'file', ...extra } = {}) {
  const fs = await importNodeOnly('node:fs/promises');
  const path = await importNodeOnly('node:path');
  let handle;
  try {
    // Checked before opening: a directory opens and fails only when read (EISDIR), a FIFO blocks the open.
    const kind = fileKind(await fs.stat(filePath));
    if (kind !== 'file') throw Object.assign(new Error(`it is ${kind}, not a file: give the path of a GGUF file`), { code: 'ENOTFILE' });
    handle = await fs.open(filePath, 'r');
  } catch (error) {
    throw new Error(`cannot open the model file ${filePath}: ${error.code === 'ENOENT' ? 'it does not exist' : error.message}`, { cause: error });
  }
  const { size } = await handle.stat();
  const label = name ?? path.basename(filePath);
  return withChunks({
    name: label,
    size,
    storage,
    path: filePath,
    ...extra,
    async read(offset, length) {
      checkRange(label, size, offset, length);
      const bytes = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(bytes, done, length - done, offset + done);
        if (bytesRead === 0) throw new Error(`${filePath} ended at ${offset + done} bytes while reading (was it truncated?)`);
        done += bytesRead;
      }
      return bytes;
    },
    close: () => handle.close(),
  });
}
