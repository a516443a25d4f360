// Opens a model from a URL, a File/Blob or (in Node) a path, as a source read by byte ranges:
//
//   const model = await openModel('https://example.org/model.gguf', {onProgress, sha256});
//   const header = await model.read(0, 1 << 20);      // never the whole file in memory at once
//
// URLs are downloaded once into the origin's storage (OPFS; Cache Storage where OPFS is missing; a folder in
// Node) and read from there on later visits, offline included. An interrupted download continues with an
// HTTP range request, within the visit and on the next one.
import { importNodeOnly } from '../node_only.mjs';
import { download, hashStored, ProgressReporter } from './download.mjs';
import { ModelLoadError, abortError, integrityError, isQuotaError, quotaError } from './errors.mjs';
import { readGgufHeader } from './gguf_header.mjs';
import { resolveModelReference } from './hf.mjs';
import { probeRemote } from './probe.mjs';
import { blobSource, nodeFileSource } from './sources.mjs';
import { joinParts, splitPartName, splitPartNames, splitPartUrls } from './split.mjs';
import { MemoryStore } from './store_memory.mjs';

export { ModelLoadError } from './errors.mjs';
export { Sha256 } from './sha256.mjs';
export { isHfReference, resolveModelReference } from './hf.mjs';
export { joinParts, splitPartName, splitPartUrls } from './split.mjs';
export { fitBackend, memoryNeed, modelShape } from './memory.mjs';

const isNode = () => typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined' && typeof WorkerGlobalScope === 'undefined';
const hasScheme = (text) => /^[a-z][a-z0-9+.-]+:/i.test(text);

function nameFromUrl(url) {
  const last = url.pathname.split('/').filter(Boolean).pop();
  try {
    return last ? decodeURIComponent(last) : url.host;
  } catch {
    return last;
  }
}

const STORAGE_KINDS = ['opfs', 'cache-storage', 'node-fs', 'memory'];

/**
 * The stores to use, default first: {cache: false} → memory only; a custom `store` wins; `storage` names one
 * kind (to use the Cache Storage fallback where OPFS exists, say).
 */
async function storesFor({ cache = true, store, stores: opened, cacheDir, storage } = {}) {
  if (store) return [store];
  if (opened) return opened;
  if (cache === false) return [new MemoryStore()];
  if (storage !== undefined) {
    if (!STORAGE_KINDS.includes(storage)) throw new TypeError(`storage must be one of ${STORAGE_KINDS.join(', ')}, got ${JSON.stringify(storage)}`);
    if (storage === 'memory') return [new MemoryStore()];
    if (storage === 'node-fs') {
      if (!isNode()) throw new TypeError('storage "node-fs" is only available in Node');
      const { NodeFsStore } = await import(/* webpackIgnore: true */ './store_node_fs.mjs');
      return [new NodeFsStore(cacheDir)];
    }
    if (storage === 'opfs') {
      const { OpfsStore, opfsAvailable } = await import('./store_opfs.mjs');
      if (!(await opfsAvailable())) throw new TypeError('storage "opfs": this context has no Origin Private File System');
      return [new OpfsStore()];
    }
    if (typeof caches === 'undefined') throw new TypeError('storage "cache-storage": this context has no Cache Storage (it needs a secure context: https or localhost)');
    const { CacheStorageStore } = await import('./store_cache_storage.mjs');
    return [new CacheStorageStore()];
  }
  if (isNode()) {
    const { NodeFsStore } = await import(/* webpackIgnore: true */ './store_node_fs.mjs');
    return [new NodeFsStore(cacheDir)];
  }
  const stores = [];
  const { OpfsStore, opfsAvailable } = await import('./store_opfs.mjs');
  if (await opfsAvailable()) stores.push(new OpfsStore());
  if (typeof caches !== 'undefined') {
    const { CacheStorageStore } = await import('./store_cache_storage.mjs');
    stores.push(new CacheStorageStore());
  }
  if (stores.length === 0) stores.push(new MemoryStore());
  return stores;
}

/** The stores openModel would use with these options, opened once for several models (their `stores` option). */
export function openStores(options = {}) {
  return storesFor(options);
}

