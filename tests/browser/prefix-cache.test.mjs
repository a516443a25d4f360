// The persisted prefix cache in Chromium, on real OPFS: a page answers a long prompt and stores its KV
// pages; after a reload, a new engine answers the next turn from them — the same text as an engine that
// prefills it all, with a TTFT (call to first streamed text, the restore included) many times shorter —
// and with the page store removed while the tab runs, the answer is still right, with a warning.
//
//   node --test --test-concurrency=1 tests/browser/prefix-cache.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { launchChromium, openPage, startServer } from './harness.mjs';
import { modelsDir, skipOrFail, storiesModel, wasmDir } from '../js/wasm_env.mjs';

const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ';

// In the page: an engine (prefixCache on or off) answers `prompt`, streamed; TTFT measured from the call.
function answer({ prompt, prefixCache, maxTokens, removeStore }) {
  return (async () => {
    const { createEngine } = await import('/js/src/index.mjs');
    const warnings = [];
    const warn = console.warn;
    console.warn = (m) => { warnings.push(String(m)); warn(m); };
    try {
      const engine = await createEngine({ model: '/models/stories260K-f32.gguf', backend: 'wasm', wasmVariant: 'single', prefixCache });
      if (removeStore) await (await navigator.storage.getDirectory()).removeEntry('tabllm-kv', { recursive: true });
      const start = performance.now();
      let ttft = null;
      let text = '';
      let usage = null;
      const stream = await engine.completions.create({ prompt, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } });
      for await (const chunk of stream) {
        if (chunk.choices?.[0]?.text && ttft === null) ttft = performance.now() - start;
        text += chunk.choices?.[0]?.text ?? '';
        usage = chunk.usage ?? usage;
      }
      await engine.flushPrefixCache();
      const stats = engine.prefixCacheStats();
      await engine.unload();
      let files = 0;
      try {
        const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabllm-kv');
        for await (const [, dir] of root.entries()) for await (const [name] of dir.entries()) if (name.endsWith('.kv')) files++;
      } catch { /* no store */ }
      return { text, ttft, reused: usage.timings.prompt_tokens_reused, promptTokens: usage.prompt_tokens, stats, files, warnings };
    } finally {
      console.warn = warn;
    }
  })();
}

test('Chromium, OPFS: a reloaded page continues a long prompt from its stored KV pages; a removed store is a warning', async (t) => {
  if (!fs.existsSync(path.join(wasmDir, 'tabllm-st.mjs'))) return skipOrFail(t, `${wasmDir}/tabllm-st.mjs is missing: run scripts/build-wasm.sh`);
  storiesModel('f32');
  const server = await startServer({ mounts: { '/build-wasm/': wasmDir, '/models/': modelsDir } });
  const chromium = await launchChromium();
  try {
    const page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/engine.html`);
    page.setDefaultTimeout(120_000);
    const prompt = story.repeat(12);  // 335 tokens (context 512)
    const first = await page.evaluate(answer, { prompt, prefixCache: true, maxTokens: 40 });
    assert.ok(first.files >= 2, JSON.stringify(first));

    await page.reload();
    const next = `${prompt}${first.text} The next day,`;
    const plain = await page.evaluate(answer, { prompt: next, prefixCache: false, maxTokens: 16 });
    const restored = await page.evaluate(answer, { prompt: next, prefixCache: true, maxTokens: 16 });
    t.diagnostic(`prompt ${restored.promptTokens} tokens: TTFT ${plain.ttft.toFixed(0)} ms prefilled, ${restored.ttft.toFixed(0)} ms restored ` +
      `(${restored.reused} positions from ${restored.stats.pages_read} pages, ${restored.stats.bytes_read} bytes, restore ${restored.stats.restore_ms.toFixed(0)} ms)`);
    assert.equal(restored.text, plain.text);
    assert.equal(plain.reused, 0);
    assert.ok(restored.reused >= 350, JSON.stringify(restored));
    assert.ok(restored.ttft * 3 < plain.ttft, `TTFT ${restored.ttft} ms restored against ${plain.ttft} ms prefilled`);

    const removed = await page.evaluate(answer, { prompt: `${next}${plain.text} Then`, prefixCache: true, maxTokens: 16, removeStore: true });
    const expected = await page.evaluate(answer, { prompt: `${next}${plain.text} Then`, prefixCache: false, maxTokens: 16 });
    assert.equal(removed.text, expected.text);
    assert.ok(removed.warnings.some((w) => /missing|could not be stored/.test(w)), removed.warnings.join(' | '));
  } finally {
    await chromium.close();
    await server.close();
  }
});
