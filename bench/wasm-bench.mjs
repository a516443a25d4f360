// Prefill and decode speed of the WebAssembly engine under Node, as one JSON object on stdout:
//   node bench/wasm-bench.mjs MODEL.gguf [--threads N] [--kernels simd|scalar] [--prompt-tokens 128]
//        [--gen-tokens 32] [--repetitions 3] [--single-threaded-build]
// Each repetition runs in a fresh session (no KV cache reuse) through the same generate path hosts use:
// greedy, end-of-sequence ignored. The best repetition counts; a short warm-up run comes first so that
// the WebAssembly code is fully compiled.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { bindTabllm } from '../js/src/core/wasm.mjs';

const usage = 'usage: node bench/wasm-bench.mjs MODEL.gguf [--threads N] [--kernels simd|scalar] [--prompt-tokens 128] ' +
  '[--gen-tokens 32] [--repetitions 3] [--single-threaded-build]';
const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    threads: { type: 'string' },
    kernels: { type: 'string', default: 'simd' },
    'prompt-tokens': { type: 'string', default: '128' },
    'gen-tokens': { type: 'string', default: '32' },
    repetitions: { type: 'string', default: '3' },
    'single-threaded-build': { type: 'boolean', default: false },
  },
});
const build = options['single-threaded-build'] ? 'tabllm-st' : 'tabllm';
options.threads ??= String(build === 'tabllm-st' ? 1 : os.availableParallelism());
if (positionals.length !== 1) {
  console.error(usage);
  process.exit(2);
}
const [threads, promptTokens, genTokens, repetitions] =
  ['threads', 'prompt-tokens', 'gen-tokens', 'repetitions'].map((name) => {
    const n = Number(options[name]);
    if (!Number.isInteger(n) || n < 1) {
      console.error(`--${name} must be a positive integer\n${usage}`);
      process.exit(2);
    }
    return n;
  });

const wasmDir = process.env.TABLLM_WASM_DIR ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../build-wasm');
const { default: createTabllmModule } = await import(pathToFileURL(path.join(wasmDir, `${build}.mjs`)));
const tabllm = bindTabllm(await createTabllmModule({ pthreadPoolSize: Math.max(1, threads - 1) }));

// Reads the file straight into the heap, 64 MB at a time.
function readFileInChunks(file) {
  return (write) => {
    const fd = fs.openSync(file, 'r');
    const buffer = Buffer.alloc(64 << 20);
    try {
      for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;) write(buffer.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  };
}

const fileBytes = fs.statSync(positionals[0]).size;
const loadStart = performance.now();
const model = await tabllm.loadModelStreaming(fileBytes, readFileInChunks(positionals[0]));
const loadMs = performance.now() - loadStart;
const modelBytes = tabllm.heapStats().in_use_bytes;
const info = model.info();

// A prompt of exactly `n` tokens (BOS included): plain words, since the content does not change the cost.
function promptOf(n) {
  const words = 'the quick brown fox jumps over the lazy dog while a small cat watches from the old garden wall'.split(' ');
  let text = words[0];
  for (let i = 1; model.tokenize(text).length < n; i++) text += ' ' + words[i % words.length];
  while (model.tokenize(text).length > n) text = text.slice(0, -1);
  return text;
}

async function run(prompt, maxTokens) {
  const session = model.createSession({ threads, kernels: options.kernels, contextSize: promptTokens + genTokens + 8 });
  const result = session.generate(prompt, { max_tokens: maxTokens, temperature: 0, ignore_eos: true });
  session.free();
  await new Promise((resolve) => setTimeout(resolve, 0));  // lets the freed session's workers return to the pool
  return result;
}

await run(promptOf(8), 4);
const prompt = promptOf(promptTokens);
let best = null;
for (let r = 0; r < repetitions; r++) {
  const result = await run(prompt, genTokens);
  best = {
    prefill: Math.max(best?.prefill ?? 0, result.prefill_tokens_per_s),
    decode: Math.max(best?.decode ?? 0, result.decode_tokens_per_s),
    ttft: Math.min(best?.ttft ?? Infinity, result.ttft_ms),
    prompt_tokens: result.prompt_tokens,
    generated_tokens: result.generated_tokens,
  };
}

const weights = Object.entries(info.tensor_types).sort((a, b) => b[1] - a[1])[0][0];
console.log(JSON.stringify({
  model: info.name,
  arch: info.arch,
  parameters: info.parameters,
  weights,
  backend: 'wasm',
  build: `${build}.mjs`,
  simd: tabllm.buildInfo().simd,
  kernels: options.kernels,
  threads,
  prompt_tokens: best.prompt_tokens,
  gen_tokens: best.generated_tokens,
  prefill_tokens_per_s: Number(best.prefill.toFixed(2)),
  decode_tokens_per_s: Number(best.decode.toFixed(2)),
  ttft_ms: Number(best.ttft.toFixed(1)),
  load_ms: Number(loadMs.toFixed(1)),
  file_bytes: fileBytes,
  in_use_after_load_bytes: modelBytes,  // the model in the heap, with what the module held before
  peak_heap_bytes: tabllm.heapStats().heap_bytes,  // the heap only grows: its size now is its peak
  node: process.version,
}));
model.free();
tabllm.shutdown();
