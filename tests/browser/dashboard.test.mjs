// The chat demo's dashboard (apps/chat/dashboard.mjs) in headless Chromium, on the WebAssembly backend:
// after a few replies its charts are drawn and every figure it shows is engine.metrics()'s; the chat's
// tokens/s of a 32-token reply is the engine's usage.timings figure; a saver reply is capped; an auto reply
// runs under the profile the page's battery calls for.
//
//   node --test tests/browser/dashboard.test.mjs
// Screenshots go to build/test-artifacts/ (dashboard.png).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchChromium, repoRoot } from './harness.mjs';
import { serveChat } from '../../apps/chat/server.mjs';

const ARTIFACTS = path.join(repoRoot, 'build/test-artifacts');
let chromium;
let server;

before(async () => {
  const dev = process.env.TABLLM_CHAT_DEV === '1' ? ['--dev'] : [];
  execFileSync(process.execPath, [path.join(repoRoot, 'apps/chat/build.mjs'), ...dev], { stdio: 'inherit' });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  server = await serveChat();
  chromium = await launchChromium();
});

after(async () => {
  await chromium?.close();
  await server?.close();
});

async function ask(page, prompt, { temperature = 0.8, maxTokens = 24, mode = 'text', profile = 'performance' } = {}) {
  await page.locator('#mode').selectOption(mode);
  await page.locator('#profile').selectOption(profile);
  await page.locator('#temperature').evaluate((el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }, String(temperature));
  await page.locator('#max-tokens').fill(String(maxTokens));
  await page.locator('#prompt').fill(prompt);
  const replied = page.evaluate(() => new Promise((resolve) => addEventListener('tabllm-chat-reply', resolve, { once: true })));
  await page.locator('#send').click();
  await replied;
  return page.evaluate(() => ({ ...window.tabllmChat.replies.at(-1), shown: document.getElementById('tps').textContent }));
}

test('dashboard: charts drawn after a run, every figure equal to engine.metrics(); the chat\'s tokens/s is usage.timings\'', async () => {
  const context = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`[page exception] ${e.stack ?? e.message}\n`));
  try {
    await page.goto(`${server.url}?backend=wasm`);
    await page.waitForFunction(() => window.tabllmChat?.state === 'ready', null, { timeout: 120_000, polling: 200 });

    // A 32-token reply (greedy: the reference story runs past 32 tokens): the figure shown is the engine's.
    const reply = await ask(page, 'Once upon a time', { temperature: 0, maxTokens: 32 });
    assert.equal(reply.tokens, 32);
    const engineRate = reply.usage.timings.decode_tokens_per_s;
    assert.ok(Math.abs(Number(reply.shown) - engineRate) <= 0.1 * engineRate, `the chat shows ${reply.shown} tokens/s, the engine measured ${engineRate}`);

    for (const [i, prompt] of ['The little dog', 'Lily went to the park', 'One day, Tom', 'The sun was'].entries()) await ask(page, prompt, { maxTokens: 12 + 6 * i });
    const saver = await ask(page, 'Once upon a time', { temperature: 0, maxTokens: 16, profile: 'saver' });
    assert.ok(saver.usage.timings.decode_tokens_per_s <= 22, `a saver reply decoded at ${saver.usage.timings.decode_tokens_per_s} tokens/s`);
    // auto: the page reads the battery (a worker has no Battery Status API); headless Chromium reports a
    // charging one, so the request runs under balanced.
    const battery = await page.evaluate(async () => { const b = await navigator.getBattery(); return { charging: b.charging, level: b.level }; });
    await ask(page, 'The little dog', { maxTokens: 8, profile: 'auto' });

    await page.locator('#view-dashboard').click();
    await page.waitForFunction(() => window.tabllmChat.dashboard.shown?.requests === 7, null, { timeout: 10_000 });
    const checked = await page.evaluate(async () => {
      const { figureText } = await import('./dashboard.mjs');
      const dash = window.tabllmChat.dashboard;
      await dash.refresh();
      const m = await window.tabllmChat.engine.metrics();
      const shown = [...document.querySelectorAll('.dash-card [data-figure]')].map((el) => ({ path: el.dataset.figure, text: el.textContent, expected: figureText(m, el.dataset.figure) }));
      return { shown, drawn: dash.drawn, profiles: m.history.map((s) => s.profile), requests: m.requests, p50: m.decode_tokens_per_s.p50, history: m.history.length,
        lines: document.querySelectorAll('#dash-decode polyline, #dash-ttft polyline').length };
    });
    assert.equal(checked.requests, 7);
    assert.deepEqual(checked.profiles, ['performance', 'performance', 'performance', 'performance', 'performance', 'saver',
      battery.charging ? 'balanced' : battery.level <= 0.2 ? 'saver' : 'performance']);
    for (const f of checked.shown) assert.equal(f.text, f.expected, `${f.path} shows ${f.text}, engine.metrics() says ${f.expected}`);
    assert.ok(checked.shown.length >= 15);
    assert.equal(checked.drawn.decode, 7);
    assert.equal(checked.drawn.ttft, 7);
    assert.equal(checked.lines, 2);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    console.log(`dashboard figures: ${JSON.stringify({ chatTokensPerSecond: Number(reply.shown), engineTokensPerSecond: engineRate, decodeP50: checked.p50 })}`);
  } finally {
    await context.close();
  }
});
