// What the embedding throughput benchmarks measure on: 256-token inputs, and synthetic models of a real
// embedding model's shape with the built-in WordPiece vocabulary (`tabllm synth`).
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export const TOKENS_PER_INPUT = 256;

// 254 words of the vocabulary (one token each) between [CLS] and [SEP]: 256 tokens an input, each input its own.
const WORDS = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'cat', 'sat', 'on', 'mat', 'search', 'notes', 'in', 'browser', 'page', 'with', 'little', 'girl'];

/** `batch` distinct inputs of TOKENS_PER_INPUT tokens each. */
export function benchTexts(batch) {
  return Array.from({ length: batch }, (_, i) => Array.from({ length: TOKENS_PER_INPUT - 2 }, (_, w) => WORDS[(w * 7 + i * 3 + w * i) % WORDS.length]).join(' '));
}

/** Synthesizes SHAPE-TYPE.gguf into `dir` with the native CLI; returns its path. */
export function synthBenchModel(cli, shape, type, dir) {
  const file = path.join(dir, `${shape}-${type}.gguf`);
  execFileSync(cli, ['synth', shape, file, '--type', type, '--vocab', 'wordpiece', '--seed', '1'], { stdio: 'ignore' });
  return file;
}
