// Load on `tabllm serve`, as one JSON object on stdout:
//   node bench/serve-load.mjs [MODEL.gguf] [--clients 32] [--requests 4] [--max-tokens 32] [--queue 16]
//                             [--threads 1] [--backend wasm] [--url URL]
// Starts the CLI's server on a free port in its own process (or uses --url), then `--clients` clients each
// send `--requests` streamed chat completions one after another (a refused one is counted, not retried).
// Reports requests/s and generated tokens/s over the wall time, TTFT (to the first text, as the client sees
// it) and whole-request latency p50/p90 of the answered requests, and how many got 429.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const usage = 'usage: node bench/serve-load.mjs [MODEL.gguf] [--clients 32] [--requests 4] [--max-tokens 32] [--queue 16] [--threads 1] [--backend wasm] [--url URL]';
const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    clients: { type: 'string', default: '32' }, requests: { type: 'string', default: '4' }, 'max-tokens': { type: 'string', default: '32' },
    queue: { type: 'string', default: '16' }, threads: { type: 'string', default: '1' }, backend: { type: 'string', default: 'wasm' }, url: { type: 'string' },
  },
});
if (positionals.length > 1) {
  console.error(usage);
  process.exit(2);
}
const model = positionals[0] ?? path.join(root, 'build/models/stories260K-f32.gguf');
const clients = Number(o.clients);
const perClient = Number(o.requests);
const maxTokens = Number(o['max-tokens']);
if (!o.url && !fs.existsSync(model)) {
  console.error(`${model} is missing: run scripts/setup.sh, or give a model\n${usage}`);
  process.exit(2);
}

const PROMPTS = ['Once upon a time', 'Lily and her dog', 'The little bird', 'Tom had a red ball', 'One day, a cat', 'The sun was hot'];

// The server: the CLI in its own process, so the clients do not share its event loop.
let child = null;
let base = o.url?.replace(/\/+$/, '');
if (!base) {
  child = spawn(process.execPath, [path.join(root, 'js/bin/tabllm.mjs'), 'serve', '-m', model, '--port', '0', '--queue', o.queue, '--threads', o.threads,
    '--backend', o.backend, '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  base = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const url = /listening on (http:\/\/\S+)/.exec(out);
      if (url && /ready:/.test(out)) resolve(url[1]);
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
  });
}

const percentile = (values, p) => {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(1));
};

async function one(prompt) {
  const started = performance.now();
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (r.status === 429) {
    await r.arrayBuffer();
    return { refused: true };
  }
  if (r.status !== 200) return { error: `${r.status} ${await r.text()}` };
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let ttft = null;
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (ttft === null && /"content":"[^"]/.test(text)) ttft = performance.now() - started;
  }
  const usage = [...text.matchAll(/"usage":(\{"prompt_tokens".*?\}\})/g)].map((m) => JSON.parse(m[1])).at(-1);
  if (!text.endsWith('data: [DONE]\n\n') || !usage) return { error: 'the stream did not end with usage and [DONE]' };
  return { ttft, ms: performance.now() - started, tokens: usage.completion_tokens, decode: usage.timings.decode_tokens_per_s };
}

try {
  for (const p of PROMPTS.slice(0, 2)) await one(p);  // warm-up
  const results = [];
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; i < perClient; i++) results.push(await one(PROMPTS[(c + i) % PROMPTS.length]));
  }));
  const wall = (performance.now() - started) / 1000;
  const answered = results.filter((r) => r.ms !== undefined);
  const health = await (await fetch(`${base}/health`)).json().catch(() => null);
  console.log(JSON.stringify({
    model: o.url ? health?.model : path.basename(model),
    backend: health?.backend,
    threads: o.url ? undefined : Number(o.threads),
    clients,
    requests_per_client: perClient,
    max_tokens: maxTokens,
    queue: health?.queue?.limit,
    answered: answered.length,
    refused_429: results.filter((r) => r.refused).length,
    errors: results.filter((r) => r.error).length,
    wall_s: Number(wall.toFixed(2)),
    requests_per_s: Number((answered.length / wall).toFixed(2)),
    completion_tokens_per_s: Number((answered.reduce((n, r) => n + r.tokens, 0) / wall).toFixed(1)),
    ttft_ms: { p50: percentile(answered.map((r) => r.ttft), 50), p90: percentile(answered.map((r) => r.ttft), 90) },
    latency_ms: { p50: percentile(answered.map((r) => r.ms), 50), p90: percentile(answered.map((r) => r.ms), 90) },
    engine_decode_tokens_per_s_p50: percentile(answered.map((r) => r.decode), 50),
  }));
  const firstError = results.find((r) => r.error);
  if (firstError) console.error(`first error: ${firstError.error}`);
} finally {
  if (child) {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.on('exit', resolve));
  }
}
