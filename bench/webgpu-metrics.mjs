// engine.metrics() on WebGPU in Node: greedy requests on one engine, then (1) the GPU time of each kind of
// dispatch from the engine's sampled timestamps (gpu/dispatch_timer.mjs) against the decode step the core
// measured (1000 / decode tokens/s), and (2) each energy profile as a request extension: tokens/s, CPU time
// per token (this process: the host side of WebGPU) and GPU busy time per token and per second of wall time
// (the GPU µs of the steps timed during that profile's request × its tokens). One JSON object.
//
//   node bench/webgpu-metrics.mjs MODEL.gguf [--prompt-tokens 128] [--tokens 128] [--profiles performance,balanced,saver]
import path from 'node:path';

import { createEngine } from '../js/src/index.mjs';
import { requestNodeDevice } from '../js/src/gpu/node_device.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const model = args.find((a, i) => !a.startsWith('--') && !(args[i - 1] ?? '').startsWith('--'));
if (!model) {
  console.error('usage: node bench/webgpu-metrics.mjs MODEL.gguf [--prompt-tokens 128] [--tokens 128] [--profiles performance,balanced,saver]');
  process.exit(2);
}
const promptTokens = Number(option('prompt-tokens', 128));
const tokens = Number(option('tokens', 128));
const profiles = option('profiles', 'performance,balanced,saver').split(',');

// Timestamps at full resolution (Dawn rounds them otherwise), so short dispatches are not read as 0.
const { adapter, device } = await requestNodeDevice({ dawnFlags: ['disable-dawn-features=timestamp_quantization'] });
const t0 = performance.now();
const engine = await createEngine({ model: path.resolve(model), backend: 'webgpu', device, contextSize: promptTokens + tokens + 64, maxBatch: 128 });
const loadS = (performance.now() - t0) / 1000;
// A prompt of about promptTokens tokens (the vocabulary's words; the text means nothing to a synthetic model).
const prompt = Array.from({ length: promptTokens }, (_, i) => ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'then'][i % 8]).join(' ');
const ask = (profile) => engine.completions.create({ prompt, max_tokens: tokens, temperature: 0, profile });

await ask('performance');  // warm: pipelines, first touches of the buffers
// The timer's running totals: GPU µs summed over the steps it timed.
const timed = async () => {
  await device.queue.onSubmittedWorkDone();  // the last timed step's timestamps are read back
  await new Promise((resolve) => setTimeout(resolve, 50));
  const { gpu } = await engine.metrics();
  return { steps: gpu.steps, us: gpu.step_us * gpu.steps };
};
const run = async (profile) => {
  const before = await timed();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const r = await ask(profile);
  const wallS = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const after = await timed();
  return { r, wallS, cpuS: (cpu.user + cpu.system) / 1e6, stepUs: (after.us - before.us) / (after.steps - before.steps) };
};
const perf = await run('performance');
const m = await engine.metrics();
const stepMs = 1000 / perf.r.usage.timings.decode_tokens_per_s;
const gpu = m.gpu;
const kernels = gpu.kinds ? Object.fromEntries(Object.entries(gpu.kinds).sort((a, b) => b[1].us_per_step - a[1].us_per_step)
  .map(([k, v]) => [k, { us: +v.us_per_step.toFixed(1), dispatches: v.dispatches }])) : null;

const byProfile = {};
for (const profile of profiles) {
  const { r, wallS, cpuS, stepUs } = profile === 'performance' ? perf : await run(profile);
  const generated = r.usage.completion_tokens;
  byProfile[profile] = {
    tokens: generated, wall_s: +wallS.toFixed(3), decode_tokens_per_s: +r.usage.timings.decode_tokens_per_s.toFixed(1),
    cpu_ms_per_token: +((cpuS * 1000) / generated).toFixed(3), cpu_s_per_s: +(cpuS / wallS).toFixed(3),
    gpu_busy_ms_per_token: +(stepUs / 1000).toFixed(3),
    gpu_busy_fraction: +((stepUs / 1e6) * (generated / wallS)).toFixed(3),
  };
}
const info = adapter.info ?? {};
console.log(JSON.stringify({
  model: path.basename(model), adapter: `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''}`.trim(), load_s: +loadS.toFixed(1),
  prompt_tokens: perf.r.usage.prompt_tokens, decode: {
    measured_step_ms: +stepMs.toFixed(3), timestamp_step_ms: +(gpu.step_us / 1000).toFixed(3),
    ratio: +(gpu.step_us / 1000 / stepMs).toFixed(3), source: gpu.source, steps_timed: gpu.steps, every: gpu.every,
  },
  kernels_us: kernels,
  metrics: { ttft_ms: m.ttft_ms, decode_tokens_per_s: m.decode_tokens_per_s, prefill_tokens_per_s: m.prefill_tokens_per_s, memory: m.memory },
  profiles: byProfile,
}));
await engine.unload();
device.destroy();
process.exit(0);
