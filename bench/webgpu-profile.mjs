// Where a WebGPU decode step spends its time, as one JSON object: the submit + readback round trip, a
// decode step with and without waiting for its result, the GPU time of each kind of dispatch (each
// dispatch of layer 0, plus embed, output, sample and sample_masked — the latter with every token
// allowed, its slowest case — repeated back to back in one pass), and, where the adapter has
// `timestamp-query`, GPU timestamps of whole decode steps: every dispatch of the step timed where it runs
// (`gpu_step`: µs, dispatches and weight bytes per token for each kind, and the bandwidth they reach).
// With --verify N (and a plan whose verify_batch is N, which it then gets), the same timestamps of a verify
// call of N tokens (`gpu_verify`: speculative decoding's k + 1 positions) and its wall clock.
//   node bench/webgpu-profile.mjs MODEL.gguf [--context 640] [--reps 200] [--verify N] [--plan JSON]
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { bindTabllm } from '../js/src/core/wasm.mjs';
import { dispatchKind } from '../js/src/gpu/dispatch_timer.mjs';
import { GpuModel, nodeFileReader } from '../js/src/gpu/model_runner.mjs';
import { requestNodeDevice } from '../js/src/gpu/node_device.mjs';

const planIndex = process.argv.indexOf('--plan');
const planExtra = planIndex >= 0 ? JSON.parse(process.argv[planIndex + 1]) : {};  // more plan options, e.g. '{"matvec_wg": 128}'
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const modelPath = args.find((a, i) => !a.startsWith('--') && !(args[i - 1] ?? '').startsWith('--'));
if (!modelPath) {
  console.error('usage: node bench/webgpu-profile.mjs MODEL.gguf [--context 640] [--reps 200]');
  process.exit(2);
}
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const context = option('context', 640), reps = option('reps', 200), verifyTokens = option('verify', 0);

const wasmDir = process.env.TABLLM_WASM_DIR ?? path.join(root, 'build-wasm');
const { default: createModule } = await import(pathToFileURL(path.join(wasmDir, 'tabllm-st.mjs')));
const tabllm = bindTabllm(await createModule());
const { adapter, device, limits } = await requestNodeDevice({
  features: ['timestamp-query'], dawnFlags: ['disable-dawn-features=timestamp_quantization'],
});
const file = await nodeFileReader(modelPath);
const header = await tabllm.loadModelHeader((offset, size) => file.read(offset, size), file.size);
const model = await GpuModel.load(header, device, file, { limits, max_batch: 128, context_size: context + 64, ...(verifyTokens > 0 ? { verify_batch: verifyTokens } : {}), ...planExtra });
await file.close();
const ex = model.executor;

// Fill the cache so attention reads `context` positions, as decoding at that length does.
const prompt = Array.from({ length: context }, (_, i) => (i * 7919) % model.plan.n_vocab);
await model.feed(prompt);
ex.writeMask(new Uint32Array(Math.ceil(model.plan.n_vocab / 32)).fill(0xffffffff));

const time = async (fn, n) => {
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return (performance.now() - t) / n;
};

// 1. Submit + readback of a few bytes, nothing computed.
const probe = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const src = ex.buffers[model.plan.result_buffer];
const roundtripMs = await time(async () => {
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, probe, 0, 16);
  device.queue.submit([enc.finish()]);
  await probe.mapAsync(GPUMapMode.READ);
  probe.unmap();
}, 200);

// 2. Decode steps at a fixed position (the cache is not advanced, so every step costs the same).
const pos = context;
const withReadbackMs = await time(() => ex.forward([1], pos), 50);
const pipelinedMs = await time(async (i) => {
  ex.encode([1], pos);
  if (i % 50 === 49) await device.queue.onSubmittedWorkDone();
}, 100);

