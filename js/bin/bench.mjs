// tabllm bench: prefill and decode speed on a synthetic prompt, as one JSON object on stdout (the native
// CLI's fields, plus the backend; on WebGPU also the adapter and the dispatches per token).
// WebGPU: the executor directly (js/src/gpu), prompt ids as the native bench draws them, greedy on the GPU.
// With a structured output option, also greedy decode through the engine's runner without and with the
// format (on a text prompt of about --prompt-tokens tokens, whose ids the executor's run takes too).
// wasm: the engine's session on a text prompt of about --prompt-tokens tokens (its API takes text), with
// end-of-sequence ignored, timed by the core.
import fs from 'node:fs';

import { capabilityReport, chooseBackend, requestWebgpuDevice } from '../src/capabilities.mjs';
import { nodeFileReader } from '../src/gpu/model_runner.mjs';
import { WebgpuRunner } from '../src/runners/webgpu_runner.mjs';
import { startWasm } from '../src/wasm_module.mjs';
import { ENGINE_OPTIONS, ENGINE_USAGE, UsageError, engineOptions, parseArgs } from './args.mjs';
import { FORMAT_FLAGS, FORMAT_OPTIONS, FORMAT_USAGE, responseFormat } from './output_format.mjs';

const LOAD_CHUNK = 64 << 20;  // bytes read at a time while a model streams into the WebAssembly heap

const USAGE = 'usage: node js/bin/tabllm.mjs bench -m MODEL [--prompt-tokens 512] [--gen-tokens 128] [--repetitions 1] [options]\n' +
  'with a structured output option (WebGPU): greedy decode without and with the format, and its overhead\n' + FORMAT_USAGE + ENGINE_USAGE;

export async function bench(argv) {
  const args = parseArgs(argv, ['prompt-tokens|p', 'gen-tokens|n', 'repetitions|r', ...FORMAT_OPTIONS, ...ENGINE_OPTIONS], FORMAT_FLAGS, USAGE);
  const options = engineOptions(args);
  const nPrompt = args.int('prompt-tokens', 512);
  const nGen = args.int('gen-tokens', 128);
  const reps = args.int('repetitions', 1);
  if (nPrompt < 1 || nGen < 1 || reps < 1) throw new UsageError('--prompt-tokens, --gen-tokens and --repetitions must be at least 1');
  if (!fs.existsSync(options.model)) throw new UsageError(`cannot open model ${options.model}: no such file`);
  const format = responseFormat(args);
  const choice = options.backend === 'wasm' ? { backend: 'wasm' } : chooseBackend(options.backend, await capabilityReport());
  if (format && choice.backend !== 'webgpu') throw new UsageError('a structured output option measures the WebGPU backend: pass --backend webgpu');
  const run = choice.backend === 'webgpu' ? benchWebgpu : benchWasm;
  const out = await run(options, nPrompt, nGen, reps, format);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function checkContext(nPrompt, nGen, context) {
  if (nPrompt + nGen > context) {
    throw new UsageError(`prompt + generated tokens (${nPrompt + nGen}) exceed the context (${context}); pass --ctx or fewer tokens`);
  }
}

// The weight type: the type most tensors have (f32 norms aside), as the file's name gives it.
function weightType(info) {
  const types = Object.entries(info.tensor_types ?? {}).sort((a, b) => b[1] - a[1]).map(([t]) => t);
  return types.find((t) => t !== 'f32') ?? types[0] ?? 'unknown';
}

// The native bench's prompt: a 64-bit LCG, token = (state >> 33) % vocab.
function syntheticPrompt(n, vocab) {
  const ids = new Array(n);
  let s = 0x9E3779B97F4A7C15n;
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < n; i++) {
    s = (s * 6364136223846793005n + 1442695040888963407n) & mask;
    ids[i] = Number((s >> 33n) % BigInt(vocab));
  }
  return ids;
}

