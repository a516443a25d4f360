// A model's header and size before it is downloaded: HTTP range requests for the first bytes (more when the
// header is longer), and one byte of every other part of a split model for its size. A server that does
// not answer ranges gets no probe (null): the caller checks the model once it has arrived instead.
import { readGgufHeader } from './gguf_header.mjs';

const FIRST_BYTES = 1 << 20;

function totalOf(response) {
  const m = /\/(\d+)$/.exec(response.headers.get('Content-Range') ?? '');
  return m ? Number(m[1]) : null;
}

async function rangeRequest(url, start, length, { fetchImpl, signal }) {
  const response = await fetchImpl(url, { headers: { Range: `bytes=${start}-${start + length - 1}` }, signal, cache: 'no-store' });
  if (response.status !== 206) {
    await response.body?.cancel();
    return null;
  }
  const total = totalOf(response);
  const bytes = new Uint8Array(await response.arrayBuffer());
  return total === null ? null : { bytes, total };
}

/**
 * {header, size} of the model at `urls` (one URL, or a split model's parts in order), or null when a server
 * does not answer range requests. Errors (HTTP, network) are left for the download to report.
 */
export async function probeRemote(urls, { fetchImpl = globalThis.fetch.bind(globalThis), signal, name } = {}) {
  try {
    const first = await rangeRequest(urls[0], 0, FIRST_BYTES, { fetchImpl, signal });
    if (!first) return null;
    let cached = first.bytes;
    const read = async (offset, length) => {
      if (offset + length > cached.length) {
        const more = await rangeRequest(urls[0], cached.length, offset + length - cached.length, { fetchImpl, signal });
        if (!more) throw new Error('the server stopped answering range requests');
        const grown = new Uint8Array(cached.length + more.bytes.length);
        grown.set(cached);
        grown.set(more.bytes, cached.length);
        cached = grown;
      }
      return cached.subarray(offset, offset + length);
    };
    const header = await readGgufHeader(read, first.total, name);
    let size = first.total;
    for (const url of urls.slice(1)) {
      const part = await rangeRequest(url, 0, 1, { fetchImpl, signal });
      if (!part) return null;
      size += part.total;
    }
    return { header, size };
  } catch (error) {
    if (signal?.aborted) throw error;
    return null;
  }
}
