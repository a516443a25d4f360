// Paged KV and the prefix cache on WebGPU in Node (Dawn; SwiftShader without a GPU), stories260K f16 (640
// bytes a position on both backends): a budget of one page holds a window of 256 positions of a context of
// 512. A prompt longer than the window runs through it; at its shift the rows it drops are read back from
// the GPU and written as KV pages: the same pages (within the GPU's float rounding) and the same reply as
// the WebAssembly engine's pager, counted in usage.kv_pages and engine.kvPagerStats(); a store that refuses
// every page warns and the reply stays the same. A reopened WebGPU engine restores a conversation's stored
// pages (written from rows read back from the GPU) and answers as a prefill does. Few tokens: SwiftShader
// decodes about one a second on a busy 2-core machine.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { createEngine } from '../../js/src/index.mjs';
import { KvPageSpill } from '../../js/src/kv_pager.mjs';
import { MemoryPageStore } from '../../js/src/prefix_cache.mjs';
import { nodeFileReader } from '../../js/src/gpu/model_runner.mjs';
import { requestNodeDevice } from '../../js/src/gpu/node_device.mjs';
import { WebgpuRunner } from '../../js/src/runners/webgpu_runner.mjs';
import { missingBuild, storiesEngine, storiesPath } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';

const BUDGET = 256 * 640;  // one page of stories260K's f16 rows
const CONTEXT = 512;
const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ';
const prompt = story.repeat(8);  // ~280 tokens: the window of 256 shifts once, paging out [4, 130)
const request = { prompt, max_tokens: 4, temperature: 0, logit_bias: { 1: -100, 2: -100 } };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-webgpu-kv-'));
process.env.TABLLM_KV_DIR = dir;  // the pager's folders and the prefix cache's
let skip = missingBuild();
let gpu = null;  // {device, limits}
let pagedText = null;  // the paged WebGPU engine's reply

before(async () => {
  if (skip) return;
  try {
    gpu = await requestNodeDevice();
  } catch (e) {
    skip = `no WebGPU device: ${e.message}`;
  }
});
after(() => {
  gpu?.device.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

const webgpuEngine = (options) => createEngine({ model: storiesPath(), backend: 'webgpu', device: gpu.device, contextSize: CONTEXT, ...options });

// The `count` pages of an engine's live spill (unsealed: encryption false), by name, read before it unloads
// once its background writes are done.
async function spillPages(before, count) {
  const folder = fs.readdirSync(dir).find((f) => f.startsWith('tabllm-kv-pages-') && !before.has(f));
  const names = () => fs.readdirSync(path.join(dir, folder)).filter((f) => /^kv-\d+$/.test(f));
  for (const started = Date.now(); names().length < count && Date.now() - started < 10_000;) await new Promise((resolve) => setTimeout(resolve, 20));
  return new Map(names().map((name) => [name, new Uint8Array(fs.readFileSync(path.join(dir, folder, name)))]));
}

// A KV page (core/runtime/kv_pages.h): 7 header words (magic, format, type, layers, row bytes, start,
// count), the tokens, the rows, an 8-byte checksum.
function readPage(bytes) {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, 7);
  const rowsAt = 28 + 4 * words[6];
  return { header: [...words.slice(2)], tokens: [...new Int32Array(bytes.slice(28, rowsAt).buffer)],
    rows: new Uint16Array(bytes.slice(rowsAt, bytes.length - 8).buffer) };
}

function halfToFloat(h) {
  const e = (h >> 10) & 31, m = h & 1023, s = h >> 15 ? -1 : 1;
  return s * (e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15));
}

async function pagedReply(open) {
  const before = new Set(fs.readdirSync(dir));
  const engine = await open({ kvBudget: BUDGET, encryption: false });
  try {
    const reply = await engine.completions.create(request);
    const pages = await spillPages(before, reply.usage.kv_pages.pages_out);
    return { reply, pages, stats: engine.kvPagerStats(), runtime: engine.runtime };
  } finally {
    await engine.unload();
  }
}

