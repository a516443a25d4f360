// Options and requests at the edges: unknown createEngine options are errors naming them (WebLLM's names
// for the same things work), a context beyond the model's is refused, request keys named like
// Object.prototype's are plain unknown keys, a schema nested past the limit is a 400 naming the limit, a
// stream keeps its place in the queue from the moment it is made, and a model path that is no file gets
// an error that says so.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { TabllmAPIError, createEngine, createWorkerEngine } from '../../js/src/index.mjs';
import { missingBuild, reference, storiesEngine, storiesPath } from './api-env.mjs';
import { skipOrFail, wasmDir } from './wasm_env.mjs';

let engine = null;
const skip = missingBuild();
before(async () => {
  if (!skip) engine = await storiesEngine({ contextSize: 128 });
});
after(() => engine?.unload());

const user = [{ role: 'user', content: 'Once upon a time' }];

// ---- createEngine options

test('an unknown createEngine option is an error naming it, with the nearest known name', async () => {
  await assert.rejects(createEngine({ model: 'm.gguf', contxtSize: 256 }), (e) => {
    assert.ok(e instanceof TypeError);
    assert.match(e.message, /unknown option "contxtSize": did you mean "contextSize"\?/);
    return true;
  });
  await assert.rejects(createEngine({ model: 'm.gguf', appConfig: {} }), /unknown option "appConfig" \(a WebLLM option: give the model itself as `model`/);
  await assert.rejects(createEngine({ model: 'm.gguf', contextSize: 0 }), /contextSize must be a positive integer, got 0/);
  await assert.rejects(createEngine({ model: 'm.gguf', onProgress() {}, initProgressCallback() {} }), /"initProgressCallback" and "onProgress" are the same option/);
  // The worker's proxy checks before it starts a worker; what cannot cross to the worker is named.
  await assert.rejects(createWorkerEngine({ model: 'm.gguf', progressCallback() {} }), /createWorkerEngine: unknown option "progressCallback"/);
  await assert.rejects(createWorkerEngine({ model: 'm.gguf', device: {} }), /the option "device" cannot cross to the worker/);
});

test("WebLLM's names work as aliases: initProgressCallback gets WebLLM's report, context_window_size sets the context", async (t) => {
  if (skip) return skipOrFail(t, skip);
  const reports = [];
  const other = await createEngine({ model: storiesPath(), backend: 'wasm', wasmVariant: 'single', context_window_size: 96, initProgressCallback: (r) => reports.push(r) });
  try {
    assert.equal(other.contextSize, 96);
    assert.ok(reports.length >= 2);
    for (const r of reports) {
      assert.ok(r.progress >= 0 && r.progress <= 1, JSON.stringify(r));
      assert.equal(typeof r.text, 'string');
      assert.ok(r.timeElapsed >= 0);
    }
    assert.deepEqual([reports.at(-1).phase, reports.at(-1).progress], ['ready', 1]);
  } finally {
    await other.unload();
  }
});

test("a contextSize beyond the model's is an error naming both, not a silent clamp", async (t) => {
  if (skip) return skipOrFail(t, skip);
  await assert.rejects(storiesEngine({ contextSize: 100_000 }), (e) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, /contextSize 100000 is more than the model's context of 512 tokens: give at most 512/);
    return true;
  });
  const full = await storiesEngine({ contextSize: 512 });
  assert.equal(full.contextSize, 512);
  await full.unload();
});

// ---- requests

test('a request key named like a property of Object.prototype is an unknown key, named in a 400', async (t) => {
  if (skip) return skipOrFail(t, skip);
  for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const body = JSON.parse(`{"messages": ${JSON.stringify(user)}, ${JSON.stringify(key)}: {"x": 1}}`);
    assert.ok(Object.hasOwn(body, key));
    await assert.rejects(engine.chat.completions.create(body), (e) => {
      assert.ok(e instanceof TabllmAPIError, String(e));
      assert.deepEqual([e.status, e.param, e.code, e.message], [400, key, 'unknown_parameter', `unrecognized request argument: ${key}`]);
      return true;
    });
    const r = await engine.fetch('http://tabllm.local/v1/completions', { method: 'POST', body: `{"prompt": "Once", ${JSON.stringify(key)}: 1}` });
    assert.equal(r.status, 400);
    assert.deepEqual((await r.json()).error.param, key);
  }
});

// {type: object, properties: {a: {type: object, properties: {a: ...}}}}, `levels` objects deep.
function nestedSchema(levels) {
  let schema = { type: 'integer' };
  for (let i = 0; i < levels; i++) schema = { type: 'object', properties: { a: schema }, required: ['a'] };
  return schema;
}

