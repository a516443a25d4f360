// Runs in tests/browser/pages/blank.html for tests/browser/wasm-kernels.test.mjs: the development module's
// SIMD products (tests/js/wasm_kernel_cases.mjs) on each WebAssembly SIMD level this browser runs. The
// server mounts the WebAssembly build at /wasm-build/.
import { DevAbi } from '../../../js/src/core/dev.mjs';
import { quadNeighbours, raggedShapeErrors } from '../../js/wasm_kernel_cases.mjs';

let abi = null;

async function dev(level = null) {
  if (!abi) {
    const { default: createModule } = await import('/wasm-build/tabllm-dev.mjs');
    abi = new DevAbi(await createModule());
  }
  if (level) abi.useSimdLevel(level);
  return abi;
}

export async function levels() {
  return (await dev()).simdLevels();
}

export async function errors(level, type) {
  return raggedShapeErrors(await dev(level), type);
}

export async function neighbours(level, type) {
  return quadNeighbours(await dev(level), type);
}
