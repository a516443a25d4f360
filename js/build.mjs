// Builds the package into js/dist: the modules of js/src as they are (no bundling; they are plain ES
// modules; js/src/core is the one that calls into WebAssembly), the WebAssembly engine from build-wasm/ in
// dist/wasm/ (not the development module tabllm-dev.mjs, which only tests load), the TypeScript
// declarations and the Node CLI (dist/bin/). Run after scripts/build-wasm.sh: node js/build.mjs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const src = path.join(here, 'src');
const dist = path.join(here, 'dist');
const wasmBuild = process.env.TABLLM_WASM_DIR ?? path.join(root, 'build-wasm');

const WASM_FILES = ['tabllm.mjs', 'tabllm.wasm', 'tabllm.worker.js', 'tabllm-st.mjs', 'tabllm-st.wasm', 'package.json'];

function fail(message) {
  console.error(`build.mjs: ${message}`);
  process.exit(1);
}

for (const f of WASM_FILES) if (!fs.existsSync(path.join(wasmBuild, f))) fail(`${path.join(wasmBuild, f)} is missing: run scripts/build-wasm.sh first`);

fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(path.join(dist, 'wasm'), { recursive: true });

// Source paths that reach outside js/src (only to the WebAssembly build), and where they point in dist.
const rewrites = [
  ['../../build-wasm/', './wasm/'],
];

function copyTree(from, to) {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, entry.name);
    const b = path.join(to, entry.name);
    if (entry.isDirectory()) {
      fs.mkdirSync(b, { recursive: true });
      copyTree(a, b);
    } else if (entry.name.endsWith('.mjs')) {
      let text = fs.readFileSync(a, 'utf8');
      // Only top-level modules reach outside js/src; a nested one doing so would break in dist.
      for (const [before, after] of rewrites) {
        if (!text.includes(before)) continue;
        if (from !== src) fail(`${a} refers to ${before}: only modules directly in js/src may`);
        text = text.replaceAll(before, after);
      }
      fs.writeFileSync(b, text);
    }
  }
}

copyTree(src, dist);
fs.renameSync(path.join(dist, 'index.mjs'), path.join(dist, 'index.js'));
for (const f of WASM_FILES) fs.copyFileSync(path.join(wasmBuild, f), path.join(dist, 'wasm', f));
fs.copyFileSync(path.join(here, 'types/index.d.ts'), path.join(dist, 'index.d.ts'));
fs.copyFileSync(path.join(here, 'types/worker.d.ts'), path.join(dist, 'worker.d.ts'));
fs.copyFileSync(path.join(here, 'types/serve.d.ts'), path.join(dist, 'serve.d.ts'));
fs.copyFileSync(path.join(here, 'types/sw.d.ts'), path.join(dist, 'sw.d.ts'));
// The Node CLI (package.json's bin): js/bin's modules, importing the package's modules beside them.
fs.mkdirSync(path.join(dist, 'bin'));
for (const f of fs.readdirSync(path.join(here, 'bin'))) {
  fs.writeFileSync(path.join(dist, 'bin', f), fs.readFileSync(path.join(here, 'bin', f), 'utf8')
    .replaceAll("'../src/index.mjs'", "'../index.js'").replaceAll("'../src/", "'../"));
}

const size = (dir) => fs.readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? size(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).size), 0);
console.log(`built ${path.relative(root, dist)}/ (${(size(dist) / 1e6).toFixed(1)} MB): index.js, index.d.ts, worker.mjs, serve.mjs, sw/, wasm/, bin/`);
