// The Service Worker endpoint's cost (docs/service-worker.md): time to the first streamed token and the
// whole reply, through createServiceWorkerEngine, through a plain fetch of /v1/chat/completions, and from a
// Web Worker engine of the page itself (createWorkerEngine, no Service Worker), in headless Chromium on the
// chat demo (built on js/src into build/sw-bench). One JSON object: medians over the runs, in ms.
//
//   node bench/sw-endpoint.mjs [--runs 9] [--tokens 64] [--backend wasm]
import { execFileSync } from 'node:child_process';
import path from 'node:path';

import { serveChat } from '../apps/chat/server.mjs';
import { launchChromium, repoRoot } from '../tests/browser/harness.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const runs = Number(option('runs', 9));
const tokens = Number(option('tokens', 64));
const backend = option('backend', 'wasm');

const out = path.join(repoRoot, 'build/sw-bench');
execFileSync(process.execPath, [path.join(repoRoot, 'apps/chat/build.mjs'), '--dev', '--out', out], { stdio: 'ignore' });
const server = await serveChat({ root: out });
const chromium = await launchChromium();
try {
  const page = await (await chromium.browser.newContext()).newPage();
  page.setDefaultTimeout(300_000);
  await page.goto(`${server.url}?engine=sw&backend=${backend}`);
  await page.waitForFunction(() => window.tabllmChat?.state === 'ready', null, { polling: 100 });
  const result = await page.evaluate(async ({ runs, tokens, backend }) => {
    const tabllm = await import('/js/dist/index.js');
    const request = { messages: [{ role: 'user', content: 'Once upon a time' }], temperature: 0, max_tokens: tokens, stream: true };
    // Time to the first content and to the end of a stream of chunks.
    const timed = async (start) => {
      const t0 = performance.now();
      let first = null;
      for await (const chunk of await start()) if (first === null && chunk.choices[0]?.delta?.content) first = performance.now() - t0;
      return { first, total: performance.now() - t0 };
    };
    async function* plainChunks() {
      const response = await fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let rest = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const events = (rest + value).split('\n\n');
        rest = events.pop();
        for (const e of events) if (e.startsWith('data: {')) yield JSON.parse(e.slice(6));
      }
    }
    const threads = Math.max(1, (navigator.hardwareConcurrency || 2) - 1);
    const direct = await tabllm.createWorkerEngine({ model: '/models/stories260K-f32.gguf', backend, threads, prefixCache: true });
    const ways = {
      serviceWorkerClient: () => window.tabllmChat.engine.chat.completions.create(request),
      plainFetch: async () => plainChunks(),
      directWorker: () => direct.chat.completions.create(request),
    };
    const samples = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
    for (let i = 0; i < runs; i++) for (const [name, start] of Object.entries(ways)) samples[name].push(await timed(start));
    await direct.terminate();
    const median = (values) => values.sort((a, b) => a - b)[values.length >> 1];
    return Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, {
      firstTokenMs: Number(median(s.map((x) => x.first)).toFixed(1)), replyMs: Number(median(s.map((x) => x.total)).toFixed(1)),
    }]));
  }, { runs, tokens, backend });
  console.log(JSON.stringify({ bench: 'sw-endpoint', model: 'stories260K-f32', backend, tokens, runs, ...result }));
} finally {
  await chromium.close();
  await server.close();
}
