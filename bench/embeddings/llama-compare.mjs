#!/usr/bin/env node
// Embeddings against llama.cpp's llama-embedding on the same synthetic GGUF files: bert, nomic-bert (with the
// built-in WordPiece vocabulary, and with a real BERT vocabulary when --bert-vocab gives one), and decoder
// embedding models with last-token pooling (qwen2; qwen3 when the llama.cpp tree knows it). Prints JSON:
// per model the cosine of each input's two embeddings and the smallest (the goal is >= 0.9999). Not part of
// CI: it builds llama.cpp from source.
//
// --qwen3-tokenizer: a Qwen3 tokenizer.json whose tokenizer_config.json beside it says what Qwen3-Embedding's
// does (eos_token <|endoftext|>, add_eos_token true), so that the final EOS that last pooling reads is checked;
// it also adds the real Qwen3-Embedding-0.6B shape (28 layers, 1024 wide; a 2.4 GB f32 file in the temp folder).
//
//   node bench/embeddings/llama-compare.mjs --llama-src DIR [--llama-build DIR] [--bert-vocab ggml-vocab-bert-bge.gguf]
//     [--qwen3-tokenizer DIR/tokenizer.json] [--threads 2] [--only REGEX (the shapes it matches, e.g. qwen3)]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildLlamaEmbedding, llamaEmbed } from './llama_cpp.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const { values: opts } = parseArgs({
  options: {
    'llama-src': { type: 'string' },
    'llama-build': { type: 'string' },
    'bert-vocab': { type: 'string' },
    'qwen3-tokenizer': { type: 'string' },
    cli: { type: 'string', default: path.join(root, 'build/bin/tabllm') },
    threads: { type: 'string', default: '2' },
    only: { type: 'string' },
  },
});
const src = opts['llama-src'];
const bin = buildLlamaEmbedding(src, opts['llama-build'] ?? path.join(src ?? root, 'build-embedding'), Number(opts.threads));
const knowsQwen3 = src && fs.readFileSync(path.join(src, 'src/llama-arch.cpp'), 'utf8').includes('"qwen3"');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-embed-compare-'));
const stories = path.join(root, 'build/models/stories260K-f32.gguf');
const inputs = [
  'the quick brown fox jumps over the lazy dog',
  'Hello, World! What a day: 42 cats sat on the mat.',
  'search notes in the browser page',
  'a',
  'walking and talking, quickly, in the park with lily',
];
const inputFile = path.join(dir, 'inputs.txt');
fs.writeFileSync(inputFile, inputs.join('\n') + '\n');

const models = [
  { shape: 'tiny-bert', type: 'f32', vocab: 'wordpiece' },
  { shape: 'tiny-bert', type: 'q8_0', vocab: 'wordpiece' },
  { shape: 'tiny-nomic-bert', type: 'f32', vocab: 'wordpiece' },
  { shape: 'tiny-nomic-bert', type: 'q8_0', vocab: 'wordpiece' },
  { shape: 'all-minilm-l6-v2', type: 'f32', vocab: opts['bert-vocab'] ?? 'wordpiece' },
  { shape: 'tiny-qwen2', type: 'f32', vocab: stories, pooling: 'last' },
  { shape: 'tiny-qwen2', type: 'f32', vocab: stories, pooling: 'mean' },
];
if (opts['bert-vocab']) models.push({ shape: 'tiny-bert', type: 'f32', vocab: opts['bert-vocab'] }, { shape: 'tiny-nomic-bert', type: 'f32', vocab: opts['bert-vocab'] });
// No --pooling override for qwen3: llama.cpp reads last-token pooling from the file, as tabllm does.
if (knowsQwen3) {
  for (const vocab of [stories, opts['qwen3-tokenizer']].filter(Boolean)) {
    for (const type of ['f32', 'q8_0']) models.push({ shape: 'tiny-qwen3-embedding', type, vocab });
  }
  // The real model's shape needs its real vocabulary size (151669), so only with the Qwen3 tokenizer.
  if (opts['qwen3-tokenizer']) for (const type of ['f32', 'q8_0']) models.push({ shape: 'qwen3-embedding-0.6b', type, vocab: opts['qwen3-tokenizer'] });
}

if (opts.only) models.splice(0, models.length, ...models.filter((m) => new RegExp(opts.only).test(m.shape)));

const cosine = (a, b) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / Math.sqrt(aa * bb);
};

// A quantized file's distance from the f32 file of the same shape and seed, on each side: rounding in the
// quantized matmuls (int8 activations; llama.cpp's f16 KV cache and f16 activation scales) moves each engine by
// about this much, so two engines can differ by as much on a quantized file and both be right.
const minCosine = (as, bs) => Math.min(...as.map((a, i) => cosine(a, bs[i])));
const f32Embeddings = new Map();
const results = [];
for (const m of models) {
  const file = path.join(dir, `${m.shape}-${m.type}-${results.length}.gguf`);
  execFileSync(opts.cli, ['synth', m.shape, file, '--type', m.type, '--vocab', m.vocab, '--seed', '7', ...(m.pooling ? ['--pooling', m.pooling] : [])], { stdio: 'ignore' });
  const ours = JSON.parse(execFileSync(opts.cli, ['embed', '-m', file, '--file', inputFile, '--threads', opts.threads], { maxBuffer: 1 << 30 }).toString());
  const theirs = llamaEmbed(bin, file, inputFile, { threads: Number(opts.threads), pooling: m.pooling });
  const cosines = ours.inputs.map((input, i) => cosine(input.embedding, theirs.embeddings[i]));
  const key = `${m.shape} ${m.vocab} ${m.pooling}`;
  const ourEmbeddings = ours.inputs.map((input) => input.embedding);
  if (m.type === 'f32') f32Embeddings.set(key, { ours: ourEmbeddings, theirs: theirs.embeddings });
  const f32 = m.type !== 'f32' && f32Embeddings.get(key);
  results.push({
    model: `${m.shape} ${m.type}${m.pooling ? ` pooling ${m.pooling}` : ''}`,
    vocab: m.vocab === 'wordpiece' ? 'built-in wordpiece' : m.vocab === opts['qwen3-tokenizer'] ? 'qwen3 tokenizer.json, add_eos' : path.basename(m.vocab),
    arch: ours.arch, pooling: ours.pooling, dim: ours.dim,
    tokens: ours.inputs.map((input) => input.tokens.length),
    cosine: cosines.map((c) => Number(c.toFixed(7))),
    min_cosine: Number(Math.min(...cosines).toFixed(7)),
    ...(f32 && { min_cosine_to_f32: { tabllm: Number(minCosine(ourEmbeddings, f32.ours).toFixed(7)), llama_cpp: Number(minCosine(theirs.embeddings, f32.theirs).toFixed(7)) } }),
  });
}
fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ llama_embedding: bin, goal: 0.9999, pass: results.every((r) => r.min_cosine >= 0.9999), results }, null, 2));
