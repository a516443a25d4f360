// Starts the WebAssembly engine: the threaded build where threads are possible (Node, cross-origin
// isolated pages), else the single-threaded one; bound with core/wasm.mjs.
import { bindTabllm } from './core/wasm.mjs';
import { importNodeOnly } from './node_only.mjs';
import { wasmFiles } from './wasm_files.mjs';

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

/** Whether this context can run the threaded build. */
export function threadsAvailable() {
  if (isNode) return true;
  return typeof SharedArrayBuffer === 'function' && globalThis.crossOriginIsolated === true;
}

/** Hardware threads, capped: a page shares the machine with everything else. */
export async function defaultThreads() {
  const cores = isNode ? (await importNodeOnly('node:os')).availableParallelism() : globalThis.navigator?.hardwareConcurrency ?? 4;
  return Math.max(1, Math.min(4, cores));
}

/**
 * @param {{threads?: number, variant?: 'threaded'|'single'}} options
 * @returns {Promise<{tabllm: ReturnType<typeof bindTabllm>, module: any, threads: number, variant: string, release: () => void}>}
 *   release: the module's only user is done with it (its workers end)
 */
export async function startWasm({ threads, variant } = {}) {
  threads ??= await defaultThreads();
  const chosen = variant ?? (threadsAvailable() && threads > 1 ? 'threaded' : 'single');
  const files = wasmFiles[chosen];
  if (!files) throw new Error(`unknown WebAssembly build "${variant}": use "threaded" or "single"`);
  const n = chosen === 'single' ? 1 : threads;
  const { default: createTabllmModule } = await import(/* webpackIgnore: true */ /* @vite-ignore */ files.module.href);
  const locate = { [`${chosen === 'single' ? 'tabllm-st' : 'tabllm'}.wasm`]: files.wasm, 'tabllm.worker.js': files.worker };
  // Browsers: each file from the URL a bundler gave it. Node finds them beside the module by itself.
  const where = isNode ? {} : {
    locateFile: (name, prefix) => (locate[name] ? locate[name].href : prefix + name),
    mainScriptUrlOrBlob: files.module.href,
  };
  const module = await createTabllmModule({ pthreadPoolSize: Math.max(1, n - 1), ...where });
  const tabllm = bindTabllm(module);
  return { tabllm, module, threads: n, variant: chosen, release: () => tabllm.shutdown() };
}
