// Builds the chat demo into build/chat: the page, the tabllm package (js/dist) with what it loads at run
// time (the WebAssembly engine), the loader, and the default models with their sizes and SHA-256. The
// folder keeps the repository's layout, so every relative import inside the package resolves unchanged.
//
//   node apps/chat/build.mjs [--out build/chat] [--dev]
//
// --dev uses the package's sources (js/src) in place of the built js/dist, for working on both at once.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outArg = process.argv.indexOf('--out');
const out = path.resolve(outArg > 0 ? process.argv[outArg + 1] : path.join(repo, 'build/chat'));
const dev = process.argv.includes('--dev');

// The default model first. f32: its greedy text is the float32 reference text on every backend (and it is 1 MB).
const MODELS = [
  { name: 'stories260K f32', file: 'stories260K-f32.gguf', default: true },
  { name: 'stories260K q8_0', file: 'stories260K-q8_0.gguf' },
  { name: 'stories260K q4_0', file: 'stories260K-q4_0.gguf' },
];
const APP_FILES = ['index.html', 'style.css', 'app.mjs', 'chart.mjs', 'dashboard.mjs', 'dashboard_charts.mjs', 'models.mjs', 'notes.mjs', 'notes_index.mjs', 'icon.svg'];
const WASM_FILES = ['tabllm.mjs', 'tabllm.wasm', 'tabllm.worker.js', 'tabllm-st.mjs', 'tabllm-st.wasm', 'package.json'];

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

function copy(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

function copyTree(from, to, keep = () => true) {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    if (entry.isDirectory()) copyTree(source, path.join(to, entry.name), keep);
    else if (entry.isFile() && keep(source)) copy(source, path.join(to, entry.name));
  }
}

const need = (file, how) => fs.existsSync(path.join(repo, file)) || fail(`${file} is missing: ${how}`);
if (!dev) need('js/dist/index.js', 'build the package first (bash scripts/setup.sh), or use --dev to run on js/src');
if (dev) need('build-wasm/tabllm.mjs', 'build the WebAssembly engine first (bash scripts/build-wasm.sh, part of scripts/setup.sh)');
need(`build/models/${MODELS[0].file}`, 'convert the default model first (bash scripts/setup.sh)');

fs.rmSync(out, { recursive: true, force: true });
for (const file of APP_FILES) copy(path.join(repo, 'apps/chat', file), path.join(out, file));
// The package: js/dist holds its modules and the WebAssembly engine; --dev takes the sources instead, with
// the files they reach outside js/src, at the same relative places.
if (dev) {
  fs.mkdirSync(path.join(out, 'js/dist'), { recursive: true });
  fs.writeFileSync(path.join(out, 'js/dist/index.js'), "export * from '../src/index.mjs';\n");
  fs.mkdirSync(path.join(out, 'js/dist/sw'));
  fs.writeFileSync(path.join(out, 'js/dist/sw/index.mjs'), "export * from '../../src/sw/index.mjs';\n");
  copyTree(path.join(repo, 'js/src'), path.join(out, 'js/src'), (file) => /\.m?js$/.test(file));
  for (const file of WASM_FILES) copy(path.join(repo, 'build-wasm', file), path.join(out, 'build-wasm', file));
} else {
  copyTree(path.join(repo, 'js/dist'), path.join(out, 'js/dist'), (file) => !file.endsWith('.d.ts'));
}

// Browsers (module workers included) cannot resolve bare package names: point static imports of npm packages
// at a copy of the package's ES module entry, as relative paths.
function packageEntry(name) {
  const dir = path.join(repo, 'node_modules', name);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const dot = manifest.exports?.['.'] ?? manifest.exports;
  const entry = (typeof dot === 'string' ? dot : dot?.browser?.import ?? dot?.import?.default ?? dot?.import ?? dot?.default) ?? manifest.module ?? manifest.main;
  if (typeof entry !== 'string') fail(`cannot find the ES module entry of the npm package ${name}`);
  return path.join(dir, entry);
}
const STATIC_IMPORT = /((?:^|[;\n])\s*(?:import|export)\s[^;'"]*?from\s*|(?:^|[;\n])\s*import\s*)(['"])([^'"./][^'"]*)\2/g;
const copiedPackages = new Map();
function rewriteBareImports(file) {
  const text = fs.readFileSync(file, 'utf8');
  const rewritten = text.replace(STATIC_IMPORT, (all, head, quote, spec) => {
    if (spec.startsWith('node:') || spec.startsWith('#')) return all;
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
    if (spec !== name) fail(`${path.relative(out, file)} imports ${spec}: only package entry points can be mapped for the browser`);
    if (!copiedPackages.has(name)) {
      const entry = packageEntry(name);
      const target = path.join(out, 'node_modules', path.relative(path.join(repo, 'node_modules'), entry));
      copy(entry, target);
      copiedPackages.set(name, target);
      rewriteBareImports(target);
    }
    let relative = path.relative(path.dirname(file), copiedPackages.get(name)).split(path.sep).join('/');
    if (!relative.startsWith('.')) relative = `./${relative}`;
    return `${head}${quote}${relative}${quote}`;
  });
  if (rewritten !== text) fs.writeFileSync(file, rewritten);
}
const scripts = [];
(function collect(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) collect(file);
    else if (/\.m?js$/.test(entry.name)) scripts.push(file);
  }
})(path.join(out, 'js'));
for (const file of scripts) rewriteBareImports(file);

const models = [];
for (const m of MODELS) {
  const from = path.join(repo, 'build/models', m.file);
  if (!fs.existsSync(from)) continue;
  copy(from, path.join(out, 'models', m.file));
  const bytes = fs.readFileSync(from);
  models.push({ name: m.name, url: `models/${m.file}`, size: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex'), default: !!m.default });
}
fs.writeFileSync(path.join(out, 'models/models.json'), JSON.stringify(models, null, 2));

// The Service Worker caches every file of the page except the models, under a version that changes with them.
const shell = [];
const walk = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(file);
    else if (!file.endsWith('.gguf')) shell.push(path.relative(out, file).split(path.sep).join('/'));
  }
};
walk(out);
shell.sort();
const hash = crypto.createHash('sha256');
for (const file of shell) hash.update(file).update(fs.readFileSync(path.join(out, file)));
const version = hash.digest('hex').slice(0, 16);
const sw = fs.readFileSync(path.join(repo, 'apps/chat/sw.js'), 'utf8')
  .replace("'__VERSION__'", JSON.stringify(version))
  .replace('__FILES__', JSON.stringify(['./', ...shell]));
fs.writeFileSync(path.join(out, 'sw.js'), sw);
console.log(`built the chat demo in ${path.relative(repo, out) || out} (${shell.length + 1} files, ${models.length} models, version ${version})`);
