// tabllm generate: continue a prompt. stdout carries only the generated text; timings go to stderr
// (the native CLI's output, plus the backend). Runs on createEngine (js/src/index.mjs).
import fs from 'node:fs';

import { createEngine } from '../src/index.mjs';
import { ENGINE_OPTIONS, ENGINE_USAGE, UsageError, engineOptions, parseArgs } from './args.mjs';
import { FORMAT_FLAGS, FORMAT_OPTIONS, FORMAT_USAGE, responseFormat } from './output_format.mjs';

const USAGE = 'usage: node js/bin/tabllm.mjs generate -m MODEL -p PROMPT [options]\n' +
  '  -p, --prompt TEXT    text to continue\n' +
  '  -n, --n-predict N    tokens to generate (default 128)\n' +
  '  --temp T             temperature, 0 = greedy (default 0.8)\n' +
  '  --top-k K --top-p P --min-p P   sampling filters (defaults 40, 0.95, 0.05)\n' +
  '  --seed S             random seed (default: random)\n' +
  '  --repeat-penalty R   penalty for repeating the last 64 tokens (default 1.0)\n' +
  '  --stop TEXT          stop before this text\n' +
  '  --speculative METHOD speculative decoding: prompt-lookup or self (same output, fewer passes)\n' +
  '  --draft-k K          most tokens drafted per step (default 8)\n' +
  '  --draft-layers L     self: the first layers the draft runs (default half)\n' + FORMAT_USAGE + ENGINE_USAGE;

export async function generate(argv) {
  const args = parseArgs(argv, ['p|prompt', 'n|n-predict', 'temp', 'top-k', 'top-p', 'min-p', 'seed', 'repeat-penalty', 'stop', 'speculative', 'draft-k', 'draft-layers', ...FORMAT_OPTIONS, ...ENGINE_OPTIONS],
    FORMAT_FLAGS, USAGE);
  const options = engineOptions(args);
  const prompt = args.require('p');
  const request = {
    prompt,
    max_tokens: args.int('n', 128),
    temperature: args.number('temp', 0.8),
    top_k: args.int('top-k', 40),
    top_p: args.number('top-p', 0.95),
    min_p: args.number('min-p', 0.05),
    repetition_penalty: args.number('repeat-penalty', 1.0),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (request.max_tokens < 1) throw new UsageError('-n must be at least 1');
  if (args.get('seed') !== undefined) request.seed = args.int('seed');
  if (args.get('stop') !== undefined) request.stop = [args.get('stop')];
  if (args.get('speculative') !== undefined) {
    request.speculative = { method: args.get('speculative') };
    if (args.get('draft-k') !== undefined) request.speculative.k = args.int('draft-k');
    if (args.get('draft-layers') !== undefined) request.speculative.draft_layers = args.int('draft-layers');
  }
  const format = responseFormat(args);
  if (format) request.response_format = format;
  if (!fs.existsSync(options.model)) throw new UsageError(`cannot open model ${options.model}: no such file`);

  const engine = await createEngine({ ...options, allowSoftwareAdapter: false });
  try {
    let usage = null;
    let finish = null;
    for await (const chunk of await engine.completions.create(request)) {
      const choice = chunk.choices[0];
      if (choice?.text) process.stdout.write(choice.text);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    const t = usage.timings;
    const runtime = engine.runtime;
    const where = runtime.backend === 'webgpu' ? `webgpu (${runtime.adapter ?? 'adapter'})` : `${runtime.threads} threads, wasm ${runtime.variant}`;
    process.stderr.write(`\n[tabllm] prompt ${usage.prompt_tokens} tokens, ${t.prefill_tokens_per_s.toFixed(1)} tok/s | ` +
      `generated ${usage.completion_tokens} tokens, ${t.decode_tokens_per_s.toFixed(1)} tok/s | TTFT ${t.ttft_ms.toFixed(1)} ms | ` +
      `finish ${finish} | ${where} (${engine.backendReason})\n`);
    const s = usage.speculative;
    if (s) {
      process.stderr.write(`[tabllm] speculative ${s.method}: drafted ${s.drafted}, accepted ${s.accepted} ` +
        `(${Math.round(100 * s.acceptance_rate)}%), ${s.forward_passes} forward passes after the first token` +
        (s.fallback ? `; ${s.fallback} (${s.speedup.toFixed(2)}x), plain after ${s.fallback_after} verify calls` : '') + '\n');
    }
  } finally {
    await engine.unload();
  }
}