async function benchWebgpu(options, nPrompt, nGen, reps, format) {
  const file = await nodeFileReader(options.model);
  let runner = null;
  let device = null;
  try {
    let adapter, limits;
    ({ adapter, device, limits } = await requestWebgpuDevice());
    runner = await WebgpuRunner.create(file, { contextSize: options.contextSize, kvType: options.kvType, device, limits });
    const { gpu, info } = runner;
    checkContext(nPrompt, nGen, runner.contextSize);
    // Under a format the session needs text: its tokens feed the unconstrained run too, so the cache rows
    // the session reuses hold what it expects.
    const text = format ? promptOfTokens(runner, nPrompt) : null;
    const prompt = text ? runner.tokenize(text, true) : syntheticPrompt(nPrompt, info.vocab);
    // Warm-up: some drivers compile a pipeline at its first use (prefill, decode, masked sampling).
    gpu.pos = 0;
    await gpu.feed(prompt.slice(0, 8));
    await gpu.feed(prompt.slice(0, 1));
    if (format) await gpu.feed(prompt.slice(0, 1), { mask: new Uint32Array(Math.ceil(info.vocab / 32)).fill(0xffffffff) });
    let bestPrefill = Infinity;
    let bestDecode = Infinity;
    let session = null;
    let constrained = null;
    for (let r = 0; r < reps; r++) {
      gpu.pos = 0;
      let t0 = performance.now();
      let next = (await gpu.feed(prompt)).ids[0];
      bestPrefill = Math.min(bestPrefill, (performance.now() - t0) / 1e3);
      // Decode as generation runs it: greedy on the GPU, each step submitted before the last is read back.
      t0 = performance.now();
      let generated = 0;
      for await (const token of gpu.greedyStream([next])) {
        next = token;
        if (++generated === nGen) break;
      }
      bestDecode = Math.min(bestDecode, (performance.now() - t0) / 1e3);
      if (!format) continue;
      session = fasterDecode(session, await sessionDecode(runner, text, nGen, { ignore_eos: true }));
      constrained = fasterDecode(constrained, await sessionDecode(runner, text, nGen, { response_format: format }));
    }
    const a = adapter.info ?? {};
    const out = {
      model: info.name, arch: info.arch, weights: weightType(info), backend: 'webgpu',
      adapter: [a.vendor, a.architecture, a.description].filter(Boolean).join(' '),
      prompt_tokens: prompt.length, gen_tokens: nGen, kv_type: gpu.plan.kv_type,
      prefill_tokens_per_s: round(prompt.length / bestPrefill, 2), decode_tokens_per_s: round(nGen / bestDecode, 2),
      prefill_ms: round(bestPrefill * 1e3, 1), decode_ms_per_token: round(bestDecode * 1e3 / nGen, 3),
      dispatches_per_token: gpu.executor.dispatchCount('decode'),
      dispatches_per_prefill_call: gpu.executor.dispatchCount('prefill'), prefill_batch: gpu.plan.max_batch,
    };
    if (format) Object.assign(out, constraintFigures(format, out.decode_ms_per_token, session, constrained));
    return out;
  } finally {
    await runner?.destroy();
    device?.destroy();
    await file.close();
  }
}

// Greedy decode of `nGen` tokens through the engine's WebGPU runner (the core's session), timed by the
// core: each generation's first token comes out of its prefill, the rest are decode steps. A generation
// that finishes early (a format completed) is followed by a fresh one on the same prompt, whose prefill
// is one token (the rest is cached) and is not timed, until `nGen` decode steps are done.
async function sessionDecode(runner, text, nGen, params) {
  let steps = 0;
  let ms = 0;
  let documents = 0;
  while (steps < nGen) {
    const run = runner.run(text, { ...params, temperature: 0, max_tokens: nGen - steps + 1 }, { wantTokens: false, shouldStop: () => false });
    let step;
    while (!(step = await run.next()).done);
    const { result } = step.value;
    documents++;
    if (result.generated_tokens < 2) throw new Error(`a generation under this format ends after ${result.generated_tokens} token(s): there is no decode to time`);
    steps += result.generated_tokens - 1;
    ms += result.decode_ms;
  }
  return { msPerToken: ms / steps, documents };
}

