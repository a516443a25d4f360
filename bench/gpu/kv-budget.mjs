// Paged KV on WebGPU (docs/long-context.md, "Paged KV under a kvBudget"): decode at a long context with the
// whole KV cache on the GPU against a kvBudget's window, as one JSON object.
//
//   node bench/gpu/kv-budget.mjs MODEL.gguf [--context 32768] [--kv-budget 134217728] [--decode 128] [--gen 4200]
//
// - resident: the GPU's cache holds the whole context; decode of `decode` greedy tokens at its end.
// - window: the cache the budget holds (whole pages of 256); decode of `decode` tokens at its end, no shift.
//   Both caches are filled by copying the rows of a real 256-token prefill (a prefill of 32K positions
//   would only measure the prefill), as bench/kv_budget does on the CPU.
// - paged: a real request through the paged runner: a prompt that fills the window, then `gen` greedy
//   tokens, each full window shifting and its dropped rows read back from the GPU and written as KV pages
//   (files, sealed: the engine's defaults); its decode rate includes those shifts.
import path from 'node:path';

import { nodeFileReader } from '../../js/src/gpu/model_runner.mjs';
import { requestNodeDevice } from '../../js/src/gpu/node_device.mjs';
import { WebgpuRunner } from '../../js/src/runners/webgpu_runner.mjs';

const args = process.argv.slice(2);
const modelPath = args.find((a, i) => !a.startsWith('--') && !(args[i - 1] ?? '').startsWith('--'));
if (!modelPath) {
  console.error('usage: node bench/gpu/kv-budget.mjs MODEL.gguf [--context 32768] [--kv-budget 134217728] [--decode 128] [--gen 4200]');
  process.exit(2);
}
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const context = option('context', 32768), budget = option('kv-budget', 128 * 2 ** 20);
const decode = option('decode', 128), gen = option('gen', 4200);
const PAGE = 256;

const { device, limits } = await requestNodeDevice();
const file = await nodeFileReader(modelPath);

async function runner(options) {
  return WebgpuRunner.create(file, { device, limits, contextSize: context, ...options });
}

// Fills the cache up to `end` (a multiple of 256) with copies of a 256-token prefill's rows, then times
// `decode` greedy tokens from there.
async function decodeAtEnd(r, end) {
  const gpu = r.gpu;
  const tokens = Array.from({ length: PAGE }, (_, i) => 1000 + ((i * 37) % 5000));
  gpu.pos = 0;
  await gpu.feed(tokens);
  const rows = await gpu.executor.readKvRows(0, PAGE);
  for (let p = PAGE; p < end; p += PAGE) gpu.executor.writeKvRows(p, PAGE, rows);
  await gpu.executor.settle();
  gpu.pos = end;
  let n = 0;
  const t0 = performance.now();
  for await (const _ of gpu.greedyStream([tokens[0]])) if (++n === decode) break;
  const seconds = (performance.now() - t0) / 1000;
  return { decoded_at: end, tokens_per_s: +(decode / seconds).toFixed(2) };
}

const gpuBytes = (r) => ({ gpu_bytes: r.gpu.plan.total_bytes, kv_bytes: r.gpu.plan.context_size * r.gpu.plan.kv_bytes_per_token });

const out = { model: path.basename(modelPath), context, kv_budget: budget };
{
  const r = await runner({});
  out.kv_bytes_per_token = r.gpu.plan.kv_bytes_per_token;
  out.resident = { ...gpuBytes(r), ...(await decodeAtEnd(r, context - PAGE)) };
  await r.destroy();
}
{
  const r = await runner({ kvBudget: budget });
  out.window = { positions: r.window, ...gpuBytes(r), ...(await decodeAtEnd(r, r.window - PAGE)) };
  // A prompt just short of the window, so that the reply's shifts come early.
  const sentence = 'The quick brown fox jumps over the lazy dog while the river runs past the old mill. ';
  let prompt = sentence.repeat(Math.floor((r.window - 8) / r.tokenize(sentence, false).length));
  while (r.tokenize(prompt, true).length < r.window - 8) prompt += sentence;
  while (r.tokenize(prompt, true).length >= r.window - 8) prompt = prompt.slice(0, -8);
  const steps = r.run(prompt, { max_tokens: gen, temperature: 0, ignore_eos: true }, { wantTokens: false, shouldStop: () => false });
  let done;
  while (!(done = await steps.next()).done);
  const result = done.value.result;
  const stats = r.kvPagerStats();
  out.paged = {
    prompt_tokens: result.prompt_tokens,
    generated_tokens: result.generated_tokens,
    decode_tokens_per_s: +(result.generated_tokens / (result.decode_ms / 1000)).toFixed(2),
    context_shifts: result.context_shifts,
    pages_out: stats.pagesOut,
    bytes_out: stats.bytesOut,
    pages_out_per_token: +(stats.pagesOut / result.generated_tokens).toFixed(5),
    read_back_ms: +stats.readBackMs.toFixed(1),
    page_out_ms: +stats.pageOutMs.toFixed(1),
    failures: stats.failures,
    store: stats.store,
  };
  await r.destroy();
}
out.window_vs_resident = +(out.window.tokens_per_s / out.resident.tokens_per_s).toFixed(3);
out.paged_vs_resident = +(out.paged.decode_tokens_per_s / out.resident.tokens_per_s).toFixed(3);
await file.close();
device.destroy();
console.log(JSON.stringify(out));
process.exit(0);
