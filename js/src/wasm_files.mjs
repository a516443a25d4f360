// Where the WebAssembly engine's files are. Each URL is written out literally, relative to this module,
// so bundlers (Vite, webpack) find and emit them; js/build.mjs rewrites '../../build-wasm/' to './wasm/'
// for the built package, where the files sit beside it.
export const wasmFiles = {
  // Threads (needs cross-origin isolation in browsers) and SIMD128.
  threaded: {
    module: new URL('../../build-wasm/tabllm.mjs', import.meta.url),
    wasm: new URL('../../build-wasm/tabllm.wasm', import.meta.url),
    // ?no-inline: the script is small enough for Vite to inline as a data: URL, and a worker started from
    // one has an opaque origin, which cannot share the page's memory (the engine would wait forever).
    worker: new URL('../../build-wasm/tabllm.worker.js?no-inline', import.meta.url),
  },
  // One thread: any page, Service Workers.
  single: {
    module: new URL('../../build-wasm/tabllm-st.mjs', import.meta.url),
    wasm: new URL('../../build-wasm/tabllm-st.wasm', import.meta.url),
  },
};
