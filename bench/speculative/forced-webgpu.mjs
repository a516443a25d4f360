// Speculative decoding on WebGPU with FORCED acceptance, as one JSON object: the speed a target model would
// decode at if a draft's tokens were accepted at the rates given (0.5, 0.7, 0.9), against plain greedy decode.
//
//   node bench/speculative/forced-webgpu.mjs TARGET.gguf [--draft DRAFT.gguf] [--acceptance 0.5,0.7,0.9]
//        [--k 8] [--prompt-tokens 64] [--gen-tokens 128] [--seed 1] [--plan JSON]
//
// What is real and what is forced, per step: the draft model (when given) runs k single-token forward passes
// from the target's position (its cache rolled back as the target's is), the target verifies the k + 1
// positions in one call of the plan's verify list (the head over every position, the argmax of each row,
// k + 1 ids read back: what the engine's speculative step runs) — both on the GPU, timed. Which drafts the
// target keeps is drawn: each in turn with the given probability, up to the first miss. The draft length
// adapts as the core's does (runtime/speculative.h: start at 4, +2 after a step that kept all, -1
// otherwise, at most k).
//
// Each result's ceiling_one_step_verify is the most any speculative decoder could gain at that rate with
// these two models, were a verify call as cheap as one plain step (the draft's own steps still cost what
// they measured): a bound to read the measured speed-up against.
//
// `calls` profiles one forward call of n tokens (milliseconds, median of --call-reps, 9): through the verify list, and
// through the prefill list (64-token tiles: what a k + 1-token call ran before the verify list existed).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { bindTabllm } from '../../js/src/core/wasm.mjs';
import { GpuModel, nodeFileReader } from '../../js/src/gpu/model_runner.mjs';
import { requestNodeDevice } from '../../js/src/gpu/node_device.mjs';

const usage = 'usage: node bench/speculative/forced-webgpu.mjs TARGET.gguf [--draft DRAFT.gguf] [--acceptance 0.5,0.7,0.9] [--k 8] ' +
  '[--prompt-tokens 64] [--gen-tokens 128] [--seed 1] [--call-reps 9] [--plan JSON]';
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const targetPath = args.find((a, i) => !a.startsWith('--') && !(args[i - 1] ?? '').startsWith('--'));
const draftPath = option('draft', null);
const rates = option('acceptance', '0.5,0.7,0.9').split(',').map(Number);
const callReps = Number(option('call-reps', 9));
const planExtra = JSON.parse(option('plan', '{}'));  // more plan options for both models, e.g. '{"matvec_tokens": false}'
const kMax = Number(option('k', 8)), promptTokens = Number(option('prompt-tokens', 64)), genTokens = Number(option('gen-tokens', 128));
let seed = Number(option('seed', 1)) >>> 0;
if (!targetPath || rates.some((r) => !(r >= 0 && r <= 1)) || !(kMax >= 1 && kMax <= 15) || !(genTokens >= 1) || !(promptTokens >= 1) || !(callReps >= 1)) {
  console.error(usage);
  process.exit(2);
}

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const wasmDir = process.env.TABLLM_WASM_DIR ?? path.join(root, 'build-wasm');
const { default: createModule } = await import(pathToFileURL(path.join(wasmDir, 'tabllm-st.mjs')));
const tabllm = bindTabllm(await createModule());
const { adapter, device, limits } = await requestNodeDevice();
const contextSize = promptTokens + genTokens + kMax + 1;

