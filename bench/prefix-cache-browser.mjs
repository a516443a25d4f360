// Resume in headless Chromium from the persisted prefix cache on OPFS (docs/long-context.md), WebAssembly
// backend, as one JSON object on stdout:
//   node bench/prefix-cache-browser.mjs MODEL.gguf [--prompt-tokens 4000] [--ctx 4096] [--kv-type f16|q8_0|f32]
//       [--threads N] [--timeout 3600]
// A page answers a long prompt (a conversation) and stores its KV pages; the page is closed. A new page
// answers the next turn without the cache (prefilling everything), and another new page with it (restoring
// the pages from OPFS). The browser keeps its profile on disk (a persistent context in a temporary folder),
// so OPFS reads are disk reads as in a user's browser. The figures: bench/prefix-cache-turn.mjs. Extra
// Chromium flags: TABLLM_CHROMIUM_ARGS, as for the tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { CHROMIUM, WEBGPU_SWIFTSHADER_ARGS, openPage, startServer } from '../tests/browser/harness.mjs';

const usage = 'usage: node bench/prefix-cache-browser.mjs MODEL.gguf [--prompt-tokens 4000] [--ctx 4096] [--kv-type f16|q8_0|f32] [--threads N] [--timeout 3600]';
const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'prompt-tokens': { type: 'string', default: '4000' }, ctx: { type: 'string', default: '4096' },
    'kv-type': { type: 'string', default: 'f16' }, threads: { type: 'string', default: '1' }, timeout: { type: 'string', default: '3600' } },
});
if (positionals.length !== 1) {
  console.error(usage);
  process.exit(2);
}
const model = path.resolve(positionals[0]);
const threads = Number(o.threads);
const settings = { url: `/bench-model/${path.basename(model)}`, contextSize: Number(o.ctx), kvType: o['kv-type'], threads };

// In the page: an engine (prefixCache on or off) answers one turn; with `want`, the prompt is first made
// (a story of about `want` tokens).
function turn({ url, contextSize, kvType, threads, prefixCache, prompt, want, maxTokens }) {
  return (async () => {
    const { createEngine } = await import('/js/src/index.mjs');
    const { storyPrompt, timedTurn } = await import('/bench/prefix-cache-turn.mjs');
    const warnings = [];
    const warn = console.warn;
    console.warn = (m) => { warnings.push(String(m)); warn(m); };
    try {
      const engine = await createEngine({ model: url, backend: 'wasm', wasmVariant: threads > 1 ? 'threaded' : 'single', threads, kvType, contextSize, prefixCache });
      if (want) {
        prompt = await storyPrompt(engine, want);
        await engine.clearPrefixCache();
      }
      const result = await timedTurn(engine, { prompt, maxTokens });
      const flushed = performance.now();
      await engine.flushPrefixCache();
      const flushMs = performance.now() - flushed;
      const stats = engine.prefixCacheStats();
      await engine.unload();
      return { prompt, ...result, flushMs, stats, warnings };
    } finally {
      console.warn = warn;
    }
  })();
}

const server = await startServer({ mounts: { '/bench-model/': path.dirname(model), '/build-wasm/': path.resolve('build-wasm') } });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-chromium-'));
const { chromium } = await import('playwright-core');
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM, headless: true,
  args: [...WEBGPU_SWIFTSHADER_ARGS, '--no-sandbox', ...(process.env.TABLLM_CHROMIUM_ARGS ?? '').split(/\s+/).filter(Boolean)],
});
// Each turn in a new page: nothing of the last one's engine, module or memory is left.
const inNewPage = async (args) => {
  const page = await openPage(context, `${server.url}/tests/browser/pages/engine.html`);
  page.setDefaultTimeout(Number(o.timeout) * 1000);
  try {
    return await page.evaluate(turn, { ...settings, ...args });
  } finally {
    await page.close();
  }
};
try {
  const { summary } = await import('./prefix-cache-turn.mjs');
  const told = await inNewPage({ prefixCache: true, want: Number(o['prompt-tokens']), maxTokens: 8 });
  const next = { prompt: `${told.prompt}${told.text} Then`, maxTokens: 8 };
  const prefilled = await inNewPage({ prefixCache: false, ...next });
  const restored = await inNewPage({ prefixCache: true, ...next });
  console.log(JSON.stringify({
    model: path.basename(model), kv_type: o['kv-type'], context: settings.contextSize, threads, ...summary({ prefilled, restored, stats: restored.stats }),
    store_ms: +told.flushMs.toFixed(1), pages_written: told.stats.pages_written, bytes_written: told.stats.bytes_written,
    warnings: [...told.warnings, ...restored.warnings],
  }));
} finally {
  await context.close();
  await server.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
