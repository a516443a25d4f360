// `tabllm serve` with several models (-m NAME=FILE, more than once): real HTTP on 127.0.0.1 through the
// `openai` client. /v1/models lists them, a request's `model` picks the one that answers (stories260K's
// greedy reference, or tiny-llama's own reply), an unknown name is OpenAI's 404; wrong model flags are one
// line on stderr and exit 1.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

import OpenAI from 'openai';

import { createEngine } from '../../js/src/index.mjs';
import { missingBuild, reference, storiesPath } from './api-env.mjs';
import { modelsDir, skipOrFail, synthModel } from './wasm_env.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'js/bin/tabllm.mjs');
const skip = missingBuild();
const ask = (model) => ({ model, messages: [{ role: 'user', content: reference().prompt }], temperature: 0, max_tokens: 16 });

test('tabllm serve -m a=FILE -m tiny=FILE: each model answers the requests naming it; an unknown one is a 404', async (t) => {
  if (skip) return skipOrFail(t, skip);
  synthModel('tiny-llama', 'f32');
  const tinyPath = path.join(modelsDir, 'tiny-llama-f32.gguf');
  const alone = await createEngine({ model: tinyPath, backend: 'wasm', wasmVariant: 'single', contextSize: 128 });
  const tinyReply = (await alone.chat.completions.create(ask(undefined))).choices[0].message.content;
  await alone.unload();

  const child = spawn(process.execPath, [cli, 'serve', '-m', `a=${storiesPath()}`, '--model', `tiny=${tinyPath}`, '--backend', 'wasm',
    '--threads', '1', '--ctx', '128', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    for (let i = 0; i < 1500 && !/ready:/.test(stdout) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(stdout, /ready: a on wasm, 1 threads, context 128, tiny on wasm, context 128;/, stdout + stderr);
    const base = /listening on (http:\/\/\S+)/.exec(stdout)[1];
    const client = new OpenAI({ apiKey: 'none', baseURL: `${base}/v1` });
    assert.deepEqual((await client.models.list()).data.map((m) => m.id), ['a', 'tiny']);
    const replies = await Promise.all(['tiny', 'a', 'tiny'].map((name) => client.chat.completions.create(ask(name))));
    assert.deepEqual(replies.map((r) => r.model), ['tiny', 'a', 'tiny']);
    assert.equal(replies[0].choices[0].message.content, tinyReply);
    assert.equal(replies[2].choices[0].message.content, tinyReply);
    const text = replies[1].choices[0].message.content;
    assert.ok(text.length > 15 && reference().text.startsWith(text), text);
    await assert.rejects(client.chat.completions.create(ask('b')), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, String(e));
      assert.deepEqual([e.status, e.type, e.param, e.code], [404, 'invalid_request_error', 'model', 'model_not_found']);
      assert.match(e.message, /the model 'b' does not exist \(models loaded: 'a', 'tiny'\)/);
      return true;
    });
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  } finally {
    child.kill('SIGKILL');
  }
});

test('tabllm serve: wrong model flags are one line on stderr and exit 1', (t) => {
  if (skip) return skipOrFail(t, skip);
  const run = (...args) => spawnSync(process.execPath, [cli, 'serve', ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.match(run('--help').stdout, /-m NAME=FILE/);
  for (const [args, message] of [
    [['-m', `a=${storiesPath()}`, '-m', `a=${storiesPath()}`], /two models are named 'a'/],
    [['-m', `a=${storiesPath()}`, '-m', `b=${storiesPath()}`, '--model-name', 'x'], /--model-name names the only model/],
    [['-m', `a=${storiesPath()}`, '-m', 'b=/nonexistent/model.gguf'], /cannot open model \/nonexistent\/model.gguf/],
    [['-m', storiesPath(), '--memory-budget', '0'], /--memory-budget must be a positive number/],
  ]) {
    const r = run(...args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