// 3. GPU timestamps of whole decode steps: each dispatch in a compute pass of its own, timed at the pass's
// start and end, so each layer's products read their own weights (not a matrix repetition keeps in the L2).
// `listName` over n tokens (the step buffer must hold them: the list's last call).
async function timestampSteps(steps, listName = 'decode', n = 1) {
  if (!device.features.has('timestamp-query')) return null;
  const plan = model.plan[listName];
  const runs = plan.map((d, i) => i).filter((i) => plan[i].label !== 'sample_masked');
  const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * runs.length });
  const resolved = device.createBuffer({ size: 16 * runs.length, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: 16 * runs.length, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const kinds = {};
  for (const i of runs) {
    const kind = dispatchKind(plan[i].label);
    // Matrix products read their weight bindings whole (embed reads one row of its binding).
    const matmul = /^mat(mul|vec)/.test(model.plan.pipelines[plan[i].pipeline].key);
    const weightBytes = matmul ? plan[i].bindings.filter(([, buffer]) => model.plan.buffers[buffer].role === 'weights').reduce((s, b) => s + b[3], 0) : 0;
    kinds[kind] ??= { dispatches: 0, us: 0, weight_bytes: 0 };
    kinds[kind].dispatches++;
    kinds[kind].weight_bytes += weightBytes;
  }
  for (let step = 0; step < steps; step++) {
    const enc = device.createCommandEncoder();
    runs.forEach((i, k) => {
      const d = ex.lists[listName].all[i];
      const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * k, endOfPassWriteIndex: 2 * k + 1 } });
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.groups[0], d.groups[1], d.tile ? Math.ceil(n / d.tile) : d.groups[2]);
      pass.end();
    });
    enc.resolveQuerySet(querySet, 0, 2 * runs.length, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, read, 0, 16 * runs.length);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    runs.forEach((i, k) => { kinds[dispatchKind(plan[i].label)].us += Number(t[2 * k + 1] - t[2 * k]) / 1000 / steps; });
  }
  querySet.destroy();
  resolved.destroy();
  read.destroy();
  let total = 0;
  for (const k of Object.values(kinds)) {
    k.us = +k.us.toFixed(1);
    total += k.us;
    if (k.weight_bytes > 0) k.weight_gb_per_s = +(k.weight_bytes / k.us / 1000).toFixed(0);
  }
  return { us_per_token: +total.toFixed(1), kinds };
}
const gpuStep = await timestampSteps(20);
// A verify call of verifyTokens at `pos`: wall clock (ids read back) and timestamps by kind.
let gpuVerify = null;
if (verifyTokens > 0) {
  const tokens = Array.from({ length: verifyTokens }, (_, i) => prompt[i]);
  await ex.verify(tokens, pos);
  const wallMs = await time(() => ex.verify(tokens, pos), 50);
  gpuVerify = { tokens: verifyTokens, verify_call_ms: +wallMs.toFixed(3), ...await timestampSteps(20, 'verify', verifyTokens) };
}

// 4. GPU time per dispatch: the dispatch alone, `reps` times in one pass, for the step now in the step
// buffer (one token at `pos` for the decode list; max_batch tokens for the prefill list).
async function timeDispatches(listName, n) {
  const list = ex.lists[listName];
  const labels = model.plan[listName].map((d) => d.label);
  const out = {};
  for (const [i, label] of labels.entries()) {
    if (/^blk\.(?!0\.)/.test(label)) continue;
    const d = list.all[i];
    const run = async (count) => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      for (let r = 0; r < count; r++) pass.dispatchWorkgroups(d.groups[0], d.groups[1], d.tile ? Math.ceil(n / d.tile) : d.groups[2]);
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    };
    await run(3);
    const t = performance.now();
    await run(reps);
    const t1 = performance.now();
    await run(1);
    const t2 = performance.now();
    // Subtract the cost of one submit-and-wait so the figure is the dispatches' own.
    out[label] = +(((t1 - t) - (t2 - t1)) * 1000 / (reps - 1)).toFixed(2);
  }
  return out;
}
const labels = model.plan.decode.map((d) => d.label);
const perDispatch = await timeDispatches('decode', 1);
const B = model.plan.max_batch;
await ex.forward(prompt.slice(0, B), 0);  // the step buffer now holds a full prefill batch at position 0
const prefillPerDispatch = await timeDispatches('prefill', B);
const layers = labels.filter((l) => /^blk\.\d+\.attention$/.test(l)).length;
const layerUs = Object.entries(perDispatch).filter(([l]) => l.startsWith('blk.0.')).reduce((s, [, v]) => s + v, 0);
// An unconstrained step: sample_masked runs instead of sample only under structured output.
const otherUs = Object.entries(perDispatch).filter(([l]) => !l.startsWith('blk.') && l !== 'sample_masked').reduce((s, [, v]) => s + v, 0);
const info = adapter.info ?? {};
console.log(JSON.stringify({
  model: path.basename(modelPath), adapter: `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''}`.trim(),
  context, dispatches_per_token: ex.dispatchCount('decode'),
  roundtrip_ms: +roundtripMs.toFixed(3), decode_step_with_readback_ms: +withReadbackMs.toFixed(3), decode_step_pipelined_ms: +pipelinedMs.toFixed(3),
  estimated_step_ms: +((layerUs * layers + otherUs) / 1000).toFixed(3), per_dispatch_us: perDispatch,
  gpu_step: gpuStep, gpu_verify: gpuVerify, prefill_batch: B, prefill_per_dispatch_us: prefillPerDispatch,
}));
model.destroy();
device.destroy();
process.exit(0);