function checkSha256(sha256) {
  if (sha256 == null) return null;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(sha256)) {
    throw new TypeError(`sha256 must be 64 hexadecimal digits, got ${JSON.stringify(sha256)}`);
  }
  return sha256.toLowerCase();
}

async function verifySource(source, expected, progress, signal) {
  if (!expected) return source;
  const actual = source.sha256 ?? (await hashStored((o, n) => source.read(o, n), source.size, progress, signal)).hex();
  if (actual !== expected) {
    await source.close();
    throw integrityError(source.name, source.size, expected, actual);
  }
  source.sha256 = actual;
  return source;
}

async function checkMagic(source) {
  const head = await source.read(0, Math.min(4, source.size));
  if (head.length < 4 || String.fromCharCode(...head) !== 'GGUF') {
    await source.close();
    const text = new TextDecoder().decode(head).replace(/[^\x20-\x7e]/g, '.');
    throw new ModelLoadError(`${source.name} is not a GGUF file (it starts with "${text}", not "GGUF"). Choose a .gguf model file.`, { code: 'format' });
  }
  return source;
}

const inFlight = new Map();  // url → promise: two loads of one URL share one download

/**
 * @param {string|URL|Blob|Array<string|URL|Blob>|{repo: string, file: string, revision?: string}} source a URL,
 *   a File/Blob, a filesystem path (Node), "hf:owner/repo/file.gguf" or {repo, file}; the parts of a split
 *   model as an array, or its first part's URL or path (the others are found from the name)
 * @param {{onProgress?: (p: {phase: 'download'|'verify'|'ready', loaded: number, total: number|null,
 *   bytesPerSecond: number, name: string, url?: string, storage?: string, fromCache?: boolean,
 *   part?: number, parts?: number}) => void,
 *   sha256?: string|string[], cache?: boolean, signal?: AbortSignal, cacheDir?: string, store?: object, stores?: object[],
 *   storage?: 'opfs'|'cache-storage'|'node-fs'|'memory', revision?: string, hfEndpoint?: string,
 *   beforeLoad?: (model: {header: object, size: number}) => void|Promise<void>,
 *   fetch?: typeof fetch, maxRetries?: number, retryDelayMs?: number}} [options]
 * @returns {Promise<{name: string, size: number, storage: string, url?: string, sha256?: string|null,
 *   parts?: object[], read: (offset: number, length: number) => Promise<Uint8Array>,
 *   chunks: (chunkSize?: number) => AsyncIterable<Uint8Array>, close: () => Promise<void>}>}
 */
export async function openModel(source, options = {}) {
  source = resolveModelReference(Array.isArray(source) && source.length === 1 ? source[0] : source, options);
  if (options.signal?.aborted) throw abortError(options.signal.reason);
  const parts = await splitParts(source);
  const { beforeLoad } = options;
  // A model about to be downloaded is checked from its first bytes; any other once it is open.
  let checked = false;
  const remote = (parts ?? [source]).every(isRemote);
  if (beforeLoad && remote && !(await storedComplete(parts ?? [source], options))) {
    const urls = (parts ?? [source]).map((u) => new URL(String(u), globalThis.location?.href).href);
    const probe = await probeRemote(urls, { fetchImpl: options.fetch, signal: options.signal, name: nameFromUrl(new URL(urls[0])) });
    if (probe) {
      await beforeLoad(probe);
      checked = true;
    }
  }
  const model = parts ? await openParts(parts, options) : await openOne(source, { ...options, sha256: checkSha256(options.sha256) });
  if (beforeLoad && !checked) {
    try {
      await beforeLoad({ header: await readGgufHeader((o, n) => model.read(o, n), model.size, model.name), size: model.size });
    } catch (error) {
      await model.close?.();
      throw error;
    }
  }
  return model;
}

function isRemote(source) {
  if (typeof source !== 'string' && !(source instanceof URL)) return false;
  const text = String(source);
  return !(isNode() && (!hasScheme(text) || text.startsWith('file:')));
}

