// The Node CLI (js/bin/tabllm.mjs): greedy stories260K text equals the native CLI's (build/bin/tabllm) on
// both backends; bench prints one JSON object with the native fields (and dispatches per token on WebGPU);
// errors are one line on stderr with exit code 1; --speculative gives the same text with its counts; --json-schema output equals the native CLI's on both
// backends and bench measures decode with and without it. WebGPU runs on SwiftShader here (~0.2 s per
// token on 2 cores), so its runs are short.
import { nativeBuildDir, modelsDir, skipOrFail, wasmDir } from './wasm_env.mjs';
import { nodeOptionsWithDawnPolling } from './dawn_polling.mjs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'js/bin/tabllm.mjs');
const native = path.join(nativeBuildDir, 'bin/tabllm');
const model = path.join(modelsDir, 'stories260K-q8_0.gguf');

function missing() {
  if (!fs.existsSync(native)) return `${native} is missing: run scripts/setup.sh`;
  if (!fs.existsSync(model)) return `${model} is missing: run scripts/setup.sh`;
  if (!fs.existsSync(path.join(wasmDir, 'tabllm-st.mjs'))) return `${wasmDir}/tabllm-st.mjs is missing: run scripts/build-wasm.sh`;
  return null;
}

// The CLI's own Node process lets Dawn wait on a timer too (tests/js/dawn_polling.mjs).
const env = { ...process.env, NODE_OPTIONS: nodeOptionsWithDawnPolling() };
const run = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8', cwd: root, timeout: 300_000, env });
const node = (args) => run(process.execPath, [cli, ...args]);

