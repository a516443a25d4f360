// The chat demo's model list in headless Chromium: the Hugging Face instruct models with their download size
// and memory need, what the built-in story model is, a model from the list loaded from its huggingface.co URL
// (answered by Playwright routing with a local file under the same path: stories260K with a chat template
// added) and chatted with, the warning for a model without a chat template, and a split model chosen as files.
//
//   node --test --test-concurrency=1 tests/browser/chat-models.test.mjs
// Screenshot: build/test-artifacts/chat-models.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { serveChat } from '../../apps/chat/server.mjs';
import { HUGGING_FACE_MODELS } from '../../apps/chat/models.mjs';
import { readGgufHeader } from '../../js/src/loader/gguf_header.mjs';
import { launchChromium, repoRoot, routeHuggingFace, sharedRoot } from './harness.mjs';
import { modelsDir, nativeBuildDir, skipOrFail, storiesModel, wasmDir } from '../js/wasm_env.mjs';

const ARTIFACTS = path.join(repoRoot, 'build/test-artifacts');
const OUT = path.join(repoRoot, 'build/chat-models');
const reference = JSON.parse(fs.readFileSync(path.join(sharedRoot, 'models/stories260K/greedy_reference.jsonl'), 'utf8').split('\n')[0]);
// The chat template renders the user's words as they are, so the greedy reply is the reference's continuation.
const TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}";

let chromium;
let server;
let skip = null;

// A GGUF file with one more metadata entry (a string), its tensors untouched.
async function withStringEntry(bytes, key, value) {
  const h = await readGgufHeader(async (o, n) => bytes.subarray(o, o + n), bytes.length, 'model');
  const entriesEnd = h.entries.at(-1).raw.byteOffset + h.entries.at(-1).raw.length - bytes.byteOffset;
  const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
  const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  const str = (s) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
  const head = Buffer.concat([
    bytes.subarray(0, 8), u64(h.tensors.length), u64(h.entries.length + 1), bytes.subarray(24, entriesEnd),
    str(key), u32(8), str(value), bytes.subarray(entriesEnd, h.headerEnd),
  ]);
  const padded = Buffer.alloc(Math.ceil(head.length / h.alignment) * h.alignment);
  head.copy(padded);
  return Buffer.concat([padded, bytes.subarray(h.dataOffset)]);
}

// The same file with a u32 metadata value changed in place (the key must exist and hold a u32).
function withU32Entry(bytes, key, value) {
  const out = Buffer.from(bytes);
  const at = out.indexOf(Buffer.from(key)) + Buffer.byteLength(key);
  assert.ok(at > Buffer.byteLength(key) && out.readUInt32LE(at) === 4, `${key} is not a u32 entry`);
  out.writeUInt32LE(value, at + 4);
  return out;
}

before(async () => {
  if (!fs.existsSync(path.join(wasmDir, 'tabllm-st.mjs'))) return void (skip = `${wasmDir}/tabllm-st.mjs is missing: run scripts/build-wasm.sh`);
  execFileSync(process.execPath, [path.join(repoRoot, 'apps/chat/build.mjs'), '--dev', '--out', OUT], { stdio: 'inherit' });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  server = await serveChat({ root: OUT });
  chromium = await launchChromium();
});

after(async () => {
  await chromium?.close();
  await server?.close();
});

// A fresh browser profile whose requests to huggingface.co are answered from `files` (path → bytes).
async function hubContext(files) {
  const context = await chromium.browser.newContext();
  const requests = await routeHuggingFace(context, files);
  const page = await context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`[page exception] ${e.stack ?? e.message}\n`));
  page.on('console', (m) => { if (m.type() === 'error') process.stderr.write(`[page error] ${m.text()}\n`); });
  page.setDefaultTimeout(120_000);
  return { context, page, requests };
}

async function chat(page, text) {
  await page.locator('#prompt').fill(text);
  const count = await page.evaluate(() => window.tabllmChat.replies.length);
  await page.locator('#send').click();
  await page.waitForFunction((n) => window.tabllmChat.replies.length > n, count, { polling: 100 });
  return page.evaluate(() => window.tabllmChat.replies.at(-1));
}

