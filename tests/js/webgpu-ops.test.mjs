// Per-op parity of the WebGPU kernels against the scalar C++ reference (the cases and their error bounds:
// tests/webgpu-cases/ops.mjs), in Node on Dawn — SwiftShader when no GPU is present
// (js/src/gpu/node_device.mjs). tests/browser/webgpu.test.mjs runs the same cases in Chromium. Needs a
// development module of the WebAssembly build: TABLLM_WASM_DIR (default build-wasm) must hold tabllm-dev.mjs.
import { skipOrFail } from './wasm_env.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { DevAbi, hasDevExports } from '../../js/src/core/dev.mjs';
import { requestNodeDevice } from '../../js/src/gpu/node_device.mjs';
import { opCases } from '../webgpu-cases/ops.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const wasmDir = process.env.TABLLM_WASM_DIR ?? path.join(root, 'build-wasm');

let skip = null;
let abi, device;
const figures = [];

before(async () => {
  const file = path.join(wasmDir, 'tabllm-dev.mjs');
  if (!fs.existsSync(file)) {
    skip = `${file} is missing: run scripts/build-wasm.sh`;
    return;
  }
  const { default: createModule } = await import(pathToFileURL(file));
  const module = await createModule();
  if (!hasDevExports(module)) {
    skip = `${file} is not the development module: run scripts/build-wasm.sh`;
    return;
  }
  abi = new DevAbi(module);
  try {
    ({ device } = await requestNodeDevice());
  } catch (e) {
    skip = `no WebGPU device: ${e.message}`;
  }
});

after(() => {
  if (figures.length) console.log(`# webgpu-ops error figures (max|gpu-ref|/max|ref|):\n${figures.map((f) => `#   ${f}`).join('\n')}`);
  device?.destroy();
});

for (const { name, run } of opCases) {
  test(name, async (t) => {
    if (skip) return skipOrFail(t, skip);
    await run({ abi, device, note: (line) => { figures.push(line); t.diagnostic(line); } });
  });
}
