// Resume from the persisted prefix cache (docs/long-context.md) on the WebAssembly backend in Node, as one
// JSON object on stdout:
//   node bench/prefix-cache.mjs MODEL.gguf [--prompt-tokens N] [--ctx N] [--kv-type f16|q8_0|f32] [--threads N]
// An engine answers a long prompt and stores its KV pages; then a fresh engine (a reopened page) answers
// the next turn twice: without the cache (prefilling everything) and with it (restoring the pages). TTFT of
// each, the speed-up, where the restored TTFT went, the pages and bytes read, and whether both gave the
// same text. bench/prefix-cache-browser.mjs measures the same in Chromium on OPFS.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { createEngine } from '../js/src/index.mjs';
import { storyPrompt, summary, timedTurn } from './prefix-cache-turn.mjs';

const usage = 'usage: node bench/prefix-cache.mjs MODEL.gguf [--prompt-tokens N] [--ctx N] [--kv-type f16|q8_0|f32] [--threads N]';
const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'prompt-tokens': { type: 'string', default: '0' }, ctx: { type: 'string', default: '0' }, 'kv-type': { type: 'string', default: 'f16' },
    threads: { type: 'string', default: '1' } },
});
if (positionals.length !== 1) {
  console.error(usage);
  process.exit(2);
}
const model = positionals[0];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-kv-bench-'));
process.env.TABLLM_KV_DIR = dir;
const threads = Number(o.threads);
const open = (prefixCache) => createEngine({ model, backend: 'wasm', wasmVariant: threads > 1 ? 'threaded' : 'single', threads,
  kvType: o['kv-type'], prefixCache, ...(Number(o.ctx) ? { contextSize: Number(o.ctx) } : {}) });

try {
  const first = await open(true);
  const context = first.contextSize;
  const prompt = await storyPrompt(first, Number(o['prompt-tokens']) || context - 64);
  await first.clearPrefixCache();
  const told = await timedTurn(first, { prompt, maxTokens: 8 });
  await first.flushPrefixCache();
  await first.unload();
  const next = { prompt: `${prompt}${told.text} Then`, maxTokens: 8 };

  const plain = await open(false);
  const prefilled = await timedTurn(plain, next);
  await plain.unload();
  const reopened = await open(true);
  const restored = await timedTurn(reopened, next);
  const stats = reopened.prefixCacheStats();
  await reopened.unload();
  console.log(JSON.stringify({ model: path.basename(model), kv_type: o['kv-type'], context, threads, ...summary({ prefilled, restored, stats }) }));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
