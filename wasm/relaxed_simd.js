// --js-library of every module: the relaxed-SIMD prefill tile (core/backend/cpu/kernels_wasm_relaxed.wat)
// that kernels_wasm_relaxed.cpp calls. Each thread (Web Worker) has its own JavaScript, so each
// instantiates the tile once, over the engine's memory. The bytes are the --pre-js that
// wasm/embed_relaxed_tile.cmake writes.
mergeInto(LibraryManager.library, {
  // The tile's exports, or null where the engine has no relaxed SIMD (it rejects the module) or computes
  // the probe's known product otherwise.
  $tabllmRelaxedTile: function () {
    if (tabllmRelaxedTile.exports === undefined) {
      tabllmRelaxedTile.exports = null;
      try {
        const shared = typeof SharedArrayBuffer === 'function' && wasmMemory.buffer instanceof SharedArrayBuffer;
        const module = new WebAssembly.Module(shared ? tabllmRelaxedTileWasm.shared : tabllmRelaxedTileWasm.unshared);
        const { exports } = new WebAssembly.Instance(module, { env: { memory: wasmMemory } });
        if (exports.probe() === -118) tabllmRelaxedTile.exports = exports;
      } catch (e) {
        // CompileError or LinkError: this engine cannot run it; SIMD128 kernels serve instead.
      }
    }
    return tabllmRelaxedTile.exports;
  },
  tabllm_relaxed_simd_available__deps: ['$tabllmRelaxedTile'],
  tabllm_relaxed_simd_available: function () {
    return tabllmRelaxedTile() ? 1 : 0;
  },
  tabllm_relaxed_tile__deps: ['$tabllmRelaxedTile'],
  tabllm_relaxed_tile: function (unit, wq, ws, x, stride, d, sum, scaleStride, nUnits, nTokens, out) {
    const tile = tabllmRelaxedTile();
    (unit === 32 ? tile.tile32 : tile.tile16)(wq, ws, x, stride, d, sum, scaleStride, nUnits, nTokens, out);
  },
});