test('a json_schema nested 1,000 levels deep is a 400 naming the depth limit, and the engine goes on', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const format = { type: 'json_schema', json_schema: { name: 'deep', schema: nestedSchema(1000) } };
  await assert.rejects(engine.chat.completions.create({ messages: user, response_format: format, max_tokens: 4 }), (e) => {
    assert.ok(e instanceof TabllmAPIError, String(e));
    assert.deepEqual([e.status, e.param, e.code], [400, 'response_format', 'invalid_value']);
    assert.equal(e.message, 'response_format nests too deeply (more than 512 levels of JSON)');
    return true;
  });
  const r = await engine.fetch('http://tabllm.local/v1/chat/completions', { method: 'POST', body: JSON.stringify({ messages: user, response_format: format }) });
  assert.equal(r.status, 400);
  assert.match((await r.json()).error.message, /more than 512 levels of JSON/);
  // Within the JSON limit, past the schema compiler's own limit of schema levels: a 400 as well.
  const deepSchema = { type: 'json_schema', json_schema: { name: 'deep', schema: nestedSchema(201) } };
  await assert.rejects(engine.chat.completions.create({ messages: user, response_format: deepSchema }), (e) => {
    assert.deepEqual([e.status, e.code], [400, 'invalid_response_format']);
    assert.match(e.message, /the schema nests too deeply \(more than 200 levels\)/);
    return true;
  });
  // Within both it is an ordinary schema.
  const ok = await engine.chat.completions.create({ messages: user, response_format: { type: 'json_schema', json_schema: { name: 'n', schema: nestedSchema(3) } }, temperature: 0, max_tokens: 40 });
  assert.equal(ok.choices[0].message.content.slice(0, 1), '{');
});

test("the schema compiler refuses JSON nested past its limit while parsing, on every entry (here the development module's grammar ABI)", async (t) => {
  if (skip) return skipOrFail(t, skip);
  const { default: createTabllmModule } = await import(pathToFileURL(path.join(wasmDir, 'tabllm-dev.mjs')));
  const M = await createTabllmModule();
  const text = (s) => {
    const bytes = new TextEncoder().encode(s);
    const ptr = M._malloc(bytes.length + 1);
    M.HEAPU8.set(bytes, ptr);
    M.HEAPU8[ptr + bytes.length] = 0;
    return ptr;
  };
  const gguf = fs.readFileSync(storiesPath());
  const bytes = M._malloc(gguf.length);
  M.HEAPU8.set(gguf, bytes);
  const vocab = M._tabllm_grammar_vocab_load(bytes, gguf.length);
  M._free(bytes);
  assert.ok(vocab, M.UTF8ToString(M._tabllm_last_error()));
  const schema = text(JSON.stringify(nestedSchema(1000)));
  const compiled = M._tabllm_grammar_compile_json_schema(vocab, schema, 0);
  assert.equal(compiled, 0);
  assert.match(M.UTF8ToString(M._tabllm_last_error()), /the schema nests too deeply \(more than 512 levels of JSON\)/);
  M._free(schema);
  M._tabllm_grammar_vocab_free(vocab);
});

test('a stream takes its place in the queue when created: a later request does not overtake it', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const request = { messages: [{ role: 'user', content: ref.prompt }], temperature: 0, max_tokens: 24 };
  const first = new AbortController();
  const stream = await engine.chat.completions.create({ ...request, stream: true }, { signal: first.signal });
  const later = await engine.chat.completions.create(request);
  // The stream ran before the later request: aborting it now has nothing left to stop.
  first.abort();
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, later.choices[0].message.content);
  assert.equal(finish, later.choices[0].finish_reason);
});

test('a stream whose reader stops early ends its run; the queue moves on', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const stream = await engine.completions.create({ prompt: 'Once upon a time', temperature: 0, max_tokens: 100, stream: true });
  for await (const chunk of stream) if (chunk.choices[0]?.text) break;
  const next = await engine.completions.create({ prompt: 'Once upon a time', temperature: 0, max_tokens: 4 });
  assert.equal(next.choices[0].finish_reason, 'length');
});

// ---- the model file

test('a directory, a named pipe or a device as the model is an error saying what it is', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-model-'));
  try {
    const pipe = path.join(dir, 'model.gguf');
    execFileSync('mkfifo', [pipe]);
    const cases = [[dir, 'a directory'], [pipe, 'a named pipe'], ['/dev/null', 'a device']];
    for (const [model, kind] of cases) {
      await assert.rejects(createEngine({ model, backend: 'wasm', wasmVariant: 'single' }), (e) => {
        assert.equal(e.message, `cannot open the model file ${model}: it is ${kind}, not a file: give the path of a GGUF file`);
        assert.doesNotMatch(e.message, /EISDIR/);
        return true;
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
