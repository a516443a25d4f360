// The cloud fallback's hand-off against a running llama.cpp `llama-server` (or vLLM, or another `tabllm
// serve`), outside CI: the same GGUF runs here (tabllm) and there, and a greedy reply is handed over after
// `--after` local tokens. One JSON object on stdout.
//
//   llama-server -m MODEL.gguf --port 8080 -c 4096          # elsewhere; any OpenAI-compatible server will do
//   node bench/cloud-llama-server.mjs http://127.0.0.1:8080 [-m MODEL.gguf] [--prompt TEXT] [--chat]
//        [--after 20] [-n 64] [--handoff completions|prefill] [--ignore-eos] [--api-key KEY] [--backend wasm|webgpu|auto]
//
// Runs three greedy replies (temperature 0) to the same request: the server's own (sent to it directly), the
// local model's own (no hand-off), and the hand-off (local, then the server continues the text: the prompt,
// or the locally rendered chat, and the text so far to its /v1/completions; --handoff prefill sends a chat
// as messages plus an assistant message instead, which llama-server continues). Reports whether the hand-off
// reply equals the server's and the local one (two engines agree token for token only while their logits
// pick the same argmax: a difference far from the hand-off point is numerics, not the hand-off), the first
// difference, the chunks' sources, usage.x_tabllm, what was sent (the log entry), and timings: the local
// time to first token, the hand-off's latency (from the last local text to the first remote text) and the
// whole reply. The model defaults to stories260K (build/models/stories260K-f32.gguf): give llama-server the
// same file.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { createEngine } from '../js/src/index.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const usage = 'usage: node bench/cloud-llama-server.mjs SERVER_URL [-m MODEL.gguf] [--prompt TEXT] [--chat] [--after 20] [-n 64] ' +
  '[--handoff completions|prefill] [--ignore-eos] [--api-key KEY] [--backend wasm|webgpu|auto]';
const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', short: 'm', default: path.join(root, 'build/models/stories260K-f32.gguf') },
    prompt: { type: 'string', default: 'Once upon a time' },
    chat: { type: 'boolean', default: false },
    after: { type: 'string', default: '20' },
    n: { type: 'string', short: 'n', default: '64' },
    handoff: { type: 'string', default: 'completions' },
    'ignore-eos': { type: 'boolean', default: false },
    'api-key': { type: 'string', default: process.env.CLOUD_API_KEY },
    backend: { type: 'string', default: 'wasm' },
  },
});
if (positionals.length !== 1 || !['completions', 'prefill'].includes(o.handoff)) {
  console.error(usage);
  process.exit(2);
}
if (!fs.existsSync(o.model)) {
  console.error(`${o.model} is missing: run scripts/setup.sh, or give the GGUF the server runs with -m\n${usage}`);
  process.exit(2);
}
const base = positionals[0].replace(/\/+$/, '').replace(/\/v1$/, '');
const after = Number(o.after);
const maxTokens = Number(o.n);
const headers = { 'content-type': 'application/json', ...(o['api-key'] ? { authorization: `Bearer ${o['api-key']}` } : {}) };

// The server's model, which also says it is there.
let remoteModel;
try {
  const r = await fetch(`${base}/v1/models`, { headers });
  if (!r.ok) throw new Error(`GET /v1/models: HTTP ${r.status} ${await r.text()}`);
  remoteModel = (await r.json()).data?.[0]?.id ?? null;
} catch (e) {
  console.error(`no OpenAI-compatible server answers at ${base} (${e.cause?.code ?? e.message}): start llama-server first\n${usage}`);
  process.exit(1);
}

let handOff = false;  // the policy hands off only in the hand-off run
const engine = await createEngine({
  model: o.model,
  backend: o.backend,
  cloud: {
    endpoint: `${base}/v1`, apiKey: o['api-key'], consent: true,  // running this script is the consent
    policy: { chatHandoff: o.handoff, route: (request, stats) => (handOff && stats.phase === 'generating' && stats.tokens >= after ? 'remote' : 'local') },
  },
});

