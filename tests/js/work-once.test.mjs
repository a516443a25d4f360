// Work done once, counted by the core (tabllm_debug_stats): loading a model parses its GGUF header once
// (also on WebGPU, where the plan is made from the header the core kept), and a request tokenizes its
// prompt once and reads its response_format once, for all of its choices — on the WebAssembly engine and
// on WebGPU (SwiftShader in Node).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { createEngine } from '../../js/src/index.mjs';
import { missingBuild, reference, storiesPath } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

const engines = [];
after(async () => {
  for (const engine of engines) await engine.unload();
});

// The counters' growth while fn runs.
async function counted(engine, fn) {
  const before = engine.debugStats();
  await fn();
  const now = engine.debugStats();
  return Object.fromEntries(Object.keys(now).map((k) => [k, now[k] - before[k]]));
}

const messages = () => [{ role: 'user', content: reference().prompt }];
const SCHEMA = { type: 'object', properties: { name: { type: 'string', maxLength: 8 } }, required: ['name'], additionalProperties: false };

for (const backend of ['wasm', 'webgpu']) {
  test(`${backend}: one header parse per load, one tokenization and one format read per request`, async (t) => {
    const missing = missingBuild();
    if (missing) return skipOrFail(t, missing);
    let engine;
    try {
      engine = await createEngine({ model: storiesPath(), backend, wasmVariant: 'single', contextSize: 256 });
    } catch (e) {
      if (backend === 'webgpu') return skipOrFail(t, `no WebGPU engine: ${e.message}`);
      throw e;
    }
    engines.push(engine);
    assert.equal(engine.backend, backend);
    assert.deepEqual(engine.debugStats(), { header_parses: 1, tokenizations: 0, format_parses: 0 }, 'after the load');

    const structured = await counted(engine, async () => {
      const r = await engine.chat.completions.create({
        messages: messages(), temperature: 0, max_tokens: 4, n: 2,  // what is counted is per request: a few tokens show it
        response_format: { type: 'json_schema', json_schema: { name: 'pet', schema: SCHEMA } },
      });
      assert.equal(r.choices.length, 2);
      for (const c of r.choices) if (c.finish_reason === 'stop') assert.equal(typeof JSON.parse(c.message.content).name, 'string');
    });
    assert.deepEqual(structured, { header_parses: 0, tokenizations: 1, format_parses: 1 }, 'a request with a response_format and two choices');

    const streamed = await counted(engine, async () => {
      let text = '';
      for await (const chunk of await engine.completions.create({ prompt: reference().prompt, temperature: 0, max_tokens: 4, stream: true })) text += chunk.choices[0]?.text ?? '';
      assert.ok(reference().text.startsWith(text) && text.length > 0, text);
    });
    assert.deepEqual(streamed, { header_parses: 0, tokenizations: 1, format_parses: 0 }, 'a streamed request without a format');

    // The counters can fail: a refused format is read once and nothing is tokenized.
    const refused = await counted(engine, async () => {
      await assert.rejects(engine.chat.completions.create({ messages: messages(), response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'strng' } } } }),
        (e) => e.param === 'response_format.json_schema.schema');
    });
    assert.deepEqual(refused, { header_parses: 0, tokenizations: 0, format_parses: 1 }, 'a refused format');
  });
}
