// A Node host keeps its own crash handling: importing tabllm and creating an engine adds no process-wide
// uncaughtException / unhandledRejection handlers, so the host's own errors end the process as Node
// ends it (the error's stack on stderr, exit code 1), and a host that handles them keeps running.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { createEngine } from '../../js/src/index.mjs';
import { missingBuild, reference, storiesPath } from './api-env.mjs';
import { skipOrFail, wasmDir } from './wasm_env.mjs';

const index = pathToFileURL(path.resolve(import.meta.dirname, '../../js/src/index.mjs')).href;

function missingThreaded() {
  for (const f of ['tabllm.mjs', 'tabllm.wasm', 'tabllm.worker.js']) if (!fs.existsSync(path.join(wasmDir, f))) return `${path.join(wasmDir, f)} is missing: run scripts/build-wasm.sh`;
  return missingBuild();
}

// Runs `body` as an ES module after an engine (threaded WebAssembly, the Node default) has loaded.
function host(body) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-host-'));
  const file = path.join(dir, 'host.mjs');
  fs.writeFileSync(file, [
    `import { createEngine } from ${JSON.stringify(index)};`,
    `const engine = await createEngine({ model: ${JSON.stringify(storiesPath())}, backend: 'wasm', threads: 2 });`,
    body,
  ].join('\n'));
  try {
    return spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

for (const variant of ['threaded', 'single']) {
  test(`creating an engine (${variant} WebAssembly) adds no process-wide error handlers`, async (t) => {
    const skip = missingThreaded();
    if (skip) return skipOrFail(t, skip);
    const before = ['uncaughtException', 'unhandledRejection'].map((e) => process.listenerCount(e));
    const engine = await createEngine({ model: storiesPath(), backend: 'wasm', wasmVariant: variant, threads: 2 });
    try {
      assert.equal(engine.runtime.variant, variant);
      assert.deepEqual(['uncaughtException', 'unhandledRejection'].map((e) => process.listenerCount(e)), before);
    } finally {
      await engine.unload();
    }
  });
}

test("a host's uncaught error ends it as Node does: its stack on stderr, exit code 1", (t) => {
  const skip = missingThreaded();
  if (skip) return skipOrFail(t, skip);
  const r = host(`setTimeout(function hostTimer() { throw new Error('the host failed'); }, 0);`);
  assert.equal(r.status, 1, r.stderr.slice(0, 2000));
  assert.match(r.stderr, /Error: the host failed\n\s+at (Timeout\.)?hostTimer/);
  // Node's report, not a line of the engine's minified code.
  assert.ok(r.stderr.length < 2000, `stderr is ${r.stderr.length} characters:\n${r.stderr.slice(0, 500)}`);
});

test("a host's unhandled rejection ends it as Node does: exit code 1 with the reason", (t) => {
  const skip = missingThreaded();
  if (skip) return skipOrFail(t, skip);
  const r = host(`Promise.reject(new Error('a promise of the host'));`);
  assert.equal(r.status, 1, r.stderr.slice(0, 2000));
  assert.match(r.stderr, /Error: a promise of the host/);
  assert.ok(r.stderr.length < 2000, `stderr is ${r.stderr.length} characters`);
});

test('a host with its own uncaughtException handler keeps running, and so does the engine', (t) => {
  const skip = missingThreaded();
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const r = host(`
const caught = [];
process.on('uncaughtException', (e) => caught.push(e.message));
process.on('unhandledRejection', (e) => caught.push(e.message));
setTimeout(() => { throw new Error('first'); }, 0);
Promise.reject(new Error('second'));
await new Promise((resolve) => setTimeout(resolve, 50));
const reply = await engine.chat.completions.create({ messages: [{ role: 'user', content: ${JSON.stringify(ref.prompt)} }], temperature: 0, max_tokens: 8 });
await engine.unload();
console.log(JSON.stringify({ caught, text: reply.choices[0].message.content }));
`);
  assert.equal(r.status, 0, r.stderr.slice(0, 2000));
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
  assert.deepEqual(out.caught.sort(), ['first', 'second']);
  assert.ok(ref.text.startsWith(out.text) && out.text.length > 0, out.text);
});