const info = engine.modelInfo;
const logitBias = o['ignore-eos'] ? { [info.eos]: -100, ...(info.bos !== info.eos ? { [info.bos]: -100 } : {}) } : undefined;
const request = {
  ...(o.chat ? { messages: [{ role: 'user', content: o.prompt }] } : { prompt: o.prompt }),
  temperature: 0, max_tokens: maxTokens, ...(logitBias ? { logit_bias: logitBias } : {}),
};
const api = o.chat ? engine.chat.completions : engine.completions;
const piece = (c) => c.choices[0]?.delta?.content ?? c.choices[0]?.text ?? '';

// The server's own greedy reply.
const remoteStart = performance.now();
const direct = await fetch(`${base}/v1/${o.chat ? 'chat/completions' : 'completions'}`, {
  method: 'POST', headers, body: JSON.stringify({ ...request, ...(remoteModel ? { model: remoteModel } : {}) }),
});
if (!direct.ok) {
  console.error(`the server refused the request: HTTP ${direct.status} ${await direct.text()}`);
  await engine.unload();
  process.exit(1);
}
const directBody = await direct.json();
const remoteText = o.chat ? directBody.choices[0].message.content : directBody.choices[0].text;
const remoteMs = performance.now() - remoteStart;

// The local model's own.
const local = await api.create(request);
const localText = o.chat ? local.choices[0].message.content : local.choices[0].text;

// The hand-off.
handOff = true;
const started = performance.now();
let firstText = null;
let lastLocal = null;
let firstRemote = null;
const chunks = [];
for await (const c of await api.create({ ...request, stream: true, stream_options: { include_usage: true } })) {
  const now = performance.now();
  chunks.push(c);
  if (!piece(c)) continue;
  firstText ??= now;
  if (c.x_tabllm?.source === 'local') lastLocal = now;
  if (c.x_tabllm?.source === 'remote') firstRemote ??= now;
}
const total = performance.now() - started;
const text = chunks.map(piece).join('');
const runs = [];
for (const c of chunks) {
  if (!piece(c)) continue;
  if (runs.at(-1)?.[0] === c.x_tabllm?.source) runs.at(-1)[1]++;
  else runs.push([c.x_tabllm?.source, 1]);
}
const last = chunks.at(-1);
const entry = engine.cloud.log().find((e) => e.action === 'handoff') ?? null;

function firstDifference(expected, got) {
  if (expected === got) return null;
  let i = 0;
  while (i < expected.length && i < got.length && expected[i] === got[i]) i++;
  return { at: i, expected: expected.slice(i, i + 40), got: got.slice(i, i + 40) };
}

const round = (ms) => (ms === null ? null : Number(ms.toFixed(1)));
console.log(JSON.stringify({
  server: base,
  remote_model: remoteModel,
  local_model: path.basename(o.model),
  backend: engine.backend,
  request: o.chat ? 'chat' : 'completion',
  handoff: o.handoff,
  after_tokens: after,
  max_tokens: maxTokens,
  equal_to_remote: text === remoteText,
  equal_to_local: text === localText,
  local_equals_remote: localText === remoteText,
  first_difference_from_remote: firstDifference(remoteText, text),
  sources: runs,
  usage: last?.usage?.x_tabllm ?? null,
  x_tabllm: last?.x_tabllm ?? null,
  sent: entry && { endpoint: entry.endpoint, body: entry.body, status: entry.status, http_status: entry.http_status, ms_to_answer: entry.ms },
  timings: {
    local_ttft_ms: round(firstText && firstText - started),
    handoff_ms: round(lastLocal && firstRemote ? firstRemote - lastLocal : null),
    total_ms: round(total),
    remote_alone_ms: round(remoteMs),
  },
  texts: { handoff: text, remote: remoteText, local: localText },
}, null, 2));
await engine.unload();