function nativeText(prompt, n, extra = []) {
  const r = run(native, ['generate', '-m', model, '-p', prompt, '-n', String(n), '--temp', '0', '--threads', '1', ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

for (const [backend, n] of [['wasm', 48], ['webgpu', 16]]) {
  test(`generate --backend ${backend}: greedy text equals the native CLI's (${n} tokens), timings on stderr`, (t) => {
    const why = missing();
    if (why) return skipOrFail(t, why);
    const expected = nativeText('Once upon a time', n);
    const r = node(['generate', '-m', model, '-p', 'Once upon a time', '-n', String(n), '--temp', '0', '--threads', '1', '--backend', backend]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, expected);
    const timings = r.stderr.split('\n').find((l) => l.startsWith('[tabllm]'));
    t.diagnostic(timings);
    assert.match(timings, new RegExp(`prompt 5 tokens, [\\d.]+ tok/s \\| generated ${n} tokens, [\\d.]+ tok/s \\| TTFT [\\d.]+ ms \\| finish length \\| .*${backend}`));
  });
}

test('generate --speculative on both CLIs: the plain text, the counts on stderr', (t) => {
  const why = missing();
  if (why) return skipOrFail(t, why);
  const expected = nativeText('Once upon a time', 48);
  for (const method of ['prompt-lookup', 'self']) {
    const args = ['generate', '-m', model, '-p', 'Once upon a time', '-n', '48', '--temp', '0', '--threads', '1', '--speculative', method, '--draft-k', '4'];
    for (const r of [run(native, args), node([...args, '--backend', 'wasm'])]) {
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, expected);
      assert.match(r.stderr, new RegExp(`\\[tabllm\\] speculative ${method}: drafted \\d+, accepted \\d+ \\(\\d+%\\), \\d+ forward passes after the first token`));
    }
  }
  const bad = run(native, ['generate', '-m', model, '-p', 'x', '--speculative', 'medusa']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /speculative.method must be "prompt-lookup", "self", "draft" or "off", got "medusa"/);
});

test('bench --backend wasm and webgpu: one JSON object with the native fields; dispatches per token on WebGPU', (t) => {
  const why = missing();
  if (why) return skipOrFail(t, why);
  const fields = ['model', 'arch', 'weights', 'backend', 'prompt_tokens', 'gen_tokens', 'prefill_tokens_per_s', 'decode_tokens_per_s', 'prefill_ms', 'decode_ms_per_token'];
  const wasm = node(['bench', '-m', model, '--prompt-tokens', '64', '--gen-tokens', '16', '--threads', '1', '--backend', 'wasm']);
  assert.equal(wasm.status, 0, wasm.stderr);
  const w = JSON.parse(wasm.stdout);
  t.diagnostic(wasm.stdout.trim());
  for (const f of fields) assert.ok(f in w, `wasm bench has ${f}`);
  assert.equal(w.backend, 'wasm');
  assert.equal(w.weights, 'q8_0');
  assert.ok(Math.abs(w.prompt_tokens - 64) <= 2 && w.decode_tokens_per_s > 0);

  const gpu = node(['bench', '-m', model, '--prompt-tokens', '20', '--gen-tokens', '4', '--backend', 'webgpu']);
  assert.equal(gpu.status, 0, gpu.stderr);
  assert.equal(gpu.stdout.trim().split('\n').length, 1, 'one line on stdout');
  const g = JSON.parse(gpu.stdout);
  t.diagnostic(gpu.stdout.trim());
  for (const f of fields) assert.ok(f in g, `webgpu bench has ${f}`);
  assert.equal(g.backend, 'webgpu');
  assert.equal(g.prompt_tokens, 20);
  assert.equal(g.dispatches_per_token, 34, 'stories260K: embed + 6 per layer x 5 (qkv_post inside attention) + output + sample + sample_merge');
  assert.equal(g.dispatches_per_prefill_call, 34, 'stories260K prefill: embed + 6 per layer x 5 + output + sample + sample_merge');
  assert.ok(g.prefill_tokens_per_s > 0 && g.decode_tokens_per_s > 0);
});

// A schema stories260K completes greedily in 28 tokens, { "mood": "happy", "age": 3 }, with no near-tie
// between allowed tokens (the CPU's int8 activations and the GPU's f32 pick the same ones).
const SCHEMA = {
  type: 'object',
  properties: { mood: { enum: ['happy', 'sad', 'angry'] }, age: { type: 'integer', minimum: 1, maximum: 9 } },
  required: ['mood', 'age'],
  additionalProperties: false,
};
const schemaFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-cli-')), 'schema.json');
fs.writeFileSync(schemaFile, JSON.stringify(SCHEMA));

test('generate --json-schema on both backends: the native CLI\'s text, valid JSON; bench --json-schema on WebGPU', (t) => {
  const why = missing();
  if (why) return skipOrFail(t, why);
  const expected = nativeText('Once upon a time', 48, ['--json-schema', schemaFile]);
  const value = JSON.parse(expected);
  assert.deepEqual(Object.keys(value), ['mood', 'age']);
  assert.ok(SCHEMA.properties.mood.enum.includes(value.mood) && Number.isInteger(value.age) && value.age >= 1 && value.age <= 9, expected);
  for (const backend of ['wasm', 'webgpu']) {
    const r = node(['generate', '-m', model, '-p', 'Once upon a time', '-n', '48', '--temp', '0', '--threads', '1', '--json-schema', schemaFile, '--backend', backend]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, expected, `${backend}: the native CLI's text`);
    assert.match(r.stderr, /finish stop/, `${backend}: the format completed`);
  }

  const bench = node(['bench', '-m', model, '--prompt-tokens', '20', '--gen-tokens', '4', '--backend', 'webgpu', '--json-schema', schemaFile]);
  assert.equal(bench.status, 0, bench.stderr);
  assert.equal(bench.stdout.trim().split('\n').length, 1, 'one line on stdout');
  const b = JSON.parse(bench.stdout);
  t.diagnostic(bench.stdout.trim());
  assert.equal(b.format, 'json_schema');
  for (const f of ['decode_tokens_per_s', 'session_decode_tokens_per_s', 'constrained_decode_tokens_per_s']) assert.ok(b[f] > 0, f);
  assert.ok(Number.isFinite(b.constraint_overhead_pct) && Number.isFinite(b.constraint_overhead_vs_session_pct));
  assert.equal(b.constrained_documents, 1, '4 tokens: the format does not complete');
});

test('errors: one line on stderr and exit code 1', (t) => {
  const why = missing();
  if (why) return skipOrFail(t, why);
  const cases = [
    [['generate', '-m', 'no/such.gguf', '-p', 'x'], /no such file/],
    [['generate', '-m', model], /missing -p/],
    [['generate', '-m', model, '-p', 'x', '--backend', 'cuda'], /--backend must be auto, webgpu or wasm/],
    [['generate', '-m', model, '-p', 'x', '--frobnicate'], /unknown option --frobnicate/],
    [['generate', '-m', model, '-p', 'x', '-n', 'many'], /-n needs an integer/],
    [['bench', '-m', model, '--prompt-tokens', '600', '--backend', 'wasm', '--threads', '1'], /exceed the context \(512\)/],
    [['generate', '-m', path.join(root, 'README.md'), '-p', 'x', '--backend', 'wasm', '--threads', '1'], /./],
    [['generate', '-m', model, '-p', 'x', '--json', '--regex', 'a+'], /at most one of --json, --json-schema, --grammar and --regex/],
    [['generate', '-m', model, '-p', 'x', '--json-schema', 'no/such.json'], /cannot open no\/such.json/],
    [['bench', '-m', model, '--json', '--backend', 'wasm'], /pass --backend webgpu/],
  ];
  for (const [args, pattern] of cases) {
    const r = node(args);
    assert.equal(r.status, 1, `${args.join(' ')}: exit code (stderr: ${r.stderr})`);
    assert.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
    const lines = r.stderr.split('\n').filter((l) => l && !/XDG_RUNTIME_DIR/.test(l));
    assert.equal(lines.length, 1, `${args.join(' ')}: one line on stderr, got ${JSON.stringify(r.stderr)}`);
    assert.match(lines[0], /^tabllm (generate|bench): error: /);
    assert.match(lines[0], pattern);
  }
  const unknown = node(['frobnicate']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
});