test('the demo lists real instruct models from Hugging Face, loads one from its huggingface.co URL, and chats', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const entry = HUGGING_FACE_MODELS.find((m) => m.name.startsWith('Qwen2.5 0.5B'));
  const [, owner, repo, file] = /^hf:([^/]+)\/([^/]+)\/(.+)$/.exec(entry.model);
  const hubPath = `/${owner}/${repo}/resolve/main/${file}`;
  // Stands in for the listed model: the demo asks for its context of entry.contextSize tokens.
  const model = await withStringEntry(withU32Entry(storiesModel('f32'), 'llama.context_length', entry.contextSize), 'tokenizer.chat_template', TEMPLATE);
  const { context, page, requests } = await hubContext({ [hubPath]: model });
  try {
    await page.goto(`${server.url}?autoload=0&sw=0&max_tokens=24&temperature=0`);
    await page.waitForFunction(() => document.querySelectorAll('#model-select optgroup option').length > 0);
    const listed = await page.locator('#model-select optgroup option').evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent })));
    assert.deepEqual(listed.map((o) => o.value), HUGGING_FACE_MODELS.map((m) => m.model));
    for (const o of listed) assert.match(o.text, /· \d\.\d\d GB · needs \d\.\d\d GB$/, o.text);
    for (const name of ['Qwen2.5 0.5B', 'Qwen2.5 1.5B', 'Llama 3.2 1B', 'SmolLM2 1.7B', 'Gemma 3 1B', 'Phi-3.5 mini']) {
      assert.ok(listed.some((o) => o.text.startsWith(name)), `${name} is offered`);
    }
    assert.match(await page.locator('#model-note').textContent(), /tiny story generator .* not a chat model/);

    await page.locator('#model-select').selectOption(entry.model);
    assert.match(await page.locator('#model-note').textContent(), /^Qwen2\.5 0\.5B Instruct: a download of about 0\.49 GB .* needs about 0\.\d\d GB of memory at a context of 4096 tokens\. From huggingface\.co\/Qwen\/Qwen2\.5-0\.5B-Instruct-GGUF\.$/);
    await page.locator('#load').click();
    await page.waitForFunction(() => window.tabllmChat.loads >= 1, null, { polling: 200 });
    const loaded = await page.evaluate(() => ({ state: window.tabllmChat.state, errors: window.tabllmChat.errors, chatTemplate: window.tabllmChat.chatTemplate }));
    assert.equal(loaded.state, 'ready', loaded.errors.join('; '));
    assert.equal(loaded.chatTemplate, true);
    assert.ok(await page.locator('#model-warning').isHidden());
    assert.ok(requests.some((r) => r.path === hubPath && r.method === 'GET'), 'the model came from its huggingface.co URL');

    const reply = await chat(page, reference.prompt);
    assert.equal(reply.finishReason, 'length');
    assert.ok(reference.text.startsWith(reply.text) && reply.text.length > 40, reply.text);
    assert.match(await page.locator('#engine-status').textContent(), /qwen2\.5-0\.5b-instruct-q4_k_m\.gguf on \w+/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'chat-models.png'), fullPage: true });
  } finally {
    await context.close();
  }
});

test('the built-in story model is described, and the demo warns that it has no chat template', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const { context, page } = await hubContext({});
  try {
    await page.goto(`${server.url}?sw=0`);
    await page.waitForFunction(() => window.tabllmChat.loads >= 1, null, { polling: 200 });
    assert.equal(await page.evaluate(() => window.tabllmChat.state), 'ready');
    assert.match(await page.locator('#model-note').textContent(), /^stories260K is a tiny story generator/);
    assert.ok(await page.locator('#model-warning').isVisible());
    assert.match(await page.locator('#model-warning').textContent(), /no chat template/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'chat-models-stories.png'), fullPage: true });
  } finally {
    await context.close();
  }
});

test('a split model chosen as its 3 files loads and chats', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-chat-split-'));
  storiesModel('f32');
  const paths = execFileSync(path.join(nativeBuildDir, 'bin/tabllm'), ['split', path.join(modelsDir, 'stories260K-f32.gguf'), '--parts', '3', '--out', path.join(dir, 'stories260K-f32')], { encoding: 'utf8' }).trim().split('\n');
  const { context, page } = await hubContext({});
  try {
    await page.goto(`${server.url}?autoload=0&sw=0&max_tokens=24&temperature=0&mode=text`);
    await page.waitForFunction(() => document.querySelectorAll('#model-select optgroup option').length > 0);
    await page.locator('#model-select').selectOption('file');
    await page.locator('#model-file').setInputFiles([paths[2], paths[0], paths[1]]);
    await page.locator('#load').click();
    await page.waitForFunction(() => window.tabllmChat.loads >= 1, null, { polling: 200 });
    const loaded = await page.evaluate(() => ({ state: window.tabllmChat.state, errors: window.tabllmChat.errors }));
    assert.equal(loaded.state, 'ready', loaded.errors.join('; '));
    assert.match(await page.locator('#engine-status').textContent(), /^stories260K-f32-00001-of-00003\.gguf \(3 parts\) on \w+/);
    const reply = await chat(page, reference.prompt);
    assert.ok(reference.text.startsWith(reply.text) && reply.text.length > 40, reply.text);
  } finally {
    await context.close();
  }
});