// Whether every URL is already stored whole (then nothing is downloaded, and the check reads the stored copy).
async function storedComplete(urls, options) {
  const stores = await storesFor(options);
  for (const u of urls) {
    const href = new URL(String(u), globalThis.location?.href).href;
    let found = false;
    for (const store of stores) {
      const stored = await store.complete(href, '');
      if (stored) {
        await stored.close();
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

// The parts of a split model: an array as given; the first part's URL or path → all of them; null otherwise.
async function splitParts(source) {
  if (Array.isArray(source)) {
    if (source.length === 0) throw new TypeError('openModel was given an empty list of parts');
    return source.map((s) => resolveModelReference(s));
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const part = splitPartName(source.name ?? '');
    if (part && part.count > 1) {
      throw new ModelLoadError(`${source.name} is part ${part.index + 1} of a model split in ${part.count}: choose all ${part.count} files together.`, { code: 'format' });
    }
    return null;
  }
  if (typeof source !== 'string' && !(source instanceof URL)) return null;
  const text = String(source);
  if (isNode() && (!hasScheme(text) || text.startsWith('file:'))) {
    const part = splitPartName(text);
    if (!part || part.count < 2) return null;
    if (part.index !== 0) throw new ModelLoadError(`${text} is part ${part.index + 1} of a model split in ${part.count}: give the first part's path; the others are found from its name.`, { code: 'format' });
    return splitPartNames(text);
  }
  let url;
  try {
    url = new URL(text, globalThis.location?.href);
  } catch {
    return null;  // openOne says what is wrong
  }
  const part = splitPartName(url.pathname);
  return part && part.count > 1 ? splitPartUrls(url.href) : null;
}

// Opens each part (downloads one after the other, each stored, resumed and hashed on its own), then joins
// them. Progress counts the bytes of all parts; `total` grows as each part's size becomes known.
async function openParts(parts, options) {
  let hashes = options.sha256;
  if (hashes != null && !Array.isArray(hashes)) {
    throw new TypeError(`this model comes in ${parts.length} parts: give sha256 as an array of ${parts.length} hashes, one per part (null for a part not to check)`);
  }
  if (hashes && hashes.length !== parts.length) throw new TypeError(`sha256 has ${hashes.length} hashes for ${parts.length} parts: give one per part`);
  hashes = (hashes ?? parts.map(() => null)).map(checkSha256);
  const opened = [];
  let before = 0;
  try {
    for (const [i, part] of parts.entries()) {
      const onProgress = options.onProgress && ((p) => {
        if (p.phase === 'ready') return;  // one ready event, for the joined model
        options.onProgress({ ...p, loaded: before + p.loaded, total: p.total == null ? null : before + p.total, part: i, parts: parts.length });
      });
      const source = await openOne(part, { ...options, onProgress, sha256: hashes[i] });
      opened.push(source);
      before += source.size;
    }
    const joined = await joinParts(opened);
    options.onProgress?.({ phase: 'ready', name: joined.name, url: joined.url, loaded: joined.size, total: joined.size, bytesPerSecond: 0, storage: joined.storage, fromCache: opened.every((s) => !s.download), parts: parts.length });
    return joined;
  } catch (error) {
    await Promise.all(opened.map((s) => s.close?.().catch(() => {})));
    throw error;
  }
}

async function openOne(source, options) {
  const expected = options.sha256;
  const { signal } = options;
  if (signal?.aborted) throw abortError(signal.reason);

  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = source.name || 'model.gguf';
    const progress = new ProgressReporter(options.onProgress, { name });
    const opened = await verifySource(await checkMagic(blobSource(source, { name, storage: 'file' })), expected, progress, signal);
    progress.report({ phase: 'ready', loaded: opened.size, total: opened.size, bytesPerSecond: 0, storage: 'file', fromCache: false }, true);
    return opened;
  }
  if (source && typeof source === 'object' && !(source instanceof URL) && typeof source.read === 'function' && Number.isFinite(source.size)) {
    return source;  // already a model source
  }
  if (typeof source !== 'string' && !(source instanceof URL)) {
    throw new TypeError(`openModel takes a URL, a File/Blob, a file path, "hf:owner/repo/file.gguf" or {repo, file}, got ${source === null ? 'null' : typeof source}`);
  }
  const text = String(source);
  if (isNode() && (!hasScheme(text) || text.startsWith('file:'))) {
    const { fileURLToPath } = await importNodeOnly('node:url');
    const filePath = text.startsWith('file:') ? fileURLToPath(text) : text;
    const progress = new ProgressReporter(options.onProgress, { name: filePath });
    const opened = await verifySource(await checkMagic(await nodeFileSource(filePath)), expected, progress, signal);
    progress.report({ phase: 'ready', loaded: opened.size, total: opened.size, bytesPerSecond: 0, storage: 'file', fromCache: false }, true);
    return opened;
  }
  let url;
  try {
    url = new URL(text, globalThis.location?.href);
  } catch {
    throw new TypeError(`"${text}" is not a valid URL${isNode() ? ' or file path' : ''}`);
  }
  const key = url.href;
  while (inFlight.has(key)) await inFlight.get(key).catch(() => {});
  const promise = oneContextAtATime(key, options.signal, () => openUrl(url, expected, options));
  inFlight.set(key, promise);
  try {
    return await promise;
  } finally {
    inFlight.delete(key);
  }
}

// Another tab or worker of the origin storing the same model holds its file (an OPFS sync access handle is
// exclusive, and a second one fails with NoModificationAllowedError): wait for it, then open what it stored.
function oneContextAtATime(key, signal, task) {
  const locks = globalThis.navigator?.locks;
  return locks ? locks.request(`tabllm-model ${key}`, signal ? { signal } : {}, task) : task();
}

async function openUrl(url, expected, options) {
  const { signal } = options;
  const name = nameFromUrl(url);
  const progress = new ProgressReporter(options.onProgress, { name, url: url.href });
  const stores = await storesFor(options);

  for (const store of stores) {
    const cached = await store.complete(url.href, name);
    if (!cached) continue;
    if (expected && cached.sha256 && cached.sha256 !== expected) {  // the stored copy is another file: fetch it again
      await cached.close();
      await store.delete(url.href);
      break;
    }
    try {
      await verifySource(cached, expected, progress, signal);
    } catch (error) {
      if (error.code === 'integrity') await store.delete(url.href);
      throw error;
    }
    progress.report({ phase: 'ready', loaded: cached.size, total: cached.size, bytesPerSecond: 0, storage: store.kind, fromCache: true }, true);
    return cached;
  }

  const store = stores[0];
  let part;
  try {
    part = await store.open(url.href);
  } catch (error) {
    if (isQuotaError(error)) throw quotaError(name, 0, await store.estimate?.().catch(() => null), error);
    throw error;
  }
  let result;
  try {
    result = await download(url.href, part, {
      fetchImpl: options.fetch ?? globalThis.fetch.bind(globalThis), signal, progress, sha256: expected, store, name,
      maxRetries: options.maxRetries, retryDelayMs: options.retryDelayMs,
    });
  } catch (error) {
    // Keep what arrived for a later resume, unless the file itself is wrong.
    if (error.code === 'format' || error.code === 'http') await part.discard();
    else await part.suspend().catch(() => {});
    throw error;
  }
  if (expected && result.sha256 !== expected) {
    await part.discard();
    throw integrityError(name, result.size, expected, result.sha256);
  }
  let opened;
  try {
    opened = await part.finish({ sha256: result.sha256 ?? undefined }, name);
  } catch (error) {
    if (isQuotaError(error)) {
      await part.discard().catch(() => {});
      throw quotaError(name, result.size, await store.estimate?.().catch(() => null), error);
    }
    throw error;
  }
  opened.download = { resumedFrom: result.resumedFrom, requests: result.requests, bytesPerSecond: result.bytesPerSecond };
  progress.report({ phase: 'ready', loaded: opened.size, total: opened.size, bytesPerSecond: result.bytesPerSecond, storage: store.kind, fromCache: false }, true);
  return opened;
}

/** Models stored by earlier loads: [{url, size, stored, sha256, storedAt, complete, storage}] (partial ones too). */
export async function listCachedModels(options = {}) {
  const out = [];
  for (const store of await storesFor(options)) out.push(...await store.list());
  return out;
}

/** Deletes a stored model (complete or partial); true when something was deleted. */
export async function deleteCachedModel(url, options = {}) {
  const href = new URL(String(resolveModelReference(url, options)), globalThis.location?.href).href;
  let deleted = false;
  for (const store of await storesFor(options)) deleted = (await store.delete(href)) || deleted;
  return deleted;
}
