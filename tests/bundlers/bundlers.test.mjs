// The npm package as an app gets it: `npm pack` of js/, installed into a fresh Vite app and a fresh
// webpack 5 app (both from npm, versions pinned below), built with each bundler's default configuration,
// served on 127.0.0.1 with COOP/COEP, and run in headless Chromium: createEngine (threaded WebAssembly on
// the cross-origin isolated page) and createWorkerEngine each give stories260K's greedy reference text.
//
//   node --test tests/bundlers/bundlers.test.mjs      (needs the npm registry, or npm's cache, for the bundlers)
// TABLLM_BUNDLERS_KEEP=1 keeps the apps in the temp folder and prints where.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { launchChromium, openPage, repoRoot, startServer } from '../browser/harness.mjs';
import { greedyReference, modelsDir, skipOrFail, storiesModel, wasmDir } from '../js/wasm_env.mjs';

const VERSIONS = { vite: '8.4.0', webpack: '5.113.0', 'webpack-cli': '7.3.1' };
const TOKENS = 32;  // of the reference's 64: enough to tell, quick on two threads

// What each app does with the package: both engines on the model, the texts and runtimes on window.
const APP_SCRIPT = `import { createEngine, createWorkerEngine } from 'tabllm';

async function run() {
  const query = new URLSearchParams(location.search);
  const model = new URL(query.get('model'), location.href).href;
  const request = { prompt: query.get('prompt'), max_tokens: Number(query.get('n')), temperature: 0 };
  const out = { crossOriginIsolated: globalThis.crossOriginIsolated === true };
  const engine = await createEngine({ model, backend: 'wasm', threads: 2 });
  out.engine = { runtime: engine.runtime, text: (await engine.completions.create(request)).choices[0].text };
  await engine.unload();
  const worker = await createWorkerEngine({ model, backend: 'wasm', threads: 2 });
  out.worker = { runtime: worker.runtime, text: (await worker.completions.create(request)).choices[0].text };
  await worker.unload();
  await worker.terminate();
  return out;
}
// A hang (a pthread that never starts) fails in bounded time instead of holding the test.
const timeout = new Promise((resolve, reject) => setTimeout(() => reject(new Error('no answer within 240 s')), 240_000));
window.tabllmResult = Promise.race([run(), timeout]).catch((e) => ({ error: String(e?.stack ?? e) }));
`;

const APPS = {
  vite: {
    devDependencies: { vite: VERSIONS.vite },
    files: {
      'index.html': '<!doctype html>\n<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>vite app</title></head>\n<body><script type="module" src="/main.js"></script></body></html>\n',
      'main.js': APP_SCRIPT,
    },
    build: ['node_modules/vite/bin/vite.js', 'build'],
    served: 'dist',
  },
  webpack: {
    devDependencies: { webpack: VERSIONS.webpack, 'webpack-cli': VERSIONS['webpack-cli'] },
    files: { 'src/index.js': APP_SCRIPT },
    build: ['node_modules/webpack-cli/bin/cli.js', '--mode', 'production'],
    served: 'dist',
    // webpack writes no page: the app's own, beside its default output (dist/main.js).
    page: '<!doctype html>\n<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>webpack app</title></head>\n<body><script src="main.js"></script></body></html>\n',
  },
};

function missing() {
  for (const f of ['tabllm.mjs', 'tabllm.wasm', 'tabllm.worker.js', 'tabllm-st.mjs', 'tabllm-st.wasm']) {
    if (!fs.existsSync(path.join(wasmDir, f))) return `${path.join(wasmDir, f)} is missing: run scripts/build-wasm.sh`;
  }
  return null;
}

const npm = (args, cwd) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, stdio: 'pipe', encoding: 'utf8' });

let temp = null;
let tarball = null;
let chromium = null;
let server = null;
const skip = missing();

before(async () => {
  if (skip) return;
  temp = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-bundlers-'));
  storiesModel('f32');  // converted when missing
  execFileSync(process.execPath, [path.join(repoRoot, 'js/build.mjs')], { stdio: 'pipe' });
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', temp], path.join(repoRoot, 'js')));
  tarball = path.join(temp, packed[0].filename);
  chromium = await launchChromium();
});

