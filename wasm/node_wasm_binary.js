// --pre-js: under Node, hand Emscripten the .wasm bytes itself (see node_esm_shim.js). Pthread workers
// receive the compiled module from the main thread instead.
if (tabllmReadWasmInNode && !Module['ENVIRONMENT_IS_PTHREAD'] && !Module['wasmBinary']) Module['wasmBinary'] = tabllmReadWasmInNode();
