// Several models in a worker engine in Chromium (the built package, js/dist, as the chat demo's build serves
// it with its npm imports resolved for the browser): stories260K and tiny-llama
// loaded from URLs into one Web Worker's engine; requests naming each, interleaved, are answered with the
// same greedy text as Node's engine gives for that model; /v1/models lists both through engine.fetch; an
// unknown name is a 404 model_not_found; unload frees the model's heap.
//
//   node --test --test-concurrency=1 tests/browser/models-worker.test.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { createEngine } from '../../js/src/index.mjs';
import { serveChat } from '../../apps/chat/server.mjs';
import { launchChromium, openPage, repoRoot } from './harness.mjs';
import { greedyReference, modelsDir, skipOrFail, storiesModel, synthModel } from '../js/wasm_env.mjs';

test('Chromium worker engine: two models, interleaved requests each answered by its model; 404; unload', async (t) => {
  if (!fs.existsSync(path.join(repoRoot, 'js/dist/index.js'))) return skipOrFail(t, 'js/dist is missing: run node js/build.mjs');
  storiesModel('f32');
  synthModel('tiny-llama', 'f32');
  const prompt = greedyReference()[0].prompt;
  const ask = (model) => ({ model, messages: [{ role: 'user', content: prompt }], temperature: 0, max_tokens: 16 });
  // Node's engine, one model at a time: the replies the browser's must equal.
  const expected = {};
  for (const [name, file] of [['stories', 'stories260K-f32.gguf'], ['tiny', 'tiny-llama-f32.gguf']]) {
    const engine = await createEngine({ model: path.join(modelsDir, file), backend: 'wasm', wasmVariant: 'single', contextSize: 128 });
    expected[name] = (await engine.chat.completions.create(ask(undefined))).choices[0].message.content;
    await engine.unload();
  }
  assert.notEqual(expected.stories, expected.tiny);

  execFileSync(process.execPath, [path.join(repoRoot, 'apps/chat/build.mjs')], { stdio: 'inherit' });
  const server = await serveChat({ mounts: [['/test-models/', modelsDir]] });
  const chromium = await launchChromium();
  try {
    // The demo's page without its own engine (autoload=0): the test imports the package itself.
    const page = await openPage(chromium.browser, `${server.url}?autoload=0`);
    page.setDefaultTimeout(120_000);
    const out = await page.evaluate(async ({ requests }) => {
      const { createWorkerEngine } = await import('/js/dist/index.js');
      // Model URLs resolve against the worker's script, so they are given whole.
      const engine = await createWorkerEngine({ backend: 'wasm', contextSize: 128,
        models: [{ model: `${location.origin}/test-models/stories260K-f32.gguf`, name: 'stories' }, { model: `${location.origin}/test-models/tiny-llama-f32.gguf`, name: 'tiny' }] });
      const replies = await Promise.all(requests.map((r) => engine.chat.completions.create(r)));
      const list = await (await engine.fetch('http://tabllm.local/v1/models')).json();
      const missing = await engine.fetch('http://tabllm.local/v1/chat/completions', { method: 'POST', body: JSON.stringify({ ...requests[0], model: 'nope' }) });
      const before = await engine.memory();
      const tinyHeap = engine.models.info().find((m) => m.id === 'tiny').bytes.heap;
      await engine.unload('tiny');
      const after = await engine.memory();
      await engine.terminate();
      return { replies: replies.map((r) => [r.model, r.choices[0].message.content]), ids: list.data.map((m) => m.id),
        missing: { status: missing.status, body: await missing.json() }, freed: before.heaps[0].inUseBytes - after.heaps[0].inUseBytes, tinyHeap,
        models: [before.heaps[0].models, after.heaps[0].models] };
    }, { requests: ['tiny', 'stories', 'tiny', 'stories'].map(ask) });
    for (const [model, text] of out.replies) assert.equal(text, expected[model], `${model}: ${text}`);
    assert.deepEqual(out.replies.map(([model]) => model), ['tiny', 'stories', 'tiny', 'stories']);
    assert.deepEqual(out.ids, ['stories', 'tiny']);
    assert.equal(out.missing.status, 404);
    assert.deepEqual({ ...out.missing.body.error, message: undefined }, { message: undefined, type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
    assert.deepEqual(out.models, [2, 1]);
    assert.ok(out.freed > out.tinyHeap - 4096, `unload freed ${out.freed} bytes; the load took ${out.tinyHeap}`);
  } finally {
    await chromium.close();
    await server.close();
  }
});
