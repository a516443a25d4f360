// Paged KV in Chromium, in a Web Worker on real OPFS (a synchronous access handle): a session under a
// kvBudget of one page (stories260K, a window of 256 in a context of 512) pages a long prompt out to one
// OPFS file — each page written before the next step — and the recall before the prompt's last piece reads
// the page that holds the code the question repeats back from the file; the tokens equal those of the same session with its pages in memory, and
// the file is gone once the spill closes. On a page, engines on WebGPU and WebAssembly under the same budget
// give the same reply, the WebGPU one reading the dropped rows back from the GPU.
//
//   node --test --test-concurrency=1 tests/browser/kv-budget.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { launchChromium, openPage, startServer } from './harness.mjs';
import { modelsDir, skipOrFail, storiesModel, wasmDir } from '../js/wasm_env.mjs';

// In a worker: the same greedy request on an OPFS-backed and a memory-backed session.
const WORKER = `
const origin = self.location.origin;
onmessage = async () => {
  try {
    const { bindTabllm } = await import(origin + '/js/src/core/wasm.mjs');
    const { KvPageSpill, openKvPageSpill } = await import(origin + '/js/src/kv_pager.mjs');
    const { MemoryPageStore } = await import(origin + '/js/src/prefix_cache.mjs');
    const { default: create } = await import(origin + '/build-wasm/tabllm-st.mjs');
    const tabllm = bindTabllm(await create());
    const model = tabllm.loadModel(new Uint8Array(await (await fetch(origin + '/models/stories260K-f32.gguf')).arrayBuffer()));
    const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ';
    const prompt = 'The code is 4 7 1 9 2. ' + story.repeat(10) + 'Was the code 4 7 1 9 2?';
    const run = async (spill) => {
      const s = model.createSession({ contextSize: 512, kvBudget: 256 * 640, kvPageStore: spill, recallPositions: 128 });
      s.begin(prompt, { max_tokens: 24, temperature: 0 });
      let fromFile = 0;
      const read = spill.readSync;
      spill.readSync = (name) => { fromFile++; return read(name); };
      while (s.next() !== null) await spill.flush();  // every page on OPFS before the next step
      const r = s.result();
      s.free();
      return { tokens: r.tokens.map((t) => t.id), kv: r.kv_pages, warnings: r.warnings, fromFile };
    };
    const { spill, close } = await openKvPageSpill({});
    const kind = spill.store.kind;
    const opfs = await run(spill);
    const files = async () => { const names = []; for await (const [name] of (await (await navigator.storage.getDirectory()).getDirectoryHandle('tabllm-kv-pages')).entries()) names.push(name); return names; };
    const before = await files();
    const store = { ...spill.stats };
    await close();
    const after = await files();
    const memoryStore = new MemoryPageStore();
    const memory = await run(new KvPageSpill(memoryStore, { readSync: (name) => memoryStore.files.get(name) }));
    model.free();
    postMessage({ ok: { kind, opfs, memory, store, before: before.length, after: after.length } });
  } catch (e) {
    postMessage({ error: e.stack ?? e.message });
  }
};`;

test('Chromium worker, OPFS: pages out to one file and back from it; the same tokens as pages in memory', async (t) => {
  if (!fs.existsSync(path.join(wasmDir, 'tabllm-st.mjs'))) return skipOrFail(t, `${wasmDir}/tabllm-st.mjs is missing: run scripts/build-wasm.sh`);
  storiesModel('f32');
  const server = await startServer({ mounts: { '/build-wasm/': wasmDir, '/models/': modelsDir } });
  const chromium = await launchChromium();
  try {
    const page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/blank.html`);
    page.setDefaultTimeout(120_000);
    const out = await page.evaluate((code) => new Promise((resolve, reject) => {
      const worker = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })), { type: 'module' });
      worker.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve(data.ok));
      worker.onerror = (e) => reject(new Error(e.message));
      worker.postMessage(null);
    }), WORKER);
    t.diagnostic(`OPFS: ${JSON.stringify(out.opfs.kv)}; store ${JSON.stringify(out.store)}`);
    assert.equal(out.kind, 'opfs');
    assert.ok(out.opfs.kv.pages_out >= 2, JSON.stringify(out.opfs.kv));
    assert.ok(out.opfs.kv.pages_in >= 1, JSON.stringify(out.opfs.kv));
    assert.ok(out.opfs.fromFile >= 1, 'the page that came back was read from the OPFS file');
    assert.ok(out.store.pagesRead >= 1 && out.store.pagesWritten >= 2, JSON.stringify(out.store));
    assert.deepEqual(out.opfs.warnings, []);
    assert.deepEqual(out.opfs.tokens, out.memory.tokens);
    assert.equal(out.before - out.after, 1);  // the spill's file, removed at close
  } finally {
    await chromium.close();
    await server.close();
  }
});

test('Chromium page, WebGPU and WebAssembly under a kvBudget: the same reply, the dropped rows read back from the GPU as pages', async (t) => {
  if (!fs.existsSync(path.join(wasmDir, 'tabllm-st.mjs'))) return skipOrFail(t, `${wasmDir}/tabllm-st.mjs is missing: run scripts/build-wasm.sh`);
  storiesModel('f32');
  const server = await startServer({ mounts: { '/build-wasm/': wasmDir, '/models/': modelsDir } });
  const chromium = await launchChromium();
  try {
    const page = await openPage(chromium.browser, `${server.url}/tests/browser/pages/engine.html`);
    page.setDefaultTimeout(300_000);
    const hasGpu = await page.evaluate(async () => !!(navigator.gpu && await navigator.gpu.requestAdapter()));
    if (!hasGpu) return skipOrFail(t, 'Chromium offers no WebGPU adapter (flags: see tests/browser/harness.mjs)');
    const out = await page.evaluate(async () => {
      const { createEngine } = await import('/js/src/index.mjs');
      const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ';
      const run = async (backend) => {
        const engine = await createEngine({ model: '/models/stories260K-f32.gguf', backend, wasmVariant: 'single', contextSize: 512, kvBudget: 256 * 640 });
        try {
          const r = await engine.completions.create({ prompt: story.repeat(8), max_tokens: 4, temperature: 0, logit_bias: { 1: -100, 2: -100 } });
          return { text: r.choices[0].text, usage: r.usage, stats: engine.kvPagerStats(), runtime: engine.runtime };
        } finally {
          await engine.unload();
        }
      };
      return { gpu: await run('webgpu'), cpu: await run('wasm') };
    });
    t.diagnostic(`WebGPU: ${JSON.stringify(out.gpu.usage.kv_pages)}; store ${out.gpu.runtime.kvPageStore}`);
    assert.equal(out.gpu.runtime.backend, 'webgpu');
    assert.equal(out.gpu.runtime.kvWindow, 256);
    assert.equal(out.gpu.text, out.cpu.text);
    assert.ok(out.gpu.usage.kv_pages.pages_out >= 1, JSON.stringify(out.gpu.usage));
    assert.equal(out.gpu.usage.kv_pages.pages_out, out.cpu.usage.kv_pages.pages_out);
    assert.equal(out.gpu.stats.pagesOut, out.gpu.usage.kv_pages.pages_out);
    assert.ok(out.gpu.stats.readBackMs > 0, JSON.stringify(out.gpu.stats));
  } finally {
    await chromium.close();
    await server.close();
  }
});
