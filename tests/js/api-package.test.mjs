// The built package (js/dist, from js/build.mjs): index.js exports createEngine and createWorkerEngine
// and runs from its own folder (the WebAssembly files beside it), serve.mjs (`tabllm/serve`) serves it over
// HTTP; its bin runs the Node CLI from there; its TypeScript declarations type-check usage samples with
// tsc --noEmit.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { missingBuild, reference, storiesPath } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const dist = path.join(root, 'js/dist');

function build() {
  execFileSync(process.execPath, [path.join(root, 'js/build.mjs')], { stdio: 'pipe' });
}

test('js/dist runs on its own files: createEngine from dist/index.js', async (t) => {
  const skip = missingBuild();
  if (skip) return skipOrFail(t, skip);
  build();
  for (const f of ['index.js', 'index.d.ts', 'worker.mjs', 'worker.d.ts', 'serve.mjs', 'serve.d.ts', 'sw/index.mjs', 'sw.d.ts', 'bin/tabllm.mjs', 'bin/serve.mjs', 'wasm/tabllm.mjs', 'wasm/tabllm.wasm', 'wasm/tabllm-st.mjs', 'wasm/tabllm-st.wasm', 'core/wasm.mjs'])
    assert.ok(fs.existsSync(path.join(dist, f)), f);
  // Nothing in dist may reach back into the repository.
  for (const f of fs.readdirSync(dist, { recursive: true })) {
    if (!String(f).endsWith('.mjs') && !String(f).endsWith('.js')) continue;
    assert.doesNotMatch(fs.readFileSync(path.join(dist, f), 'utf8'), /\.\.\/\.\.\/(build-wasm|wasm)\//, String(f));
  }
  const pkg = await import(pathToFileURL(path.join(dist, 'index.js')));
  assert.equal(typeof pkg.createEngine, 'function');
  assert.equal(typeof pkg.createWorkerEngine, 'function');
  const engine = await pkg.createEngine({ model: storiesPath(), backend: 'wasm', threads: 2 });
  try {
    assert.equal(engine.runtime.variant, 'threaded');
    const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: reference().prompt }], temperature: 0, max_tokens: 8 });
    assert.ok(reference().text.startsWith(r.choices[0].message.content));
    // tabllm/serve, as package.json exports it, over the same engine.
    const pkgJson = JSON.parse(fs.readFileSync(path.join(root, 'js/package.json'), 'utf8'));
    assert.deepEqual(pkgJson.exports['./serve'], { types: './dist/serve.d.ts', node: './dist/serve.mjs' });
    const { startServer } = await import(pathToFileURL(path.join(root, 'js', pkgJson.exports['./serve'].node)));
    const server = await startServer({ engine, port: 0 });
    try {
      const answer = await (await fetch(`${server.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: reference().prompt, temperature: 0, max_tokens: 8 }) })).json();
      assert.ok(reference().text.startsWith(answer.choices[0].text) && answer.choices[0].text.length > 5);
    } finally {
      await server.close();
    }
  } finally {
    await engine.unload();
  }
});

test("the package's bin (dist/bin/tabllm.mjs) runs from dist: greedy text on the WebAssembly backend", (t) => {
  const skip = missingBuild();
  if (skip) return skipOrFail(t, skip);
  if (!fs.existsSync(path.join(dist, 'bin/tabllm.mjs'))) build();
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'js/package.json'), 'utf8'));
  assert.equal(pkg.bin.tabllm, './dist/bin/tabllm.mjs');
  const ref = reference();
  const text = execFileSync(process.execPath, [path.join(dist, 'bin/tabllm.mjs'), 'generate', '-m', storiesPath(), '-p', ref.prompt, '-n', '8', '--temp', '0', '--backend', 'wasm'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.ok(text.length > 0 && ref.text.startsWith(text), JSON.stringify(text));
});

test('the TypeScript declarations type-check usage samples of tabllm, tabllm/serve and tabllm/sw (tsc --noEmit)', (t) => {
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  if (!fs.existsSync(tsc)) return skipOrFail(t, 'typescript is not installed (npm ci)');
  if (!fs.existsSync(path.join(dist, 'index.d.ts'))) build();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-ts-'));
  fs.copyFileSync(path.join(root, 'tests/js/fixtures/api-usage.ts'), path.join(dir, 'usage.ts'));
  fs.copyFileSync(path.join(root, 'tests/js/fixtures/serve-usage.ts'), path.join(dir, 'serve-usage.ts'));
  fs.copyFileSync(path.join(root, 'tests/js/fixtures/sw-usage.ts'), path.join(dir, 'sw-usage.ts'));
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'es2022', module: 'esnext', moduleResolution: 'bundler', strict: true, noEmit: true, skipLibCheck: false,
      lib: ['es2022', 'dom', 'dom.iterable'], types: [],
      paths: { tabllm: [path.join(dist, 'index.d.ts')], 'tabllm/serve': [path.join(dist, 'serve.d.ts')], 'tabllm/sw': [path.join(dist, 'sw.d.ts')] },
    },
    files: ['usage.ts', 'serve-usage.ts', 'sw-usage.ts'],
  }));
  try {
    execFileSync(process.execPath, [tsc, '--noEmit', '-p', dir], { stdio: 'pipe', encoding: 'utf8' });
  } catch (e) {
    assert.fail(`tsc found errors:\n${e.stdout}${e.stderr}`);
  }
  // And it does catch mistakes.
  fs.writeFileSync(path.join(dir, 'usage.ts'), "import { createEngine } from 'tabllm';\nvoid createEngine({ model: 1, backend: 'cuda' });\n");
  assert.throws(() => execFileSync(process.execPath, [tsc, '--noEmit', '-p', dir], { stdio: 'pipe' }));
  fs.copyFileSync(path.join(root, 'tests/js/fixtures/api-usage.ts'), path.join(dir, 'usage.ts'));
  fs.writeFileSync(path.join(dir, 'serve-usage.ts'), "import { startServer } from 'tabllm/serve';\nvoid startServer({ port: '8080', queue: true });\n");
  assert.throws(() => execFileSync(process.execPath, [tsc, '--noEmit', '-p', dir], { stdio: 'pipe' }));
});
