// Each energy profile on the WebAssembly backend in headless Chromium: the same greedy requests under
// performance, balanced and saver (each a fresh engine in the page, as its threads and context are fixed at load),
// with the decode rate the core measured, and the CPU time of Chromium's processes (all of them: the page,
// its workers, the GPU process) per token and per second of wall time, from /proc. One JSON object.
//
//   node bench/profiles-browser.mjs [MODEL.gguf] [--requests 3] [--tokens 48] [--profiles performance,balanced,saver]
// (default model: stories260K f32, made by scripts/setup.sh)
import fs from 'node:fs';
import path from 'node:path';

import { launchChromium, openPage, repoRoot, startServer } from '../tests/browser/harness.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const model = path.resolve(args.find((a, i) => !a.startsWith('--') && !(args[i - 1] ?? '').startsWith('--')) ?? path.join(repoRoot, 'build/models/stories260K-f32.gguf'));
if (!fs.existsSync(model)) {
  console.error(`usage: node bench/profiles-browser.mjs [MODEL.gguf] [--requests 3] [--tokens 48] [--profiles performance,balanced,saver] (${model} is missing)`);
  process.exit(2);
}
const requests = Number(option('requests', 3));
const tokens = Number(option('tokens', 48));
const profiles = option('profiles', 'performance,balanced,saver').split(',');

const TICKS = 100;  // USER_HZ: /proc's CPU times are in ticks of 1/100 s on Linux

// CPU seconds (user + system) of this process's descendants: the Chromium it launched.
function browserCpuSeconds() {
  const parents = new Map();
  const cpu = new Map();
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(pid), Number(fields[1]));
      cpu.set(Number(pid), (Number(fields[11]) + Number(fields[12])) / TICKS);
    } catch {
      // the process ended meanwhile
    }
  }
  const ours = (pid) => {
    for (let p = pid; p > 1; p = parents.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...cpu].filter(([pid]) => pid !== process.pid && ours(pid)).reduce((s, [, c]) => s + c, 0);
}

const server = await startServer({ mounts: { '/bench-model/': path.dirname(model), '/build-wasm/': path.join(repoRoot, 'build-wasm') } });
const chromium = await launchChromium();
const out = { model: path.basename(model), backend: 'wasm', requests, max_tokens: tokens, hardware_threads: null, profiles: {} };
try {
  for (const profile of profiles) {
    const page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/engine.html`);
    await page.evaluate(async ({ url, profile }) => {
      const { createEngine } = await import('/js/src/index.mjs');
      window.engine = await createEngine({ model: url, backend: 'wasm', profile });
      await window.engine.completions.create({ prompt: 'Once', max_tokens: 2, temperature: 0 });  // warm
    }, { url: `/bench-model/${path.basename(model)}`, profile });
    const cpu0 = browserCpuSeconds();
    const wall0 = performance.now();
    const run = await page.evaluate(async ({ requests, tokens }) => {
      const rates = [];
      let generated = 0;
      for (let i = 0; i < requests; i++) {
        const r = await window.engine.completions.create({ prompt: 'Once upon a time', max_tokens: tokens, temperature: 0 });
        rates.push(r.usage.timings.decode_tokens_per_s);
        generated += r.usage.completion_tokens;
      }
      return { rates, generated, threads: window.engine.runtime.threads, contextSize: window.engine.contextSize, hardware: navigator.hardwareConcurrency };
    }, { requests, tokens });
    const wallS = (performance.now() - wall0) / 1000;
    const cpuS = browserCpuSeconds() - cpu0;
    out.hardware_threads = run.hardware;
    out.profiles[profile] = {
      threads: run.threads, context: run.contextSize, tokens: run.generated, wall_s: +wallS.toFixed(3),
      decode_tokens_per_s: +(run.rates.reduce((s, v) => s + v, 0) / run.rates.length).toFixed(1),
      cpu_s: +cpuS.toFixed(2), cpu_ms_per_token: +((cpuS * 1000) / run.generated).toFixed(2), cpu_s_per_s: +(cpuS / wallS).toFixed(3),
    };
    await page.evaluate(() => window.engine.unload());
    await page.close();
  }
} finally {
  await chromium.close();
  await server.close();
}
console.log(JSON.stringify(out));
