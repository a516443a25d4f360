// A GGUF model in headless Chromium through the package, on WebGPU (SwiftShader here; a real GPU where
// Chromium has one) and on WebAssembly: load time, greedy tokens and speed, one JSON line per backend.
// For files too large or too slow for the test suite (a full Qwen2.5-0.5B-shape Q4_K_M on SwiftShader).
//
//   node bench/browser-model.mjs MODEL.gguf [--backends webgpu,wasm] [--tokens 8] [--prompt "Once upon a time"]
//       [--context 512] [--threads N] [--timeout 1800]
//
// Each backend's `text` is the greedy continuation; equal texts mean the backends agree on the tokens.
import path from 'node:path';

import { launchChromium, openPage, startServer } from '../tests/browser/harness.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const model = args.find((a, i) => !a.startsWith('--') && !(args[i - 1] ?? '').startsWith('--'));
if (!model) {
  console.error('usage: node bench/browser-model.mjs MODEL.gguf [--backends webgpu,wasm] [--tokens 8] [--prompt TEXT] [--context 512] [--threads N] [--timeout 1800]');
  process.exit(2);
}
const backends = option('backends', 'webgpu,wasm').split(',');
const tokens = Number(option('tokens', 8));
const prompt = option('prompt', 'Once upon a time');
const contextSize = Number(option('context', 512));
const threads = option('threads') === undefined ? undefined : Number(option('threads'));  // the engine's default when absent
const timeoutMs = Number(option('timeout', 1800)) * 1000;

const server = await startServer({ mounts: { '/bench-model/': path.dirname(path.resolve(model)), '/build-wasm/': path.resolve('build-wasm') } });
const chromium = await launchChromium();
try {
  for (const backend of backends) {
    const page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/engine.html`);
    page.setDefaultTimeout(timeoutMs);
    const out = await page.evaluate(async ({ url, backend, tokens, prompt, contextSize, threads }) => {
      const { createEngine } = await import('/js/src/index.mjs');
      const t0 = performance.now();
      const engine = await createEngine({ model: url, backend, allowSoftwareAdapter: true, contextSize, threads });
      const loadS = (performance.now() - t0) / 1000;
      const r = await engine.completions.create({ prompt, max_tokens: tokens, temperature: 0 });
      const result = { backend: engine.backend, reason: engine.backendReason ?? null, load_s: +loadS.toFixed(2), text: r.choices[0].text,
                       completion_tokens: r.usage.completion_tokens, timings: r.usage.timings };
      await engine.unload();
      return result;
    }, { url: `/bench-model/${path.basename(model)}`, backend, tokens, prompt, contextSize, threads });
    console.log(JSON.stringify({ file: path.basename(model), requested: backend, ...out }));
    await page.close();
  }
} finally {
  await chromium.close();
  await server.close();
}
