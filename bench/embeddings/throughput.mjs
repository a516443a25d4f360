#!/usr/bin/env node
// Embeddings per second for inputs of 256 tokens, 32 to a request, on this machine's CPU: native
// (`tabllm embed --repeat`), WebAssembly in Node (the threaded build through engine.embeddings.create) and
// llama.cpp's llama-embedding on the same file (its "prompt eval time": forward passes only, as ours).
// Prints one JSON object. Models: synthetic all-MiniLM-L6-v2 (bert) and nomic-embed-text-v1.5 (nomic-bert)
// shapes with the built-in WordPiece vocabulary.
//
//   node bench/embeddings/throughput.mjs [--llama-src DIR --llama-build DIR] [--threads 2] [--types f32,q8_0] [--shapes all-minilm-l6-v2]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { createEngine } from '../../js/src/index.mjs';
import { TOKENS_PER_INPUT, benchTexts, synthBenchModel } from './inputs.mjs';
import { buildLlamaEmbedding, llamaEmbed } from './llama_cpp.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const { values: opts } = parseArgs({
  options: {
    'llama-src': { type: 'string' },
    'llama-build': { type: 'string' },
    cli: { type: 'string', default: path.join(root, 'build/bin/tabllm') },
    threads: { type: 'string', default: '2' },
    types: { type: 'string', default: 'f32,q8_0' },
    shapes: { type: 'string', default: 'all-minilm-l6-v2,nomic-embed-text-v1.5' },
    batch: { type: 'string', default: '32' },
    repeat: { type: 'string', default: '2' },
  },
});
const threads = Number(opts.threads);
const batch = Number(opts.batch);
const repeat = Number(opts.repeat);
const llama = opts['llama-build'] ? buildLlamaEmbedding(opts['llama-src'], opts['llama-build'], threads) : null;

const texts = benchTexts(batch);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-embed-bench-'));
const inputFile = path.join(dir, 'inputs.txt');
fs.writeFileSync(inputFile, texts.join('\n') + '\n');

const results = [];
try {
  for (const shape of opts.shapes.split(',')) {
    for (const type of opts.types.split(',')) {
      const file = synthBenchModel(opts.cli, shape, type, dir);
      const native = JSON.parse(execFileSync(opts.cli, ['embed', '-m', file, '--file', inputFile, '--threads', String(threads), '--repeat', String(repeat)]).toString());
      if (native.tokens_per_batch !== batch * TOKENS_PER_INPUT) throw new Error(`the inputs came to ${native.tokens_per_batch} tokens, not ${batch} × ${TOKENS_PER_INPUT}`);

      const engine = await createEngine({ model: file, backend: 'wasm', wasmVariant: 'threaded', threads });
      let wasm;
      try {
        await engine.embeddings.create({ input: texts.slice(0, 2) });  // warm-up
        const start = performance.now();
        for (let r = 0; r < repeat; r++) await engine.embeddings.create({ input: texts });
        const seconds = (performance.now() - start) / 1000;
        wasm = { variant: engine.runtime.variant, threads: engine.runtime.threads, seconds, embeddings_per_s: (batch * repeat) / seconds };
      } finally {
        await engine.unload();
      }

      const row = {
        model: `${shape} ${type}`, dim: native.dim, batch, tokens_per_input: TOKENS_PER_INPUT,
        native: { kernels: native.kernels, threads, seconds: native.seconds, embeddings_per_s: native.embeddings_per_s },
        wasm,
      };
      if (llama) {
        const run = llamaEmbed(llama, file, inputFile, { threads, batch: 2048 });
        row.llama_cpp = { threads, batch_tokens: 2048, eval_seconds: run.evalSeconds, embeddings_per_s: batch / run.evalSeconds };
      }
      results.push(row);
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify({ machine: `${os.cpus()[0]?.model} (${os.availableParallelism()} CPUs)`, results }, null, 2));
