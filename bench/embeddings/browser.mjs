#!/usr/bin/env node
// Embeddings per second in headless Chromium: the package's engine on WebAssembly in a cross-origin isolated
// page (threads), inputs of 256 tokens, 32 to a request, on the same synthetic files as throughput.mjs.
// Prints one JSON object. The page's threads share the CPU with Chromium's own: read the figures against
// `uptime`'s load.
//
//   node bench/embeddings/browser.mjs [--threads 2] [--types f32,q8_0] [--shapes all-minilm-l6-v2] [--batch 32] [--repeat 2]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { launchChromium, openPage, startServer } from '../../tests/browser/harness.mjs';
import { TOKENS_PER_INPUT, benchTexts, synthBenchModel } from './inputs.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const { values: opts } = parseArgs({
  options: {
    cli: { type: 'string', default: path.join(root, 'build/bin/tabllm') },
    threads: { type: 'string', default: '2' },
    types: { type: 'string', default: 'f32,q8_0' },
    shapes: { type: 'string', default: 'all-minilm-l6-v2' },
    batch: { type: 'string', default: '32' },
    repeat: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '1800' },
  },
});
const threads = Number(opts.threads);
const batch = Number(opts.batch);
const repeat = Number(opts.repeat);
const texts = benchTexts(batch);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-embed-browser-'));
const server = await startServer({ mounts: { '/bench-models/': dir } });
const chromium = await launchChromium();
const browserVersion = chromium.browser.version();
const loadBefore = os.loadavg();
const results = [];
try {
  for (const shape of opts.shapes.split(',')) {
    for (const type of opts.types.split(',')) {
      const file = synthBenchModel(opts.cli, shape, type, dir);
      const page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/engine.html`);
      page.setDefaultTimeout(Number(opts.timeout) * 1000);
      try {
        const run = await page.evaluate(async ({ url, texts, threads, repeat }) => {
          const { createEngine } = await import('/js/src/index.mjs');
          const engine = await createEngine({ model: url, backend: 'wasm', threads });
          try {
            await engine.embeddings.create({ input: texts.slice(0, 2) });  // warm-up
            let tokens = 0;
            const start = performance.now();
            for (let r = 0; r < repeat; r++) tokens += (await engine.embeddings.create({ input: texts })).usage.prompt_tokens;
            const seconds = (performance.now() - start) / 1000;
            return { isolated: crossOriginIsolated, variant: engine.runtime.variant, threads: engine.runtime.threads, tokens, seconds };
          } finally {
            await engine.unload();
          }
        }, { url: `/bench-models/${path.basename(file)}`, texts, threads, repeat });
        if (run.tokens !== batch * repeat * TOKENS_PER_INPUT) throw new Error(`the inputs came to ${run.tokens} tokens, not ${batch * repeat} × ${TOKENS_PER_INPUT}`);
        results.push({
          model: `${shape} ${type}`, batch, tokens_per_input: TOKENS_PER_INPUT, repeat,
          chromium: { cross_origin_isolated: run.isolated, variant: run.variant, threads: run.threads, seconds: run.seconds, embeddings_per_s: (batch * repeat) / run.seconds },
        });
      } finally {
        await page.close();
      }
    }
  }
} finally {
  await chromium.close();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify({ machine: `${os.cpus()[0]?.model} (${os.availableParallelism()} CPUs)`, chromium: browserVersion, load_average: { before: loadBefore, after: os.loadavg() }, results }, null, 2));
