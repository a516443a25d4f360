// Decode and prefill speed on a quiet CPU and on one where busy-loop processes take every core, as one JSON
// object on stdout:
//   node bench/contention.mjs MODEL.gguf [MODEL.gguf ...] [--engines native,wasm,chromium,wllama,llama] [--threads 1,2] [--busy N]
//        [--rounds 2] [--prompt-tokens 32] [--gen-tokens 32] [--native-bin build/bin/tabllm] [--wasm-dir build-wasm]
//        [--llama-bench PATH]
// Engines: native (`tabllm bench`), wasm (bench/wasm-bench.mjs, Node), chromium (bench/browser-model.mjs:
// the package's WebAssembly engine on the main thread of a cross-origin isolated page in headless Chromium;
// its prompt is that many words, so it may be more tokens) and wllama (bench/wllama-model.mjs: llama.cpp's
// WebAssembly build in the same browser, the same prompt, its own timings) and llama (llama.cpp's own CPU
// `llama-bench`, built outside this repository, --llama-bench names it). Every round runs each model x engine x thread
// count quiet, then loaded, so that drift in the machine's other work falls on both alike; the median over
// rounds counts. Each figure carries the 1-minute load
// average before and after it, since a quiet figure is only as quiet as the machine was. --busy defaults to
// the number of cores. The checks are the contention goals: loaded decode keeps at least a third of its
// quiet speed, and threads never lose to one thread under the same load.
import { spawn, execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const usage = 'usage: node bench/contention.mjs MODEL.gguf [MODEL.gguf ...] [--engines native,wasm,chromium,wllama,llama] [--threads 1,2] ' +
  '[--busy N] [--rounds 2] [--prompt-tokens 32] [--gen-tokens 32] [--native-bin build/bin/tabllm] [--wasm-dir build-wasm] [--llama-bench PATH]';
const { values: options, positionals: models } = parseArgs({
  allowPositionals: true,
  options: {
    engines: { type: 'string', default: 'native,wasm' },
    threads: { type: 'string', default: '1,2' },
    busy: { type: 'string', default: String(os.availableParallelism()) },
    rounds: { type: 'string', default: '2' },
    'prompt-tokens': { type: 'string', default: '32' },
    'gen-tokens': { type: 'string', default: '32' },
    'native-bin': { type: 'string', default: path.join(root, 'build/bin/tabllm') },
    'wasm-dir': { type: 'string', default: path.join(root, 'build-wasm') },
    'llama-bench': { type: 'string' },
  },
});
function fail(message) {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}
if (models.length === 0) fail('name at least one model');
const positive = (name) => {
  const n = Number(options[name]);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer`);
  return n;
};
const [busy, rounds, promptTokens, genTokens] = ['busy', 'rounds', 'prompt-tokens', 'gen-tokens'].map(positive);
const engines = options.engines.split(',');
for (const e of engines) if (!['native', 'wasm', 'chromium', 'wllama', 'llama'].includes(e)) fail(`unknown engine "${e}": use native, wasm, chromium, wllama and/or llama`);
if (engines.includes('llama') && !options['llama-bench']) fail('the llama engine needs --llama-bench PATH (a llama.cpp build\'s llama-bench)');
const threadCounts = options.threads.split(',').map(Number);
if (!threadCounts.every((n) => Number.isInteger(n) && n >= 1)) fail('--threads takes positive integers, comma-separated');

const run = promisify(execFile);

// The command line of one bench run of the engine's own benchmark command, and how to read its speeds from
// its output's last line (llama-bench: from its JSON lines, one per test).
function benchCommand(engine, model, threads) {
  const tokens = ['--prompt-tokens', String(promptTokens), '--gen-tokens', String(genTokens), '--threads', String(threads)];
  const speeds = (r) => ({ prefill: r.prefill_tokens_per_s, decode: r.decode_tokens_per_s });
  if (engine === 'llama') {
    const args = ['-m', model, '-p', String(promptTokens), '-n', String(genTokens), '-t', String(threads), '-r', '1', '-o', 'jsonl'];
    const read = (stdout) => {
      const tests = stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      return { prefill: tests.find((t) => t.n_gen === 0)?.avg_ts, decode: tests.find((t) => t.n_prompt === 0)?.avg_ts };
    };
    return { file: options['llama-bench'], args, env: process.env, read };
  }
  if (engine === 'native') return { file: options['native-bin'], args: ['bench', '-m', model, ...tokens], env: process.env, speeds };
  if (engine === 'wasm') {
    return { file: process.execPath, args: [path.join(root, 'bench/wasm-bench.mjs'), model, ...tokens, '--repetitions', '1'],
             env: { ...process.env, TABLLM_WASM_DIR: options['wasm-dir'] }, speeds };
  }
  const prompt = Array.from({ length: promptTokens }, (_, i) => ['the', 'cat', 'sat', 'on', 'a', 'warm', 'mat'][i % 7]).join(' ');
  if (engine === 'wllama') {
    return { file: process.execPath, args: [path.join(root, 'bench/wllama-model.mjs'), model, '--tokens', String(genTokens), '--prompt', prompt,
                                            '--threads', String(threads)], env: process.env, speeds: (r) => speeds(r.timings) };
  }
  return {
    file: process.execPath,
    args: [path.join(root, 'bench/browser-model.mjs'), model, '--backends', 'wasm', '--tokens', String(genTokens), '--prompt', prompt,
           '--threads', String(threads)],
    env: process.env,
    speeds: (r) => speeds(r.timings),
  };
}

async function measure(engine, model, threads) {
  const command = benchCommand(engine, model, threads);
  const loadBefore = os.loadavg()[0];
  const { stdout } = await run(command.file, command.args, { env: command.env, maxBuffer: 1 << 24, cwd: root });
  return {
    ...(command.read ? command.read(stdout) : command.speeds(JSON.parse(stdout.trim().split('\n').at(-1)))),
    load_avg: [Number(loadBefore.toFixed(2)), Number(os.loadavg()[0].toFixed(2))],
  };
}

// `busy` processes that spin until killed: the contention a busy machine puts on every core.
async function withBusyLoops(fn) {
  const loops = Array.from({ length: busy }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  await new Promise((resolve) => setTimeout(resolve, 300));
  try {
    return await fn();
  } finally {
    for (const loop of loops) loop.kill('SIGKILL');
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const cases = [];
for (const model of models) for (const engine of engines) for (const threads of threadCounts) cases.push({ model, engine, threads, quiet: [], loaded: [] });
for (let round = 0; round < rounds; round++) {
  for (const c of cases) {
    c.quiet.push(await measure(c.engine, c.model, c.threads));
    c.loaded.push(await withBusyLoops(() => measure(c.engine, c.model, c.threads)));
  }
}

const summary = cases.map((c) => {
  const quiet = median(c.quiet.map((m) => m.decode)), loaded = median(c.loaded.map((m) => m.decode));
  return {
    model: path.basename(c.model),
    engine: c.engine,
    threads: c.threads,
    quiet_decode_tokens_per_s: quiet,
    loaded_decode_tokens_per_s: loaded,
    decode_slowdown: Number((quiet / loaded).toFixed(2)),
    quiet_prefill_tokens_per_s: median(c.quiet.map((m) => m.prefill)),
    loaded_prefill_tokens_per_s: median(c.loaded.map((m) => m.prefill)),
    runs: { quiet: c.quiet, loaded: c.loaded },
  };
});
const checks = summary.map((s) => {
  const single = summary.find((o) => o.model === s.model && o.engine === s.engine && o.threads === 1);
  return {
    model: s.model,
    engine: s.engine,
    threads: s.threads,
    loses_at_most_3x: s.decode_slowdown <= 3,
    not_slower_than_1_thread_loaded: single ? s.loaded_decode_tokens_per_s >= single.loaded_decode_tokens_per_s : null,
  };
});
console.log(JSON.stringify({
  cpus: os.availableParallelism(),
  busy_processes: busy,
  rounds,
  prompt_tokens: promptTokens,
  gen_tokens: genTokens,
  native_bin: options['native-bin'],
  wasm_dir: options['wasm-dir'],
  results: summary,
  checks,
}, null, 1));