const fasterDecode = (best, run) => (!best || run.msPerToken < best.msPerToken ? run : best);

// The structured-output figures: unconstrained greedy through the session, constrained greedy, and the
// cost of the constraint over the GPU's own greedy loop (decode_ms_per_token) and over the session's.
function constraintFigures(format, gpuMsPerToken, session, constrained) {
  const pct = (ms, base) => round((ms / base - 1) * 100, 2);
  return {
    format: format.type,
    session_decode_tokens_per_s: round(1e3 / session.msPerToken, 2),
    constrained_decode_tokens_per_s: round(1e3 / constrained.msPerToken, 2),
    constrained_decode_ms_per_token: round(constrained.msPerToken, 3),
    constraint_overhead_pct: pct(constrained.msPerToken, gpuMsPerToken),
    constraint_overhead_vs_session_pct: pct(constrained.msPerToken, session.msPerToken),
    // More than one: the format completed before --gen-tokens, and fresh generations made up the count.
    constrained_documents: constrained.documents,
  };
}

// A text of about n tokens (BOS included): words added until the tokenizer counts n, or the most below.
function promptOfTokens(model, n) {
  const words = ['the', 'little', 'dog', 'ran', 'to', 'a', 'big', 'tree', 'and', 'saw', 'one', 'happy', 'bird', 'in', 'park'];
  let text = 'Once';
  let best = text;
  for (let i = 0; ; i++) {
    const candidate = `${text} ${words[i % words.length]}`;
    const count = model.tokenize(candidate, true).length;
    if (count > n) return best;
    text = best = candidate;
    if (count === n) return best;
  }
}

async function benchWasm(options, nPrompt, nGen, reps) {
  const wasm = await startWasm({ threads: options.threads });
  const file = await nodeFileReader(options.model);
  let model = null;
  try {
    // From the file straight into the heap, so the model is never held twice.
    model = await wasm.tabllm.loadModelStreaming(file.size, async (write) => {
      for (let at = 0; at < file.size; at += LOAD_CHUNK) write(await file.read(at, Math.min(LOAD_CHUNK, file.size - at)));
    });
    const info = model.info();
    const context = Math.min(options.contextSize || Math.min(info.context, 4096), info.context);
    checkContext(nPrompt, nGen, context);
    const prompt = promptOfTokens(model, nPrompt);
    const promptTokens = model.tokenize(prompt, true).length;
    let best = null;
    for (let r = 0; r < reps; r++) {
      // A fresh session per repetition: a session reuses its cached prompt.
      const session = model.createSession({ threads: wasm.threads, contextSize: context, kvType: options.kvType });
      try {
        const result = session.generate(prompt, { max_tokens: nGen, temperature: 0, ignore_eos: true });
        if (!best || result.prefill_ms + result.decode_ms < best.prefill_ms + best.decode_ms) best = result;
      } finally {
        session.free();
      }
    }
    const decoded = best.generated_tokens - 1;  // the first token comes out of the prefill
    return {
      model: info.name, arch: info.arch, weights: weightType(info), backend: 'wasm', kernels: `wasm ${wasm.variant} simd128`, threads: wasm.threads,
      prompt_tokens: promptTokens, gen_tokens: best.generated_tokens, kv_type: options.kvType ?? 'f16',
      prefill_tokens_per_s: round(best.prefill_tokens_per_s, 2), decode_tokens_per_s: round(best.decode_tokens_per_s, 2),
      prefill_ms: round(best.prefill_ms, 1), decode_ms_per_token: round(best.decode_ms / Math.max(1, decoded), 3),
    };
  } finally {
    await file.close();
    model?.free();
    wasm.tabllm.shutdown();
  }
}

const round = (v, digits) => Number(v.toFixed(digits));
