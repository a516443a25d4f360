// Where the WebAssembly engine's files are. Each URL is written out literally, relative to this module,
// so bundlers (Vite, webpack) find and emit them; js/build.mjs rewrites '../../build-wasm/' to './wasm/'
// for the built package, where the files sit beside it.
export const wasmFiles = {
  // Threads (needs cross-origin isolation in browsers) and SIMD128.
  threaded: {
    module: new URL('../../build-wasm/tabllm.mjs', import.meta.url),
    wasm: new URL('../../build-wasm/tabllm.wasm', import.meta.url),
    worker: new URL('../../build-wasm/tabllm.worker.js', import.meta.url),
  },
  // One thread: any page, Service Workers.
  single: {
    module: new URL('../../build-wasm/tabllm-st.mjs', import.meta.url),
    wasm: new URL('../../build-wasm/tabllm-st.wasm', import.meta.url),
  },
};
