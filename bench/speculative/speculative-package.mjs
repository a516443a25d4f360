// Speculative decoding through the package, on WebAssembly or WebGPU: greedy decode speed without and with
// it (prompt-lookup, and self where the backend runs it: not WebGPU) per task of bench/speculative/tasks.json,
// as one JSON object (the fields of the native tabllm_bench_speculative: median decode tokens/s, speed-up,
// the draft's counts, same output).
//   node bench/speculative/speculative-package.mjs MODEL.gguf [--backend wasm|webgpu] [--tasks FILE] [--variant single|threaded]
//        [--threads N] [--reps 3] [--k 8] [--min-speedup X]
// --min-speedup: the requests' speculative.min_speedup (WebGPU's measured fallback to plain decoding; 0 measures
// speculation alone); by default the engine's.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createEngine } from '../../js/src/index.mjs';

const usage = 'usage: node bench/speculative/speculative-package.mjs MODEL.gguf [--backend wasm|webgpu] [--tasks FILE] [--variant single|threaded] ' +
  '[--threads N] [--reps 3] [--k 8] [--min-speedup X]';
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const modelPath = args.find((a, i) => !a.startsWith('--') && !(args[i - 1] ?? '').startsWith('--'));
const backend = option('backend', 'wasm');
if (!modelPath || !['wasm', 'webgpu'].includes(backend)) {
  console.error(usage);
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const tasks = JSON.parse(fs.readFileSync(option('tasks', path.join(here, 'tasks.json')), 'utf8'));
const variant = option('variant', 'single'), reps = Number(option('reps', 3)), k = Number(option('k', 8));
const threads = option('threads', undefined);
const minSpeedup = option('min-speedup', undefined);

const engine = await createEngine({ model: modelPath, backend, wasmVariant: variant, ...(threads ? { threads: Number(threads) } : {}) });
const methods = backend === 'webgpu' ? ['off', 'prompt-lookup'] : ['off', 'prompt-lookup', 'self'];
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const results = [];
const runtime = engine.runtime;
try {
  for (const [task, { prompt, max_tokens: maxTokens, response_format: format }] of Object.entries(tasks)) {
    let plainSpeed = 0, plainText = null;
    for (const method of methods) {
      const speeds = [];
      let last = null;
      for (let rep = 0; rep < reps; rep++) {
        const body = { prompt: prompt, max_tokens: maxTokens, temperature: 0,
          speculative: { method, k, ...(minSpeedup !== undefined && method !== 'off' ? { min_speedup: Number(minSpeedup) } : {}) } };
        if (format) body.response_format = format;
        // A fixed count, as the native bench's ignore_eos (stories260K's BOS and EOS); on WebGPU the bias would
        // send the logits rows back, so the greedy run there takes the GPU's argmax and may end early.
        else if (backend === 'wasm') body.logit_bias = { 1: -100, 2: -100 };
        last = await engine.completions.create(body);
        speeds.push(last.usage.timings.decode_tokens_per_s);
      }
      const speed = median(speeds);
      if (method === 'off') [plainSpeed, plainText] = [speed, last.choices[0].text];
      // Plain decoding reports no counts: one pass a token after the first.
      const s = last.usage.speculative ?? { drafted: 0, accepted: 0, acceptance_rate: 0, forward_passes: last.usage.completion_tokens - 1, draft_passes: 0 };
      results.push({ task, method, tokens: last.usage.completion_tokens, decode_tokens_per_s: speed, speedup: speed / plainSpeed,
        drafted: s.drafted, accepted: s.accepted, acceptance_rate: s.acceptance_rate, forward_passes: s.forward_passes, draft_passes: s.draft_passes,
        same_output: last.choices[0].text === plainText, fallback: s.fallback ?? null });
    }
  }
} finally {
  await engine.unload();
}
console.log(JSON.stringify({ bench: 'speculative', backend: backend === 'wasm' ? `wasm-${variant}` : 'webgpu', model: path.basename(modelPath), threads: runtime.threads, reps, results }));
