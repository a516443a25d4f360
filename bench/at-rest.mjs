// The cost of encryption at rest (docs/privacy.md) on KV page write and read throughput, as one JSON object
// on stdout: MB/s writing and reading pages through the stores tabllm uses, plain and sealed (AES-GCM-256,
// WebCrypto; in Node also node:crypto's synchronous sealer, the KV pager's), and sealing and opening alone;
// in Node (files in a temporary folder) and in headless Chromium (OPFS, on a page).
//   node bench/at-rest.mjs [--sizes 163840,8388608] [--total 67108864] [--rounds 3] [--no-browser]
// The default sizes are a stories260K page (256 positions of 640 bytes) and an 8 MiB page (256 positions
// of a 1B-class model's f16 rows). Extra Chromium flags: TABLLM_CHROMIUM_ARGS, as for the tests.
import nodeCrypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { pageThroughput } from './at_rest/throughput.mjs';
import { NodePageStore } from '../js/src/prefix_cache.mjs';
import { launchChromium, openPage, startServer } from '../tests/browser/harness.mjs';

const { values: o } = parseArgs({
  options: { sizes: { type: 'string', default: '163840,8388608' }, total: { type: 'string', default: String(64 << 20) },
    rounds: { type: 'string', default: '3' }, 'no-browser': { type: 'boolean', default: false } },
});
const sizes = o.sizes.split(',').map(Number);
const rounds = Number(o.rounds);
const runs = sizes.map((pageBytes) => ({ pageBytes, pages: Math.max(1, Math.round(Number(o.total) / pageBytes)), rounds }));

const result = { bench: 'at-rest', cpu: os.cpus()[0]?.model, node: {}, chromium: null };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-at-rest-bench-'));
try {
  for (const run of runs) result.node[run.pageBytes] = await pageThroughput(new NodePageStore(dir), { ...run, nodeCrypto });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

if (!o['no-browser']) {
  const server = await startServer();
  const chromium = await launchChromium();
  try {
    const page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/blank.html`);
    result.chromium = await page.evaluate(async (runs) => {
      const { pageThroughput: measure } = await import('/bench/at_rest/throughput.mjs');
      const { OpfsPageStore } = await import('/js/src/prefix_cache.mjs');
      const out = {};
      for (const run of runs) out[run.pageBytes] = await measure(new OpfsPageStore('at-rest-bench'), run);
      await (await (await navigator.storage.getDirectory()).getDirectoryHandle('tabllm-kv')).removeEntry('at-rest-bench', { recursive: true });
      return out;
    }, runs);
  } finally {
    await chromium.close();
    await server.close();
  }
}
console.log(JSON.stringify(result, null, 2));
