// Placed at the top of the ES module Emscripten writes (--extern-pre-js). Emscripten 3.1.6's Node code
// assumes CommonJS (require, __dirname), which an ES module lacks; these stand in for them. Browsers skip it.
const tabllmIsNode = typeof process == 'object' && typeof process.versions?.node == 'string';
const require = tabllmIsNode ? (await import('node:module')).createRequire(import.meta.url) : undefined;
const __dirname = tabllmIsNode ? require('node:path').dirname(require('node:url').fileURLToPath(import.meta.url)) : undefined;
// Node's fetch() cannot read file: URLs, which is how Emscripten loads the .wasm beside this module.
const tabllmReadWasmInNode = tabllmIsNode ? () => require('node:fs').readFileSync(new URL(import.meta.url.replace(/\.mjs$/, '.wasm'))) : undefined;
