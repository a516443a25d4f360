// Streams a URL into a Part (see the stores): progress, HTTP range requests to continue what is already
// stored, retries after a dropped connection, SHA-256 on the fly, a GGUF check on the first bytes.
import { ModelLoadError, abortError, gb, isQuotaError, quotaError } from './errors.mjs';
import { Sha256 } from './sha256.mjs';

const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46];  // "GGUF"
const HASH_CHUNK = 8 << 20;

export class ProgressReporter {
  constructor(onProgress, base, intervalMs = 100) {
    this.onProgress = onProgress;
    this.base = base;
    this.intervalMs = intervalMs;
    this.last = 0;
  }

  report(fields, force = false) {
    if (!this.onProgress) return;
    const now = Date.now();
    if (!force && now - this.last < this.intervalMs) return;
    this.last = now;
    this.onProgress({ ...this.base, ...fields });
  }
}

/** Hashes a source or a part's first `size` bytes chunk by chunk. */
export async function hashStored(read, size, progress, signal, hasher = new Sha256()) {
  for (let offset = 0; offset < size; offset += HASH_CHUNK) {
    if (signal?.aborted) throw abortError(signal.reason);
    hasher.update(await read(offset, Math.min(HASH_CHUNK, size - offset)));
    progress?.report({ phase: 'verify', loaded: Math.min(size, offset + HASH_CHUNK), total: size, bytesPerSecond: 0 });
  }
  return hasher;
}

function describe(url) {
  return String(url);
}

function httpError(url, response) {
  const hint = response.status === 404 || response.status === 410
    ? 'Check the URL: it must name the .gguf file itself.'
    : response.status === 401 || response.status === 403
      ? 'The server refused access: the file may be private or need a token.'
      : 'The server failed; try again later.';
  return new ModelLoadError(`could not download ${describe(url)}: HTTP ${response.status} ${response.statusText}`.trim() + `. ${hint}`, { code: 'http' });
}

function networkError(url, error) {
  return new ModelLoadError(
    `could not reach ${describe(url)} (${error?.message ?? error}). Check the URL and the connection; a model on another ` +
    'site must allow cross-origin requests (CORS) and, on a cross-origin isolated page, send Cross-Origin-Resource-Policy: cross-origin ' +
    '(or serve it from this site).',
    { code: 'network', cause: error },
  );
}

function droppedError(url, loaded, total, error) {
  return new ModelLoadError(
    `the download of ${describe(url)} stopped after ${gb(loaded)}${total ? ` of ${gb(total)}` : ''} (${error?.message ?? error}). ` +
    'What arrived is kept: load it again to continue from there. Check the connection if this repeats.',
    { code: 'network', cause: error },
  );
}

function notGguf(url, head) {
  const text = new TextDecoder().decode(head).replace(/[^\x20-\x7e]/g, '.');
  return new ModelLoadError(
    `${describe(url)} is not a GGUF file (it starts with "${text}", not "GGUF"). Check the URL or file: the model must be in GGUF format.`,
    { code: 'format' },
  );
}

/** Content-Range "bytes START-END/TOTAL" → {start, total}; total null when "*". */
function parseContentRange(value) {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? '');
  return m ? { start: Number(m[1]), total: m[3] === '*' ? null : Number(m[3]) } : null;
}

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => {
    clearTimeout(timer);
    reject(abortError(signal.reason));
  }, { once: true });
});

/**
 * Downloads `url` into `part`, continuing from part.loaded. Returns {sha256 (hex or null), size, resumedFrom,
 * requests, bytesPerSecond}.
 */