async function load(file) {
  const reader = await nodeFileReader(file);
  try {
    const header = await tabllm.loadModelHeader((offset, size) => reader.read(offset, size), reader.size);
    return await GpuModel.load(header, device, reader, { limits, max_batch: Math.max(64, kMax + 1), verify_batch: kMax + 1, context_size: contextSize, ...planExtra });
  } finally {
    await reader.close();
  }
}
const target = await load(targetPath);
const draft = draftPath ? await load(draftPath) : null;
const vocab = Math.min(target.plan.n_vocab, draft?.plan.n_vocab ?? Infinity);
const random = () => {  // LCG: the same draws on every run
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const prompt = Array.from({ length: promptTokens }, () => Math.floor(random() * vocab));

// Both caches hold the prompt; returns the target's first token.
async function prefill() {
  target.pos = 0;
  const first = (await target.feed(prompt)).ids[0];
  if (draft) {
    draft.pos = 0;
    await draft.feed(prompt);
  }
  return first;
}

// Plain greedy decode tok/s of the target (or of the draft alone: what each drafted token costs).
async function plain(model = target) {
  let next = await prefill();
  const t = performance.now();
  let generated = 0;
  for await (const token of model.greedyStream([next])) {
    next = token;
    if (++generated === genTokens) break;
  }
  return genTokens / ((performance.now() - t) / 1000);
}

// The most any speculative decoder could gain at this acceptance, with a verify call as cheap as one plain
// step: the best k of E[tokens a step] / (k drafted steps + 1 step), in target steps; `draftCost` is a
// drafted token's cost in target steps (0 for free drafts). E = (1 - a^(k+1)) / (1 - a).
function ceiling(rate, draftCost) {
  let best = 0;
  for (let k = 1; k <= kMax; k++) {
    const tokens = rate < 1 ? (1 - rate ** (k + 1)) / (1 - rate) : k + 1;
    best = Math.max(best, tokens / (k * draftCost + 1));
  }
  return +best.toFixed(3);
}

async function forced(rate) {
  let last = await prefill();
  let k = Math.min(4, kMax), generated = 0, drafted = 0, accepted = 0, passes = 0;
  const t = performance.now();
  while (generated < genTokens) {
    const pos = promptTokens + generated;
    const n = Math.min(k, genTokens - generated - 1);
    if (n < 1) {  // the last token: a plain step
      target.pos = pos;
      last = (await target.feed([last])).ids[0];
      generated++;
      passes++;
      continue;
    }
    const drafts = [];
    if (draft) {
      draft.pos = pos;
      for await (const token of draft.greedyStream([last], { limit: n })) drafts.push(token);
    } else {
      for (let i = 0; i < n; i++) drafts.push(Math.floor(random() * vocab));
    }
    const { ids } = await target.executor.verify([last, ...drafts], pos);
    passes++;
    let kept = 0;
    while (kept < n && random() < rate) kept++;
    drafted += n;
    accepted += kept;
    generated += kept + 1;
    last = ids[kept];  // the model's token after the kept drafts
    k = kept === n ? Math.min(kMax, k + 2) : Math.max(1, k - 1);
  }
  const seconds = (performance.now() - t) / 1000;
  return { drafted, accepted, verify_passes: passes, tokens_per_s: generated / seconds };
}

// Milliseconds of one forward call of n tokens through `list` (the cache holds the prompt), median of callReps.
async function callMs(list, n) {
  const tokens = Array.from({ length: n }, (_, i) => prompt[i % promptTokens]);
  const times = [];
  for (let rep = 0; rep <= callReps; rep++) {
    const t = performance.now();
    if (list === 'verify') await target.executor.verify(tokens, promptTokens);
    else await target.executor.forward(tokens, promptTokens, { list });
    if (rep > 0) times.push(performance.now() - t);  // the first compiles on some drivers
  }
  return +times.sort((a, b) => a - b)[Math.floor(times.length / 2)].toFixed(3);
}

await plain();  // warm-up: pipelines compile lazily on some drivers
const base = await plain();
const draftTokensPerS = draft ? await plain(draft) : null;
const draftCost = draft ? base / draftTokensPerS : 0;  // a drafted token, in target steps
const calls = [];
for (const n of [...new Set([1, 2, Math.min(5, kMax + 1), kMax + 1])]) {
  calls.push({ tokens: n, verify_ms: await callMs('verify', n), prefill_list_ms: n > 1 ? await callMs('prefill', n) : null, decode_list_ms: n === 1 ? await callMs('decode', 1) : null });
}
const results = [];
for (const rate of rates) {
  const r = await forced(rate);
  results.push({
    forced_acceptance: rate, measured_acceptance: +(r.accepted / r.drafted).toFixed(3), decode_tokens_per_s: +r.tokens_per_s.toFixed(2),
    speedup: +(r.tokens_per_s / base).toFixed(3), drafted: r.drafted, accepted: r.accepted, verify_passes: r.verify_passes,
    ceiling_one_step_verify: ceiling(rate, draftCost),
  });
}
const info = adapter.info ?? {};
console.log(JSON.stringify({
  bench: 'speculative-forced-acceptance', backend: 'webgpu',
  label: 'forced acceptance: draft and verification passes run on the GPU; which drafts are kept is drawn at the given rate',
  target: path.basename(targetPath), draft: draftPath ? path.basename(draftPath) : null,
  adapter: `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''}`.trim(),
  prompt_tokens: promptTokens, gen_tokens: genTokens, k_max: kMax, plain_decode_tokens_per_s: +base.toFixed(2),
  draft_decode_tokens_per_s: draftTokensPerS && +draftTokensPerS.toFixed(2), draft_token_cost_in_target_steps: +draftCost.toFixed(3),
  calls, results,
}));
target.destroy();
draft?.destroy();
device.destroy?.();
