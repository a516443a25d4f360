// The chat demo's Notes view in headless Chromium: the embedding model joins the chat model's engine on first
// use, from its huggingface.co URL (answered by Playwright routing with a synthetic tiny-bert made by
// `tabllm synth`); a failed download is shown in the view and the page goes on; four pasted notes are
// searched with one note's own text, which ranks first at cosine 1; the chat still answers with its model;
// Clear empties the index.
//
//   node --test tests/browser/chat-notes.test.mjs
// Screenshot: build/test-artifacts/chat-notes.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { serveChat } from '../../apps/chat/server.mjs';
import { NOTES_MODEL } from '../../apps/chat/models.mjs';
import { launchChromium, repoRoot, routeHuggingFace } from './harness.mjs';
import { skipOrFail, synthModel, wasmDir } from '../js/wasm_env.mjs';

const ARTIFACTS = path.join(repoRoot, 'build/test-artifacts');
const OUT = path.join(repoRoot, 'build/chat-notes');
const NOTES = [
  'The quarterly report is due on Friday; Maria collects the figures from each team by Wednesday noon.',
  'Dentist appointment moved to March 14 at 9:30. Bring the insurance card and the referral letter.',
  'Sourdough: feed the starter the night before, 500 g flour, 350 g water, 10 g salt, bake 45 minutes at 240 degrees.',
  'The garden shed key is under the blue flower pot; the spare one hangs in the kitchen drawer.',
];

let chromium;
let server;
let skip = null;

before(async () => {
  if (!fs.existsSync(path.join(wasmDir, 'tabllm.mjs'))) return void (skip = `${wasmDir}/tabllm.mjs is missing: run scripts/build-wasm.sh`);
  execFileSync(process.execPath, [path.join(repoRoot, 'apps/chat/build.mjs'), '--dev', '--out', OUT], { stdio: 'inherit' });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  server = await serveChat({ root: OUT });
  chromium = await launchChromium();
});

after(async () => {
  await chromium?.close();
  await server?.close();
});

// Runs one of the view's actions (the button's click) and waits until it is done.
async function act(page, click) {
  const errors = await page.evaluate(() => window.tabllmChat.notes.errors.length);
  await click();
  await page.waitForFunction(() => !document.getElementById('notes-add').disabled, null, { polling: 50 });
  return page.evaluate((n) => window.tabllmChat.notes.errors.slice(n), errors);
}

test('notes: the embedding model loads beside the chat model; a note searched by its own text ranks first; errors stay in the view', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const [, owner, repo, file] = /^hf:([^/]+)\/([^/]+)\/(.+)$/.exec(NOTES_MODEL.model);
  const hubPath = `/${owner}/${repo}/resolve/main/${file}`;
  const files = {};  // empty at first: the download fails with Hugging Face's 404
  const context = await chromium.browser.newContext({ viewport: { width: 1280, height: 820 } });
  const requests = await routeHuggingFace(context, files);
  const page = await context.newPage();
  const exceptions = [];
  page.on('pageerror', (e) => { exceptions.push(e.message); process.stderr.write(`[page exception] ${e.stack ?? e.message}\n`); });
  page.setDefaultTimeout(60_000);
  try {
    await page.goto(`${server.url}?backend=wasm&sw=0&mode=text&max_tokens=8&temperature=0`);
    await page.waitForFunction(() => window.tabllmChat?.state === 'ready', null, { polling: 100 });
    await page.locator('#view-notes').click();
    assert.ok(await page.locator('#notes').isVisible());
    assert.ok(await page.locator('#messages').isHidden());

    // No model to download: the error is the view's, the chat's engine and page go on.
    await page.locator('#notes-text').fill(NOTES.join('\n\n'));
    const failed = await act(page, () => page.locator('#notes-add').click());
    assert.equal(failed.length, 1);
    assert.match(failed[0], /the notes model bge-small-en-v1\.5 \(hf:ChristianAzinn\/bge-small-en-v1\.5-gguf\/bge-small-en-v1\.5\.Q8_0\.gguf\) did not load: .*404/);
    assert.equal(await page.locator('.notes-error').textContent(), failed[0]);
    assert.equal(await page.evaluate(() => window.tabllmChat.state), 'ready');
    assert.ok(requests.some((r) => r.path === hubPath), 'the model was asked for at its huggingface.co URL');

    // The synthetic encoder stands in for bge-small: four notes, then a query that repeats the third.
    files[hubPath] = synthModel('tiny-bert', 'f32');
    const started = Date.now();
    assert.deepEqual(await act(page, () => page.locator('#notes-add').click()), []);
    const indexed = await page.evaluate(() => ({ size: window.tabllmChat.notes.index.size, phases: window.tabllmChat.notes.progress.map((p) => p.phase),
      chatProgress: window.tabllmChat.progress.length, status: document.getElementById('notes-status').textContent,
      text: document.getElementById('notes-text').value }));
    assert.equal(indexed.size, 4);
    assert.equal(indexed.phases.at(-1), 'ready', 'the notes model\'s load progress is shown in its view');
    assert.match(indexed.status, /^4 notes indexed/);
    assert.equal(indexed.text, '', 'the pasted text went into the index');

    await page.locator('#notes-query').fill(NOTES[2]);
    assert.deepEqual(await act(page, () => page.locator('#notes-search button').click()), []);
    const results = await page.evaluate(() => window.tabllmChat.notes.results);
    const ms = Date.now() - started;
    assert.equal(results.length, 4);
    assert.equal(results[0].text, NOTES[2]);
    assert.ok(results[0].score > 0.9999, `the note's own text scores ${results[0].score}`);
    assert.ok(results[1].score < results[0].score);
    const shown = await page.locator('#notes-results li').evaluateAll((lis) => lis.map((li) => ({ score: li.querySelector('.notes-score').textContent, text: li.querySelector('p').textContent })));
    assert.deepEqual(shown, results.map((r) => ({ score: r.score.toFixed(3), text: r.text })));
    await page.screenshot({ path: path.join(ARTIFACTS, 'chat-notes.png') });

    // The chat's requests name no model: its own still answers them.
    await page.locator('#view-chat').click();
    await page.locator('#prompt').fill('Once upon a time');
    const replies = await page.evaluate(() => window.tabllmChat.replies.length);
    await page.locator('#send').click();
    await page.waitForFunction((n) => window.tabllmChat.replies.length > n, replies, { polling: 100 });
    const reply = await page.evaluate(() => window.tabllmChat.replies.at(-1));
    assert.equal(reply.tokens, 8);

    await page.locator('#view-notes').click();
    await act(page, () => page.locator('#notes-clear').click());
    assert.equal(await page.evaluate(() => window.tabllmChat.notes.index.size), 0);
    assert.equal(await page.locator('#notes-results li').count(), 0);
    assert.deepEqual(exceptions, []);
    console.log(`notes figures: ${JSON.stringify({ loadIndexSearchMs: ms, top: results[0].score, second: results[1].score })}`);
  } finally {
    await context.close();
  }
});