after(async () => {
  await chromium?.close();
  await server?.close();
  if (!temp) return;
  if (process.env.TABLLM_BUNDLERS_KEEP === '1') console.log(`apps kept in ${temp}`);
  else fs.rmSync(temp, { recursive: true, force: true });
});

test('the packed package holds what its exports, bin and types name, and nothing from the repository', (t) => {
  if (skip) return skipOrFail(t, skip);
  const list = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  const pkg = JSON.parse(execFileSync('tar', ['-xOzf', tarball, 'package/package.json'], { encoding: 'utf8' }));
  const targets = [];
  for (const [entry, value] of Object.entries(pkg.exports)) {
    assert.ok(!entry.includes('*'), `no catch-all export: ${entry}`);
    if (typeof value === 'string') {
      assert.match(entry, /\.json$/, `${entry} has no types`);
      targets.push(value);
      continue;
    }
    assert.ok(value.types, `${entry} has types`);
    assert.ok(value.default ?? value.node, `${entry} names its module (default, or node for a Node-only entry)`);
    targets.push(value.types, value.default ?? value.node);
  }
  targets.push(...Object.values(pkg.bin));
  for (const target of targets) assert.ok(list.includes(target.replace(/^\.\//, '')), `${target} is in the package`);
  assert.equal(pkg.peerDependenciesMeta?.webgpu?.optional, true, 'webgpu is an optional peer dependency');
  assert.ok(!list.some((f) => /\.gguf$|(^|\/)node_modules\//.test(f)), 'no models or node_modules');
});

for (const [name, app] of Object.entries(APPS)) {
  test(`a default ${name} app built with the package runs createEngine (threaded) and createWorkerEngine in Chromium`, { timeout: 600_000 }, async (t) => {
    if (skip) return skipOrFail(t, skip);
    const dir = path.join(temp, `${name}-app`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
      name: `${name}-app`, private: true, type: 'module', dependencies: { tabllm: `file:${tarball}` }, devDependencies: app.devDependencies,
    }, null, 2));
    for (const [file, text] of Object.entries(app.files)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    }
    npm(['install', '--prefer-offline'], dir);
    try {
      execFileSync(process.execPath, app.build, { cwd: dir, stdio: 'pipe', encoding: 'utf8' });
    } catch (e) {
      assert.fail(`${name} build failed:\n${e.stdout}\n${e.stderr}`);
    }
    const served = path.join(dir, app.served);
    if (app.page) fs.writeFileSync(path.join(served, 'index.html'), app.page);
    // No script inlined as a data: URL (a worker started from one has an opaque origin, which cannot share
    // the engine's memory).
    for (const f of fs.readdirSync(served, { recursive: true })) {
      if (/\.(m?js)$/.test(f)) assert.ok(!fs.readFileSync(path.join(served, f), 'utf8').includes('data:text/javascript'), `${f} inlines a script as a data: URL`);
    }

    server = await startServer({ root: served, shared: false, mounts: { '/models/': modelsDir } });
    const ref = greedyReference()[0];
    const query = new URLSearchParams({ model: '/models/stories260K-f32.gguf', prompt: ref.prompt, n: String(TOKENS) });
    const context = await chromium.browser.newContext();
    try {
      const page = await openPage(context, `${server.url}/index.html?${query}`);
      const result = await page.evaluate(() => window.tabllmResult);
      assert.equal(result.error, undefined, result.error);
      assert.equal(result.crossOriginIsolated, true);
      assert.deepEqual([result.engine.runtime.variant, result.engine.runtime.threads], ['threaded', 2]);
      assert.equal(result.worker.runtime.backend, 'wasm');
      const expected = ref.text.slice(0, result.engine.text.length);
      assert.ok(result.engine.text.length > 40, result.engine.text);
      assert.equal(result.engine.text, expected);
      assert.equal(result.worker.text, result.engine.text);
    } finally {
      await context.close();
      await server.close();
      server = null;
    }
  });
}
