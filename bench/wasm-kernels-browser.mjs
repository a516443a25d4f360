// The CPU matrix products of tabllm_bench_kernels (TinyLlama-1.1B shapes, decode streaming weights from
// memory, prefill of a batch) built for WebAssembly and run single-threaded in headless Chromium, so they
// compare line by line with the native command; as one JSON object on stdout:
//   node bench/wasm-kernels-browser.mjs [--types q4_0,q8_0,q4_k,q6_k] [--prefill-tokens 64] [--seconds 0.3]
//        [--engines chromium,node] [--simd wasm-simd128|wasm-relaxed-simd] [--native]
// Compiles bench/kernels/bench_kernels.cpp with Debian's Emscripten against the single-threaded core of
// build-wasm (scripts/build-wasm.sh first) into a temporary folder. --engines node also runs it in this
// Node; --simd forces a SIMD level (default: the best the engine runs); --native runs build/bin/tabllm_bench_kernels --threads 1 beside it and adds the ratios.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

import { launchChromium } from '../tests/browser/harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const usage = 'usage: node bench/wasm-kernels-browser.mjs [--types q4_0,q8_0,q4_k,q6_k] [--prefill-tokens 64] [--seconds 0.3] ' +
  '[--engines chromium,node] [--simd LEVEL] [--native]';
const { values: o } = parseArgs({
  options: {
    types: { type: 'string', default: 'q4_0,q8_0,q4_k,q6_k' },
    'prefill-tokens': { type: 'string', default: '64' },
    seconds: { type: 'string', default: '0.3' },
    engines: { type: 'string', default: 'chromium' },
    simd: { type: 'string' },
    native: { type: 'boolean', default: false },
  },
});
const engines = o.engines.split(',');
if (!engines.every((e) => e === 'chromium' || e === 'node')) {
  console.error(`--engines takes chromium and/or node\n${usage}`);
  process.exit(2);
}
const benchArgs = ['--types', o.types, '--threads', '1', '--prefill-tokens', o['prefill-tokens'], '--seconds', o.seconds, '--json'];
const wasmArgs = o.simd ? [...benchArgs, '--simd', o.simd] : benchArgs;

const core = path.join(root, 'build-wasm/wasm/libtabllm_core_st.a');
if (!fs.existsSync(core)) {
  console.error(`${core} is missing: run scripts/build-wasm.sh first`);
  process.exit(1);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-wasm-kernels-'));
const emcc = (env, out, extra = []) => execFileSync('em++', [
  '-std=c++20', '-O3', '-msimd128', '-fexceptions', '-include', path.join(root, 'wasm/compat/bit_cast.h'),
  `-I${path.join(root, 'core')}`, `-I${path.join(root, 'third_party')}`, path.join(root, 'bench/kernels/bench_kernels.cpp'), core,
  '--js-library', path.join(root, 'wasm/relaxed_simd.js'), '--pre-js', path.join(root, 'build-wasm/generated/relaxed_tile.js'),
  '-o', path.join(dir, out), '-sALLOW_MEMORY_GROWTH=1', '-sMAXIMUM_MEMORY=4GB', '-sSINGLE_FILE=1', `-sENVIRONMENT=${env}`, ...extra,
], { env: { ...process.env, NODE_PATH: [process.env.NODE_PATH, '/usr/share/nodejs'].filter(Boolean).join(':') }, stdio: ['ignore', 'ignore', 'inherit'] });

// bench_kernels prints one JSON object per shape with --json; the rest of its lines are the table.
const simdOf = (text) => /^simd level: (\S+)/m.exec(text)?.[1] ?? null;
const jsonLines = (text) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const rowsOf = (text) => jsonLines(text).filter((r) => !r.memory_read);
// The memory's read rate per thread count (GB/s): the ceiling of decode on that engine.
const memoryOf = (text) => Object.fromEntries(jsonLines(text).filter((r) => r.memory_read).map((r) => [r.threads, r.gbps]));

const results = {};
try {
  if (engines.includes('chromium')) {
    emcc('web', 'bench-web.js', ['-sINVOKE_RUN=0', '-sEXPORTED_RUNTIME_METHODS=callMain']);
    const chromium = await launchChromium();
    try {
      const page = await chromium.browser.newPage();
      const lines = [];
      page.on('console', (m) => lines.push(m.text()));
      await page.goto('about:blank');
      await page.addScriptTag({ content: 'var Module = { noInitialRun: true, print: (s) => console.log(s), printErr: (s) => console.error(s) };' });
      await page.addScriptTag({ path: path.join(dir, 'bench-web.js') });
      await page.waitForFunction(() => Module.calledRun, null, { timeout: 60_000 });
      await page.evaluate((args) => Module.callMain(args), wasmArgs);
      results.chromium = { version: chromium.browser.version(), simd: simdOf(lines.join('\n')), memory_read_gbps: memoryOf(lines.join('\n')), rows: rowsOf(lines.join('\n')) };
    } finally {
      await chromium.close();
    }
  }
  if (engines.includes('node')) {
    emcc('node', 'bench-node.cjs');
    const text = execFileSync(process.execPath, [path.join(dir, 'bench-node.cjs'), ...wasmArgs], { encoding: 'utf8' });
    results.node = { version: process.version, simd: simdOf(text), memory_read_gbps: memoryOf(text), rows: rowsOf(text) };
  }
  if (o.native) {
    const bin = path.join(root, 'build/bin/tabllm_bench_kernels');
    const text = execFileSync(bin, benchArgs, { encoding: 'utf8' });
    results.native = { simd: simdOf(text), memory_read_gbps: memoryOf(text), rows: rowsOf(text) };
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

// Ratios of each WebAssembly engine to native, per type, mode and shape.
const ratios = [];
if (results.native) {
  const shape = (r) => (r.rows ? `${r.rows}x${r.cols}` : 'model per token');
  const key = (r) => `${r.type}|${r.tokens}|${shape(r)}`;
  const native = new Map(results.native.rows.map((r) => [key(r), r]));
  for (const engine of engines) {
    for (const r of results[engine].rows) {
      const n = native.get(key(r));
      const us = (x) => x.us ?? x.model_us_per_token;
      if (n) ratios.push({ engine, type: r.type, tokens: r.tokens, shape: shape(r), of_native: +(us(n) / us(r)).toFixed(3) });
    }
  }
}
console.log(JSON.stringify({ bench: 'wasm-kernels-browser', load_avg: os.loadavg()[0], ...results, ratios }, null, 1));
