// Page write and read throughput of a page store (prefix_cache.mjs's interface), plain and sealed with
// AES-GCM-256 (js/src/at_rest), and of sealing and opening alone. Runs in Node and in a browser page
// (bench/at-rest.mjs calls it in both). Pages are random bytes; each figure is the best of `rounds`.
import { nodeSealer, webCryptoSealer } from '../../js/src/at_rest/record.mjs';
import { SealedStore } from '../../js/src/at_rest/sealed_store.mjs';

const MB = 1e6;

function randomPage(bytes) {
  const page = new Uint8Array(bytes);
  for (let at = 0; at < bytes; at += 65536) crypto.getRandomValues(page.subarray(at, Math.min(bytes, at + 65536)));
  return page;
}

async function best(rounds, fn) {
  let fastest = Infinity;
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await fn();
    fastest = Math.min(fastest, performance.now() - started);
  }
  return fastest;
}

const rate = (bytes, ms) => Number((bytes / MB / (ms / 1000)).toFixed(1));

/**
 * @param {{kind: string, get, put, delete}} store an empty page store
 * @param {{pageBytes: number, pages: number, rounds?: number, nodeCrypto?: object}} options nodeCrypto: Node's
 *   crypto module, to measure the synchronous sealer (the KV pager's in Node) too
 * @returns {Promise<object>} MB/s: write and read, plain and sealed; seal and open alone
 */
export async function pageThroughput(store, { pageBytes, pages, rounds = 3, nodeCrypto = null }) {
  const data = Array.from({ length: pages }, () => randomPage(pageBytes));
  const total = pageBytes * pages;
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const sealers = { webcrypto: webCryptoSealer(key) };
  if (nodeCrypto) sealers.node = nodeSealer(nodeCrypto.randomBytes(32), nodeCrypto);
  const out = { page_bytes: pageBytes, pages, store: store.kind };

  const measureStore = async (s) => {
    const write = await best(rounds, async () => { for (let i = 0; i < pages; i++) await s.put(`p${i}.kv`, data[i]); });
    let read = null;
    const readMs = await best(rounds, async () => { for (let i = 0; i < pages; i++) read = await s.get(`p${i}.kv`); });
    if (read.length !== pageBytes) throw new Error(`a page came back with ${read.length} of ${pageBytes} bytes`);
    for (let i = 0; i < pages; i++) await s.delete(`p${i}.kv`);
    return { write_mb_s: rate(total, write), read_mb_s: rate(total, readMs) };
  };
  out.plain = await measureStore(store);
  for (const [name, sealer] of Object.entries(sealers)) {
    const sealed = [];
    const sealMs = await best(rounds, async () => { for (let i = 0; i < pages; i++) sealed[i] = await sealer.seal('bench', `p${i}`, data[i]); });
    const openMs = await best(rounds, async () => { for (let i = 0; i < pages; i++) await sealer.open('bench', `p${i}`, sealed[i]); });
    out[`sealed_${name}`] = { ...await measureStore(new SealedStore(store, sealer, 'bench')), seal_mb_s: rate(total, sealMs), open_mb_s: rate(total, openMs) };
  }
  return out;
}
