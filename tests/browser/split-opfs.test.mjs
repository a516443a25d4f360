// A split model in Chromium: stories260K split in 3 by `tabllm split`, loaded from the first part's URL into
// OPFS with SHA-256 per part; a download cut off in part 2 continues with a range request on the next visit;
// the engine on the joined parts gives the unsplit file's greedy tokens, and again from OPFS with the server
// down.
//
//   node --test --test-concurrency=1 tests/browser/split-opfs.test.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { launchChromium, repoRoot } from './harness.mjs';
import { modelsDir, nativeBuildDir, skipOrFail, storiesModel, wasmDir } from '../js/wasm_env.mjs';

const MIME = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

test('a split model from 3 URLs into OPFS: resumed, checked per part, same tokens as the unsplit file, then offline', async (t) => {
  if (!fs.existsSync(path.join(wasmDir, 'tabllm-st.mjs'))) return skipOrFail(t, `${wasmDir}/tabllm-st.mjs is missing: run scripts/build-wasm.sh`);
  storiesModel('q8_0');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-split-opfs-'));
  const names = execFileSync(path.join(nativeBuildDir, 'bin/tabllm'), ['split', path.join(modelsDir, 'stories260K-q8_0.gguf'), '--parts', '3', '--out', path.join(dir, 'stories')], { encoding: 'utf8' })
    .trim().split('\n').map((p) => path.basename(p));
  const parts = Object.fromEntries(names.map((n) => [n, fs.readFileSync(path.join(dir, n))]));
  const sha256 = names.map((n) => crypto.createHash('sha256').update(parts[n]).digest('hex'));

  // The parts under /split/ (cut off halfway in part 2 while `cutting`, 503 while `down`), the unsplit model,
  // and the engine's files.
  const behaviour = { cutting: false, down: false, requests: [] };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/') url.pathname = '/tests/browser/pages/engine.html';
    if (url.pathname.startsWith('/split/')) {
      const name = url.pathname.slice('/split/'.length);
      behaviour.requests.push({ name, range: req.headers.range ?? null });
      const body = parts[name];
      if (behaviour.down) return res.writeHead(503).end();
      if (!body) return res.writeHead(404).end();
      const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length - start), ETag: `"${name}"` };
      if (req.headers.range) headers['Content-Range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
      res.writeHead(req.headers.range ? 206 : 200, headers);
      if (!behaviour.cutting || name !== names[1]) return res.end(body.subarray(start));
      return res.write(body.subarray(start, body.length >> 1), () => setTimeout(() => res.destroy(), 500));
    }
    const mounts = [['/build-wasm/', wasmDir], ['/models/', modelsDir], ['/', repoRoot]];
    const [prefix, root] = mounts.find(([p]) => url.pathname.startsWith(p));
    const file = path.join(root, path.normalize(url.pathname.slice(prefix.length)));
    if (!file.startsWith(root) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] ?? 'application/octet-stream' }).end(fs.readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const chromium = await launchChromium();
  try {
    const page = await chromium.browser.newPage();
    page.setDefaultTimeout(120_000);
    page.on('pageerror', (e) => process.stderr.write(`[page exception] ${e.message}\n`));
    await page.goto(`${base}/`);
    const first = `${base}/split/${names[0]}`;

    behaviour.cutting = true;
    const cut = await page.evaluate(async ({ first, sha256 }) => {
      const loader = await import('/js/src/loader/index.mjs');
      try {
        await loader.openModel(first, { sha256, maxRetries: 0, storage: 'opfs' });
        return { error: null };
      } catch (e) {
        return { error: e.message, list: await loader.listCachedModels({ storage: 'opfs' }) };
      }
    }, { first, sha256 });
    assert.match(cut.error, /stopped after .*What arrived is kept/);
    const stored = Object.fromEntries(cut.list.map((m) => [m.url.split('/').pop(), m]));
    assert.equal(stored[names[0]].complete, true);
    assert.equal(stored[names[1]].complete, false);
    assert.ok(stored[names[1]].stored > 0, 'part 2 kept what arrived');

    // The next visit continues part 2, fetches part 3, and the engine answers as on the unsplit file.
    behaviour.cutting = false;
    behaviour.requests.length = 0;
    const generate = ({ model, sha256 }) => (async () => {
      const { createEngine } = await import('/js/src/index.mjs');
      const engine = await createEngine({ model, sha256, backend: 'wasm', wasmVariant: 'single' });
      const r = await engine.completions.create({ prompt: 'Once upon a time', max_tokens: 24, temperature: 0, logprobs: 0 });
      await engine.unload();
      return r.choices[0].logprobs.tokens;
    })();
    const split = await page.evaluate(generate, { model: first, sha256 });
    // First the memory check's range requests (the header, then one byte of each other part), then the
    // download: the rest of part 2 and part 3.
    const probe = behaviour.requests.filter((r) => /^bytes=0-\d+$/.test(r.range ?? ''));
    assert.deepEqual(probe, [{ name: names[0], range: 'bytes=0-1048575' }, { name: names[1], range: 'bytes=0-0' }, { name: names[2], range: 'bytes=0-0' }]);
    const downloads = behaviour.requests.filter((r) => !probe.includes(r));
    assert.deepEqual(downloads, [{ name: names[1], range: `bytes=${stored[names[1]].stored}-` }, { name: names[2], range: null }]);
    const whole = await page.evaluate(generate, { model: '/models/stories260K-q8_0.gguf' });
    assert.equal(whole.length, 24);
    assert.deepEqual(split, whole);

    behaviour.down = true;
    behaviour.requests.length = 0;
    assert.deepEqual(await page.evaluate(generate, { model: first, sha256 }), whole, 'from OPFS, with the server down');
    assert.deepEqual(behaviour.requests, []);
  } finally {
    await chromium.close();
    server.closeAllConnections();
    server.close();
  }
});
