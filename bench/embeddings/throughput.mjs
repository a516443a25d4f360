#!/usr/bin/env node
// Embeddings per second for inputs of 256 tokens, 32 to a request: native (`tabllm embed --repeat`),
// WebAssembly in Node (the threaded build through engine.embeddings.create), WebGPU (the encoder plan through
// engine.embeddings.create, the whole request in one forward pass; Dawn in Node) and llama.cpp's
// llama-embedding on the same file (its "prompt eval time": forward passes only, as ours; on the GPU with
// --llama-gpu-layers and a CUDA build). With WebGPU and llama.cpp both, each row gains the cosine of their
// vectors for the same inputs. Prints one JSON object, and each row on stderr as it is done. Models:
// synthetic all-MiniLM-L6-v2, bge-base-en-v1.5 (bert) and nomic-embed-text-v1.5 (nomic-bert) shapes with the
// built-in WordPiece vocabulary.
//
//   node bench/embeddings/throughput.mjs [--backends native,wasm,webgpu] [--llama-src DIR --llama-build DIR]
//     [--llama-gpu-layers 99] [--threads 2] [--types f32,q8_0] [--shapes all-minilm-l6-v2]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { createEngine, similarity } from '../../js/src/index.mjs';
import { TOKENS_PER_INPUT, benchTexts, synthBenchModel } from './inputs.mjs';
import { buildLlamaEmbedding, llamaEmbed } from './llama_cpp.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const { values: opts } = parseArgs({
  options: {
    backends: { type: 'string', default: 'native,wasm' },
    'llama-src': { type: 'string' },
    'llama-build': { type: 'string' },
    'llama-gpu-layers': { type: 'string', default: '0' },
    cli: { type: 'string', default: path.join(root, 'build/bin/tabllm') },
    threads: { type: 'string', default: '2' },
    types: { type: 'string', default: 'f32,q8_0' },
    shapes: { type: 'string', default: 'all-minilm-l6-v2,nomic-embed-text-v1.5' },
    batch: { type: 'string', default: '32' },
    repeat: { type: 'string', default: '2' },
  },
});
const backends = new Set(opts.backends.split(','));
for (const b of backends) if (!['native', 'wasm', 'webgpu'].includes(b)) throw new Error(`unknown backend ${b}: native, wasm or webgpu`);
const threads = Number(opts.threads);
const batch = Number(opts.batch);
const repeat = Number(opts.repeat);
const gpuLayers = Number(opts['llama-gpu-layers']);
const llama = opts['llama-build'] ? buildLlamaEmbedding(opts['llama-src'], opts['llama-build'], threads) : null;

const texts = benchTexts(batch);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-embed-bench-'));
const inputFile = path.join(dir, 'inputs.txt');
fs.writeFileSync(inputFile, texts.join('\n') + '\n');

// Embeddings per second of `repeat` requests of the whole batch after a warm-up one; the last one's vectors.
async function timeEngine(options) {
  const engine = await createEngine(options);
  try {
    await engine.embeddings.create({ input: texts });  // warm-up
    let data;
    const start = performance.now();
    for (let r = 0; r < repeat; r++) ({ data } = await engine.embeddings.create({ input: texts }));
    const seconds = (performance.now() - start) / 1000;
    if (data.length !== batch) throw new Error(`${data.length} vectors for ${batch} inputs`);
    return { engine: { backend: engine.backend, ...engine.runtime }, seconds, embeddings_per_s: (batch * repeat) / seconds, vectors: data.map((d) => d.embedding) };
  } finally {
    await engine.unload();
  }
}

const results = [];
try {
  for (const shape of opts.shapes.split(',')) {
    for (const type of opts.types.split(',')) {
      const file = synthBenchModel(opts.cli, shape, type, dir);
      const row = { model: `${shape} ${type}`, batch, tokens_per_input: TOKENS_PER_INPUT };
      if (backends.has('native')) {
        const native = JSON.parse(execFileSync(opts.cli, ['embed', '-m', file, '--file', inputFile, '--threads', String(threads), '--repeat', String(repeat)]).toString());
        if (native.tokens_per_batch !== batch * TOKENS_PER_INPUT) throw new Error(`the inputs came to ${native.tokens_per_batch} tokens, not ${batch} × ${TOKENS_PER_INPUT}`);
        row.dim = native.dim;
        row.native = { kernels: native.kernels, threads, seconds: native.seconds, embeddings_per_s: native.embeddings_per_s };
      }
      if (backends.has('wasm')) {
        const { engine, seconds, embeddings_per_s } = await timeEngine({ model: file, backend: 'wasm', wasmVariant: 'threaded', threads });
        row.wasm = { variant: engine.variant, threads: engine.threads, seconds, embeddings_per_s };
      }
      let gpuVectors = null;
      if (backends.has('webgpu')) {
        // The whole request in one forward pass.
        const { engine, seconds, embeddings_per_s, vectors } = await timeEngine({ model: file, backend: 'webgpu', maxBatch: batch * TOKENS_PER_INPUT });
        row.webgpu = { adapter: engine.adapter ?? null, batch_tokens: batch * TOKENS_PER_INPUT, seconds, embeddings_per_s };
        gpuVectors = vectors;
      }
      if (llama) {
        // On the GPU the whole batch goes in one pass too; on the CPU, passes of 2048 tokens as before.
        const batchTokens = gpuLayers ? batch * TOKENS_PER_INPUT : 2048;
        const run = llamaEmbed(llama, file, inputFile, { threads, batch: batchTokens, gpuLayers });
        row.llama_cpp = { threads, gpu_layers: gpuLayers, batch_tokens: batchTokens, eval_seconds: run.evalSeconds, embeddings_per_s: batch / run.evalSeconds };
        if (gpuVectors) {
          const cosines = run.embeddings.map((v, i) => similarity(v, gpuVectors[i]));
          row.cosine_webgpu_llama_cpp = { min: Math.min(...cosines), mean: cosines.reduce((s, c) => s + c, 0) / cosines.length };
        }
      }
      results.push(row);
      console.error(JSON.stringify(row));  // each row as it is done, should a long run be cut short
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify({ machine: `${os.cpus()[0]?.model} (${os.availableParallelism()} CPUs)`, results }, null, 2));
