// Resume from the persisted prefix cache (docs/long-context.md) on the WebAssembly backend, as one JSON
// object on stdout:
//   node bench/prefix-cache.mjs MODEL.gguf [--prompt-tokens N] [--ctx N] [--kv-type f16|q8_0|f32] [--threads N]
// An engine answers a long prompt and stores its KV pages; then a fresh engine (a reopened page) answers
// the next turn twice: without the cache (prefilling everything) and with it (restoring the pages). TTFT of
// each, the speed-up, the pages and bytes read, and whether both gave the same text.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { createEngine } from '../js/src/index.mjs';

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
  const want = Number(o['prompt-tokens']) || context - 64;
  // A prompt of about `want` tokens: story text, measured with the model's own tokenizer.
  const sentence = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ';
  let prompt = '';
  for (;;) {
    const r = await first.completions.create({ prompt: prompt + sentence, max_tokens: 1, temperature: 0, truncation: 'disabled' }).catch(() => null);
    if (!r || r.usage.prompt_tokens >= want - 24) break;
    prompt += sentence;
  }
  const told = await first.completions.create({ prompt, max_tokens: 8, temperature: 0 });
  await first.flushPrefixCache();
  await first.unload();
  const next = { prompt: prompt + told.choices[0].text + ' Then', max_tokens: 8, temperature: 0 };

  // TTFT as the page sees it: from the call to the first streamed text (a restore included).
  const timed = async (engine) => {
    const start = performance.now();
    let ttft = null;
    let text = '';
    let usage = null;
    for await (const chunk of await engine.completions.create({ ...next, stream: true, stream_options: { include_usage: true } })) {
      if (chunk.choices?.[0]?.text && ttft === null) ttft = performance.now() - start;
      text += chunk.choices?.[0]?.text ?? '';
      usage = chunk.usage ?? usage;
    }
    return { ttft, text, usage };
  };
  const plain = await open(false);
  const prefilled = await timed(plain);
  await plain.unload();
  const reopened = await open(true);
  const restored = await timed(reopened);
  const stats = reopened.prefixCacheStats();
  await reopened.unload();
  console.log(JSON.stringify({
    model: path.basename(model), kv_type: o['kv-type'], context, threads, prompt_tokens: restored.usage.prompt_tokens,
    ttft_prefill_ms: +prefilled.ttft.toFixed(1), ttft_restored_ms: +restored.ttft.toFixed(1),
    restore_ms: +stats.restore_ms.toFixed(1), speedup: +(prefilled.ttft / restored.ttft).toFixed(1),
    tokens_restored: restored.usage.timings.prompt_tokens_reused, pages_read: stats.pages_read, bytes_read: stats.bytes_read,
    same_text: prefilled.text === restored.text,
  }));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