test('webgpu under a kvBudget: a shift\'s dropped rows go out as the CPU pager\'s pages, and the reply is the CPU\'s', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const g = await pagedReply(webgpuEngine);
  const c = await pagedReply(storiesEngine);
  const { usage } = g.reply;
  t.diagnostic(`window ${g.runtime.kvWindow}: ${usage.context_shifts} shifts, ${usage.kv_pages.pages_out} pages out, ` +
    `read back ${g.stats.readBackMs.toFixed(1)} ms, paged out ${g.stats.pageOutMs.toFixed(1)} ms`);
  assert.equal(g.runtime.kvWindow, 256);
  assert.equal(g.reply.choices[0].text, c.reply.choices[0].text);
  pagedText = g.reply.choices[0].text;
  assert.ok(usage.kv_pages.pages_out >= 1, JSON.stringify(usage));
  assert.deepEqual(usage.kv_pages.pages_out, c.reply.usage.kv_pages.pages_out);
  assert.equal(g.stats.pagesOut, usage.kv_pages.pages_out);
  assert.equal(g.stats.store.pagesWritten, usage.kv_pages.pages_out);
  assert.ok(g.stats.readBackMs > 0);

  const names = [...c.pages.keys()].sort();
  assert.deepEqual([...g.pages.keys()].sort(), names);
  let diff = 0, scale = 0;
  for (const name of names) {
    const a = readPage(g.pages.get(name)), b = readPage(c.pages.get(name));
    assert.deepEqual(a.header, b.header, name);  // type, layers, row bytes, position, count
    assert.deepEqual(a.tokens, b.tokens, name);
    for (let i = 0; i < b.rows.length; i++) {
      const x = halfToFloat(a.rows[i]), y = halfToFloat(b.rows[i]);
      diff = Math.max(diff, Math.abs(x - y));
      scale = Math.max(scale, Math.abs(y));
    }
  }
  t.diagnostic(`pages: max |GPU - CPU| ${diff.toExponential(2)} of max ${scale.toFixed(2)}`);
  assert.ok(diff <= 2e-3 * scale, `${diff} of ${scale}`);
});

test('webgpu under a kvBudget: a store that refuses every page warns, and the reply is the same', async (t) => {
  if (skip || !pagedText) return skipOrFail(t, skip || 'the paged reply of the test before is missing');
  const store = new MemoryPageStore();
  const spill = new KvPageSpill(store, { maxBytes: 1 });  // every page is refused: "full"
  const file = await nodeFileReader(storiesPath());
  const runner = await WebgpuRunner.create(file, { device: gpu.device, limits: gpu.limits, contextSize: CONTEXT, kvBudget: BUDGET,
    kvPages: { spill, close: () => spill.flush() } });
  try {
    const { logit_bias, max_tokens, temperature } = request;
    const steps = runner.run(prompt, { max_tokens, temperature, logit_bias }, { wantTokens: false, shouldStop: () => false });
    let done;
    while (!(done = await steps.next()).done);
    const { result } = done.value;
    assert.equal(result.text, pagedText);
    assert.equal(result.kv_pages.pages_out, 0);
    assert.ok(result.kv_pages.failures >= 1, JSON.stringify(result.kv_pages));
    assert.match(result.warnings[0], /full.*plain context shift/);
    assert.equal(store.files.size, 0);
  } finally {
    await runner.destroy();
    await file.close();
  }
});

test('webgpu prefix cache: a reopened engine restores the stored pages (read back from the GPU) and answers as a prefill', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const first = { prompt, max_tokens: 2, temperature: 0 };
  const a = await webgpuEngine({ prefixCache: true });
  let next;
  try {
    const one = await a.completions.create(first);
    await a.flushPrefixCache();
    assert.ok(a.prefixCacheStats().pages_written >= 1, JSON.stringify(a.prefixCacheStats()));
    next = { ...first, prompt: first.prompt + one.choices[0].text + ' The next day,', max_tokens: 4 };
  } finally {
    await a.unload();
  }
  const cpu = await storiesEngine({ contextSize: CONTEXT });
  const expected = await cpu.completions.create(next);
  await cpu.unload();
  const b = await webgpuEngine({ prefixCache: true });
  try {
    const got = await b.completions.create(next);
    t.diagnostic(`prompt ${got.usage.prompt_tokens} tokens, ${got.usage.timings.prompt_tokens_reused} restored`);
    assert.ok(got.usage.timings.prompt_tokens_reused >= 256, JSON.stringify(got.usage.timings));
    assert.equal(got.choices[0].text, expected.choices[0].text);
  } finally {
    await b.unload();
  }
});
