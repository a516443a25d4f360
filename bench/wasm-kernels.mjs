// The WebAssembly SIMD128 matrix products alone, single-threaded in Node, as one JSON object on stdout:
//   node bench/wasm-kernels.mjs [--types q4_0,q8_0,q4_k,q6_k] [--tokens 64] [--rows 2048] [--cols 2048] [--calls 20]
// Times cpu::matmul (Path::Simd) of the development module (build-wasm/tabllm-dev.mjs) by the process's
// CPU time, not the wall clock, so that other work on a shared machine disturbs the figure less; the load
// average comes with it. GMAC/s = rows x cols x tokens per CPU second. Each call also copies the weights
// into the module's heap (about 1 % of a 64-token product), so one-token figures say little.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

import { DevAbi } from '../js/src/core/dev.mjs';
import { TYPES } from '../tests/webgpu-cases/ops.mjs';
import { wasmDir } from '../tests/js/wasm_env.mjs';

const { values: o } = parseArgs({
  options: {
    types: { type: 'string', default: 'q4_0,q8_0,q4_k,q6_k' },
    tokens: { type: 'string', default: '64' },
    rows: { type: 'string', default: '2048' },
    cols: { type: 'string', default: '2048' },
    calls: { type: 'string', default: '20' },
  },
});
const [rows, cols, calls] = [o.rows, o.cols, o.calls].map(Number);
const { default: createModule } = await import(pathToFileURL(path.join(wasmDir, 'tabllm-dev.mjs')));
const abi = new DevAbi(await createModule());

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const results = [];
const loadBefore = os.loadavg()[0];
for (const type of o.types.split(',')) {
  if (!TYPES[type]) throw new Error(`unknown type "${type}" (one of ${Object.keys(TYPES).join(', ')})`);
  const weights = abi.randomWeights(TYPES[type].id, rows, cols, 1);
  for (const nTokens of o.tokens.split(',').map(Number)) {
    const x = Float32Array.from({ length: cols * nTokens }, (_, i) => Math.sin(i * 0.37));
    abi.simdMatmul(TYPES[type].id, weights, rows, cols, x, nTokens);  // compiled and warm
    const start = cpuSeconds();
    for (let i = 0; i < calls; i++) abi.simdMatmul(TYPES[type].id, weights, rows, cols, x, nTokens);
    const perCall = (cpuSeconds() - start) / calls;
    results.push({ type, rows, cols, tokens: nTokens, cpu_ms: +(perCall * 1e3).toFixed(2), gmacs: +((rows * cols * nTokens) / perCall / 1e9).toFixed(2) });
  }
}
console.log(JSON.stringify({ bench: 'wasm-kernels', node: process.version, results, load_avg: [+loadBefore.toFixed(2), +os.loadavg()[0].toFixed(2)] }));