export async function download(url, part, {
  fetchImpl = globalThis.fetch, signal, progress, sha256 = null, maxRetries = 3, retryDelayMs = 250, store, name,
} = {}) {
  const resumedFrom = part.loaded;
  let hasher = sha256 ? new Sha256() : null;
  if (hasher && part.loaded > 0) await hashStored((o, n) => part.read(o, n), part.loaded, progress, signal, hasher);

  let total = part.meta.size ?? null;
  let etag = part.meta.etag ?? null;
  let failures = 0;
  let requests = 0;
  const started = Date.now();
  let received = 0;
  const head = [];  // first bytes of the file, for the GGUF check
  const rate = () => received / Math.max(1e-3, (Date.now() - started) / 1000);

  const startOver = async () => {
    await part.reset();
    if (sha256) hasher = new Sha256();
    head.length = 0;
  };

  for (;;) {
    if (total !== null && part.loaded === total) break;
    if (total !== null && part.loaded > total) await startOver();
    if (signal?.aborted) throw abortError(signal.reason);

    const headers = {};
    if (part.loaded > 0) {
      headers.Range = `bytes=${part.loaded}-`;
      if (etag && !etag.startsWith('W/')) headers['If-Range'] = etag;
    }
    let response;
    requests++;
    try {
      response = await fetchImpl(url, { headers, signal, cache: 'no-store' });
    } catch (error) {
      if (signal?.aborted) throw abortError(signal.reason);
      if (++failures > maxRetries) throw networkError(url, error);
      await sleep(retryDelayMs * 2 ** (failures - 1), signal);
      continue;
    }

    if (response.status === 416 && part.loaded > 0) {  // nothing left, or the file shrank: start over
      await response.body?.cancel();
      const range = parseContentRange(response.headers.get('Content-Range')?.replace('*', '0-0'));
      if (range?.total === part.loaded) { total = part.loaded; break; }
      await startOver();
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      if (response.status >= 500 && ++failures <= maxRetries) {
        await sleep(retryDelayMs * 2 ** (failures - 1), signal);
        continue;
      }
      throw httpError(url, response);
    }
    if (/^text\/html/i.test(response.headers.get('Content-Type') ?? '')) {
      await response.body?.cancel();
      throw new ModelLoadError(`${describe(url)} answered with an HTML page, not a GGUF file. Check the URL: it must name the .gguf file itself.`, { code: 'format' });
    }

    if (response.status === 206) {
      const range = parseContentRange(response.headers.get('Content-Range'));
      if (!range || range.start !== part.loaded) {  // not the range we asked for: fetch everything again
        await response.body?.cancel();
        await startOver();
        continue;
      }
      total = range.total;
    } else {
      if (part.loaded > 0) await startOver();  // the server ignored Range (or If-Range saw a new file)
      const length = response.headers.get('Content-Length');
      total = length !== null && !response.headers.get('Content-Encoding') ? Number(length) : null;
    }
    const newEtag = response.headers.get('ETag');
    if (total !== part.meta.size || newEtag !== etag) {
      etag = newEtag;
      await part.setMeta({ size: total ?? undefined, etag, lastModified: response.headers.get('Last-Modified') });
    }
    if (total !== null && store) {
      const estimate = await store.estimate?.().catch(() => null);
      const room = estimate && Number.isFinite(estimate.quota) ? estimate.quota - (estimate.usage ?? 0) : Infinity;
      if (total - part.loaded > room) {
        await response.body?.cancel();
        throw quotaError(name, total, estimate);
      }
    }

    const reader = response.body.getReader();
    const loadedBefore = part.loaded;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (part.loaded < 4) {
          for (const byte of value.subarray(0, 4 - part.loaded)) head.push(byte);
          if (head.length >= 4 || (total !== null && part.loaded + value.length >= total)) {
            if (head.some((b, i) => b !== GGUF_MAGIC[i]) || head.length < 4) throw notGguf(url, Uint8Array.from(head));
          }
        }
        await part.write(value);
        hasher?.update(value);
        received += value.length;
        progress?.report({ phase: 'download', loaded: part.loaded, total, bytesPerSecond: rate() });
      }
    } catch (error) {
      if (signal?.aborted) throw abortError(signal.reason);
      if (error instanceof ModelLoadError) throw error;
      if (isQuotaError(error)) throw quotaError(name, total ?? part.loaded, await store?.estimate?.().catch(() => null), error);
      if (part.loaded > loadedBefore) failures = 0;  // it moved forward: only repeated failures in a row count
      if (++failures > maxRetries) throw droppedError(url, part.loaded, total, error);
      await sleep(retryDelayMs * 2 ** (failures - 1), signal);
      continue;
    }
    if (total === null) {
      total = part.loaded;
      break;
    }
    if (part.loaded < total) {  // the connection ended early without an error
      if (part.loaded > loadedBefore) failures = 0;
      if (++failures > maxRetries) throw droppedError(url, part.loaded, total, new Error('the connection closed early'));
      await sleep(retryDelayMs * 2 ** (failures - 1), signal);
    }
  }
  if (part.loaded < 4) throw notGguf(url, Uint8Array.from(head));
  progress?.report({ phase: 'download', loaded: part.loaded, total, bytesPerSecond: rate() }, true);
  return { sha256: hasher ? hasher.hex() : null, size: part.loaded, resumedFrom, requests, bytesPerSecond: rate() };
}
