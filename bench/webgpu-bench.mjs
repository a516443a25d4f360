// WebGPU speed of a GGUF model in Node (Dawn): prefill of a synthetic prompt, then greedy decode with
// sampling on the GPU, as one JSON object. On a machine without a GPU it runs on SwiftShader.
//   node bench/webgpu-bench.mjs MODEL.gguf [--prompt-tokens 512] [--gen-tokens 128] [--max-batch 128] [--kv-type f16]
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { bindTabllm } from '../js/src/core/wasm.mjs';
import { GpuModel, nodeFileReader } from '../js/src/gpu/model_runner.mjs';
import { requestNodeDevice } from '../js/src/gpu/node_device.mjs';

const planIndex = process.argv.indexOf('--plan');
const planExtra = planIndex >= 0 ? JSON.parse(process.argv[planIndex + 1]) : {};  // more plan options, e.g. '{"matvec_wg": 128}'
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const usage = 'usage: node bench/webgpu-bench.mjs MODEL.gguf [--prompt-tokens 512] [--gen-tokens 128] [--max-batch 128] [--kv-type f16|q8_0|f32]';
const args = process.argv.slice(2);
const modelPath = args.find((a, i) => !a.startsWith('--') && !(args[i - 1] ?? '').startsWith('--'));
if (!modelPath) {
  console.error(usage);
  process.exit(2);
}
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const promptTokens = option('prompt-tokens', 512), genTokens = option('gen-tokens', 128), maxBatch = option('max-batch', 128);
const kvType = args.includes('--kv-type') ? args[args.indexOf('--kv-type') + 1] : 'f16';

const wasmDir = process.env.TABLLM_WASM_DIR ?? path.join(root, 'build-wasm');
const { default: createModule } = await import(pathToFileURL(path.join(wasmDir, 'tabllm-st.mjs')));
const tabllm = bindTabllm(await createModule());
const { adapter, device, limits } = await requestNodeDevice();
const file = await nodeFileReader(modelPath);
const header = await tabllm.loadModelHeader((offset, size) => file.read(offset, size), file.size);
const t0 = performance.now();
const model = await GpuModel.load(header, device, file, { limits, max_batch: maxBatch, context_size: promptTokens + genTokens, kv_type: kvType, ...planExtra });
await file.close();
const loadMs = performance.now() - t0;

const vocab = model.plan.n_vocab ?? 32000;
let s = 12345;
const prompt = Array.from({ length: promptTokens }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 8) % vocab);
// Warm-up (pipelines compiled lazily by some drivers), then the measured runs.
await model.feed(prompt.slice(0, Math.min(8, promptTokens)));
model.pos = 0;
let t = performance.now();
let next = (await model.feed(prompt)).ids[0];
const prefillMs = performance.now() - t;
// Decode as generation runs it: greedy on the GPU, each step submitted before the previous is read back.
t = performance.now();
let generated = 0;
for await (const token of model.greedyStream([next])) {
  next = token;
  if (++generated === genTokens) break;
}
const decodeMs = performance.now() - t;
const info = adapter.info ?? {};
console.log(JSON.stringify({
  model: path.basename(modelPath), backend: 'webgpu', adapter: `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''}`.trim(),
  prompt_tokens: promptTokens, gen_tokens: genTokens, max_batch: maxBatch, kv_type: model.plan.kv_type,
  prefill_tokens_per_s: +(promptTokens / (prefillMs / 1000)).toFixed(2), decode_tokens_per_s: +(genTokens / (decodeMs / 1000)).toFixed(2),
  decode_ms_per_token: +(decodeMs / genTokens).toFixed(3), dispatches_per_token: model.executor.dispatchCount('decode'),
  load_ms: Math.round(loadMs),
}));
model.destroy();
device.destroy();
process.exit(0);
