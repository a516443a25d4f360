// A GGUF model on wllama (llama.cpp built for WebAssembly, npm @wllama/wllama, a devDependency) in
// headless Chromium, on its CPU path (n_gpu_layers 0): the peer that tabllm's WebAssembly engine is
// measured beside, in the same browser and the same cross-origin isolated page setup as
// bench/browser-model.mjs. One JSON line: the greedy text and llama.cpp's own prompt and decode timings.
//   node bench/wllama-model.mjs MODEL.gguf [--tokens 32] [--prompt TEXT] [--threads N] [--context 512] [--timeout 1800]
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

import { launchChromium, openPage, startServer } from '../tests/browser/harness.mjs';

const usage = 'usage: node bench/wllama-model.mjs MODEL.gguf [--tokens 32] [--prompt TEXT] [--threads N] [--context 512] [--timeout 1800]';
const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    tokens: { type: 'string', default: '32' },
    prompt: { type: 'string', default: 'Once upon a time' },
    threads: { type: 'string', default: '2' },
    context: { type: 'string', default: '512' },
    timeout: { type: 'string', default: '1800' },
  },
});
if (positionals.length !== 1) {
  console.error(usage);
  process.exit(2);
}
const [model] = positionals;
let wllamaDir;
try {
  wllamaDir = path.dirname(createRequire(import.meta.url).resolve('@wllama/wllama/package.json'));
} catch {
  console.error('the npm package "@wllama/wllama" is not installed: run npm ci at the repository root');
  process.exit(1);
}
const [tokens, threads, contextSize, timeoutS] = ['tokens', 'threads', 'context', 'timeout'].map((name) => Number(o[name]));
const prompt = o.prompt;
const timeoutMs = timeoutS * 1000;

const server = await startServer({ mounts: { '/bench-model/': path.dirname(path.resolve(model)), '/wllama/': wllamaDir } });
const chromium = await launchChromium();
try {
  const page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/blank.html`);
  page.setDefaultTimeout(timeoutMs);
  const out = await page.evaluate(async ({ url, tokens, prompt, threads, contextSize }) => {
    const { Wllama } = await import('/wllama/esm/index.js');
    // Its threads are on when the page is cross-origin isolated; the worker's first line says so.
    let threading = null;
    const note = (...a) => { const line = a.map(String).join(' '); if (line.includes('Multithread')) threading ??= line; };
    const wllama = new Wllama({ default: '/wllama/esm/wasm/wllama.wasm' },
                              { suppressNativeLog: false, logger: { debug: note, log: note, warn: note, error: (...a) => console.error(...a) } });
    const t0 = performance.now();
    await wllama.loadModelFromUrl(url, { n_threads: threads, n_ctx: contextSize, n_batch: contextSize, n_gpu_layers: 0, useCache: false });
    const loadS = (performance.now() - t0) / 1000;
    const r = await wllama.createCompletion({ prompt, max_tokens: tokens, temperature: 0, ignore_eos: true });
    await wllama.exit();
    return { load_s: +loadS.toFixed(2), llama_cpp: Wllama.getLibllamaVersion?.() ?? null, text: r.choices[0].text, threading, llama_timings: r.timings };
  }, { url: `${server.url}/bench-model/${path.basename(model)}`, tokens, prompt, threads, contextSize });
  const t = out.llama_timings;
  console.log(JSON.stringify({
    file: path.basename(model), engine: 'wllama', threads, ...out,
    timings: { prompt_tokens: t.prompt_n, prefill_tokens_per_s: t.prompt_per_second, completion_tokens: t.predicted_n, decode_tokens_per_s: t.predicted_per_second },
  }));
} finally {
  await chromium.close();
  await server.close();
}
