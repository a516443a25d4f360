// The cloud fallback (js/src/cloud.mjs, docs/cloud.md) over real HTTP on 127.0.0.1: the "cloud" is a second
// `tabllm serve` (startServer, in this process) with the same stories260K model and an API key. A reply
// handed off after 20 local tokens is the greedy reference text end to end, its chunks marked local then
// remote and its usage split 20 + 44; with consent off nothing reaches the server (its request log stays
// empty); a prompt beyond the local context, a model the device cannot hold, a predicted TTFT over the limit
// and the app's own policy route to it; an endpoint that is down leaves the answer local, with the reason
// logged; a failure after the hand-off is an OpenAI-shaped error; the log holds what was sent, never the key.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { TabllmAPIError, createEngine, createWorkerEngine } from '../../js/src/index.mjs';
import { startServer } from '../../js/src/serve.mjs';
import { longChat, missingBuild, reference, storiesEngine, storiesPath } from './api-env.mjs';
import { skipOrFail } from './wasm_env.mjs';
import { parseSse } from './sse.mjs';

const skip = missingBuild();
const KEY = 'sk-cloud-test-7f3a9c0e51';
const NEVER_END = { 1: -100, 2: -100 };  // stories260K stops at BOS (1) and EOS (2): both banned, replies run to max_tokens
// The app's policy: hand off once 20 local tokens are out.
const after20 = (request, stats) => (stats.phase === 'generating' && stats.tokens >= 20 ? 'remote' : undefined);

let cloud = null;  // the "cloud": tabllm serve with the same model, behind an API key
const cloudLog = [];
before(async () => {
  if (skip) return;
  // Named as the tests' cloud option names the endpoint's model (an unknown name would be a 404 there).
  cloud = await startServer({ engineOptions: { model: storiesPath(), modelName: 'stories-cloud', backend: 'wasm', wasmVariant: 'single' }, port: 0, apiKey: KEY,
    log: (entry) => cloudLog.push(entry) });
  await cloud.ready;
});
after(() => cloud?.close({ graceMs: 0 }));

const endpoint = () => `${cloud.url}/v1`;
const withCloud = (cloudOptions, options = {}) => storiesEngine({ ...options, cloud: { endpoint: endpoint(), apiKey: KEY, ...cloudOptions } });
const greedyChat = (extra = {}) => ({ messages: [{ role: 'user', content: reference().prompt }], temperature: 0, max_tokens: 64, logit_bias: NEVER_END, ...extra });

// The cloud server's answer to a request sent to it directly.
async function direct(route, body) {
  const r = await fetch(`${cloud.url}/v1${route}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: JSON.stringify(body) });
  assert.equal(r.status, 200);
  return r.json();
}

const pieceOf = (c) => c.choices[0]?.delta?.content ?? c.choices[0]?.text ?? '';

// Sources of the chunks that carry text, run-length encoded: [['local', 20], ['remote', 44]].
function sourceRuns(chunks) {
  const runs = [];
  for (const c of chunks) {
    if (!pieceOf(c)) continue;
    const s = c.x_tabllm?.source;
    if (runs.at(-1)?.[0] === s) runs.at(-1)[1]++;
    else runs.push([s, 1]);
  }
  return runs;
}

// An endpoint the test scripts: handler(req, body, res); counts the requests and connections it gets.
async function fakeEndpoint(handler) {
  const requests = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      requests.push({ path: req.url, headers: req.headers, body: body ? JSON.parse(body) : null });
      handler(req, body ? JSON.parse(body) : null, res);
    });
  });
  server.on('connection', () => { connections++; });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    requests,
    connections: () => connections,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

// A port nothing listens on (a server opened, then closed).
async function closedPort() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function checkErrorBody(body, status, code, type = 'server_error') {
  assert.deepEqual(Object.keys(body), ['error'], JSON.stringify(body));
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(body.error.code, code, JSON.stringify(body));
  assert.equal(body.error.type, type);
  assert.ok(body.error.message.length > 20);
}

test('a hand-off after 20 local tokens continues the greedy reference exactly: chunks local then remote, usage split 20 + 44', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const events = [];
  const engine = await withCloud({ consent: true, policy: { route: after20 }, onEvent: (e) => events.push(e) });
  try {
    const before = cloudLog.length;
    // A streamed chat: the chat is rendered here and continued through the endpoint's /v1/completions.
    const chunks = [];
    for await (const c of await engine.chat.completions.create(greedyChat({ stream: true, stream_options: { include_usage: true } }))) chunks.push(c);
    assert.equal(chunks.map(pieceOf).join(''), ref.text);
    assert.deepEqual(sourceRuns(chunks), [['local', 20], ['remote', 44]]);
    assert.ok(chunks.every((c) => c.id === chunks[0].id && c.object === 'chat.completion.chunk'), 'one stream');
    const last = chunks.at(-2);
    assert.deepEqual([last.choices[0].finish_reason, last.x_tabllm.source], ['length', 'remote']);
    const { usage, x_tabllm } = chunks.at(-1);
    assert.deepEqual([usage.prompt_tokens, usage.completion_tokens, usage.total_tokens], [5, 64, 69]);
    assert.deepEqual(usage.x_tabllm, { local: { prompt_tokens: 5, completion_tokens: 20 }, remote: { prompt_tokens: 25, completion_tokens: 44 } });
    assert.deepEqual(x_tabllm, { source: 'local+remote', reason: 'policy', handoff_after_tokens: 20, log: 'cloud-1' });

    // What was sent: the prompt and the local text so far, the tokens left, the request's sampling.
    const localText = chunks.filter((c) => c.x_tabllm.source === 'local').map(pieceOf).join('');
    assert.ok(ref.text.startsWith(localText) && localText.length > 40);
    const [entry] = engine.cloud.log();
    assert.equal(entry.action, 'handoff');
    assert.equal(entry.endpoint, `${cloud.url}/v1/completions`);
    assert.deepEqual(entry.body, { prompt: ref.prompt + localText, max_tokens: 44, temperature: 0, logit_bias: NEVER_END, stream: true, stream_options: { include_usage: true } });
    assert.deepEqual([entry.status, entry.answered_by, entry.local_tokens, entry.http_status], ['ok', 'remote', 20, 200]);
    assert.deepEqual(cloudLog.slice(before).map((e) => [e.path, e.status]), [['/v1/completions', 200]], 'one request reached the cloud, with the key');
    assert.deepEqual(events.map((e) => e.status), ['pending', 'ok']);

    // Text completions, not streamed, handed off by the built-in throughput rule (a rate no device makes).
    const throughput = await withCloud({ consent: true, policy: { minTokensPerSecond: 1e9, window: 20 } });
    try {
      const r = await throughput.completions.create({ prompt: ref.prompt, temperature: 0, max_tokens: 64, logit_bias: NEVER_END });
      assert.equal(r.choices[0].text, ref.text);
      assert.equal(r.choices[0].finish_reason, 'length');
      assert.deepEqual([r.usage.completion_tokens, r.usage.x_tabllm.local.completion_tokens, r.usage.x_tabllm.remote.completion_tokens], [64, 20, 44]);
      assert.equal(r.x_tabllm.source, 'local+remote');
      assert.equal(r.x_tabllm.reason, 'throughput');
      assert.match(throughput.cloud.log()[0].detail, /tokens\/s over its last 20 tokens, under 1000000000/);
    } finally {
      await throughput.unload();
    }

    // Through engine.fetch (server-sent events): every chunk says its source.
    const response = await engine.fetch('http://tabllm.local/v1/chat/completions', { method: 'POST', body: JSON.stringify(greedyChat({ stream: true })) });
    const sse = parseSse(await response.text());
    assert.ok(sse.done);
    assert.equal(sse.chunks.map(pieceOf).join(''), ref.text);
    assert.ok(sse.chunks.every((c) => c.x_tabllm.source === 'local' || c.x_tabllm.source === 'remote'));
    assert.deepEqual(sourceRuns(sse.chunks), [['local', 20], ['remote', 44]]);
  } finally {
    await engine.unload();
  }
});

test('with consent off nothing is sent: the cloud server\'s request log stays empty, the answers are local', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  // A cloud server of its own, counting every request and connection.
  const requests = [];
  const own = await startServer({ engineOptions: { model: storiesPath(), backend: 'wasm', wasmVariant: 'single' }, port: 0, log: (e) => requests.push(e) });
  let connections = 0;
  own.server.on('connection', () => { connections++; });
  await own.ready;
  let asked = 0;
  const policy = { route: after20, contextOverflow: 'fit', maxTtftMs: 0.001 };
  const engines = [
    await storiesEngine({ contextSize: 64, cloud: { endpoint: `${own.url}/v1`, policy } }),                        // consent absent
    await storiesEngine({ contextSize: 64, cloud: { endpoint: `${own.url}/v1`, consent: false, policy } }),
    await storiesEngine({ contextSize: 64, cloud: { endpoint: `${own.url}/v1`, consent: async () => { asked++; return false; }, policy } }),
  ];
  try {
    for (const engine of engines) {
      // The hand-off the policy wants is withheld: the local model writes the whole reply.
      const r = await engine.chat.completions.create(greedyChat({ max_tokens: 40 }));
      assert.equal(r.choices[0].message.content, ref.text.slice(0, r.choices[0].message.content.length));
      assert.equal(r.usage.completion_tokens, 40);
      assert.deepEqual(r.x_tabllm, { source: 'local' });
      assert.equal(r.usage.x_tabllm.remote, null);
      // A chat beyond the local context: truncated here instead.
      const long = await engine.chat.completions.create({ messages: longChat(4), max_tokens: 8, temperature: 0 });
      assert.ok(long.usage.truncated_messages > 0);
      assert.equal(long.x_tabllm.source, 'local');
      assert.equal(long.x_tabllm.reason, 'context');
      assert.match(long.x_tabllm.note, /^not sent: the user has not consented to the cloud fallback; answered locally$/);
      const chunks = [];
      for await (const c of await engine.completions.create({ prompt: ref.prompt, max_tokens: 30, temperature: 0, stream: true })) chunks.push(c);
      assert.ok(chunks.every((c) => c.x_tabllm.source === 'local'));
      const log = engine.cloud.log();
      assert.ok(log.length >= 2);
      for (const entry of log) {
        assert.equal(entry.sent, false);
        assert.equal(entry.action, 'withheld');
        assert.equal(entry.body, undefined);
        assert.equal(entry.endpoint, undefined);
      }
      assert.deepEqual(engine.cloud.log().map((e) => e.reason).slice(0, 2), ['policy', 'context']);
    }
    assert.ok(asked >= 3, 'the consent function was asked');
    assert.deepEqual(requests, [], 'the cloud server got no request');
    assert.equal(connections, 0, 'nor a connection');
    assert.equal(own.stats().requests, 0);
    assert.equal(engines[0].cloud.status().consent, 'denied');
    assert.equal(engines[2].cloud.status().consent, 'ask');
  } finally {
    for (const engine of engines) await engine.unload();
    await own.close({ graceMs: 0 });
  }
});

test('routing: a prompt beyond the local context, a model the device cannot hold, a predicted TTFT, the app\'s policy', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const engine = await withCloud({ consent: true, model: 'stories-cloud' }, { contextSize: 64 });
  try {
    // A chat whose turns do not fit 64 tokens: sent whole to the endpoint's chat route (its context is 512).
    const messages = longChat(4);
    const body = { messages, max_tokens: 16, temperature: 0 };
    const r = await engine.chat.completions.create(body);
    const expected = await direct('/chat/completions', body);
    assert.equal(r.choices[0].message.content, expected.choices[0].message.content);
    assert.equal(r.usage.truncated_messages, 0, 'nothing was cut');
    assert.deepEqual(r.x_tabllm, { source: 'remote', reason: 'context', log: 'cloud-1' });
    assert.deepEqual(r.usage.x_tabllm, { local: null, remote: { prompt_tokens: expected.usage.prompt_tokens, completion_tokens: 16 } });
    const [entry] = engine.cloud.log();
    assert.deepEqual([entry.action, entry.reason, entry.endpoint, entry.status], ['remote', 'context', `${cloud.url}/v1/chat/completions`, 'ok']);
    assert.deepEqual(entry.body, { ...body, model: 'stories-cloud' });
    assert.match(entry.detail, /truncation "auto" would drop \d+ messages/);
    // Streamed, and a completion prompt that the local context refuses (truncation "disabled").
    const prompt = `${ref.prompt}${ref.text}${ref.text}`;
    const chunks = [];
    for await (const c of await engine.completions.create({ prompt, max_tokens: 12, temperature: 0, truncation: 'disabled', stream: true, stream_options: { include_usage: true } })) chunks.push(c);
    const streamed = await direct('/completions', { prompt, max_tokens: 12, temperature: 0 });
    assert.equal(chunks.map(pieceOf).join(''), streamed.choices[0].text);
    assert.ok(chunks.filter((c) => c.choices.length).every((c) => c.x_tabllm.source === 'remote'));
    assert.deepEqual(chunks.at(-1).x_tabllm, { source: 'remote', reason: 'context', log: 'cloud-2' });
    assert.equal(chunks.at(-1).usage.x_tabllm.remote.completion_tokens, 12);
    // A request that fits stays here.
    const local = await engine.completions.create({ prompt: ref.prompt, max_tokens: 8, temperature: 0 });
    assert.deepEqual(local.x_tabllm, { source: 'local' });
    assert.equal(engine.cloud.log().length, 2);
  } finally {
    await engine.unload();
  }

  // stories260K with 2 million layers: no backend of this device holds its KV cache. The engine loads without
  // a model, and its requests go to the endpoint.
  const bytes = fs.readFileSync(storiesPath());
  const at = bytes.indexOf('llama.block_count') + 'llama.block_count'.length + 4;
  bytes.writeUInt32LE(2_000_000, at);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-cloud-')), 'deep.gguf');
  fs.writeFileSync(file, bytes);
  await assert.rejects(createEngine({ model: file, backend: 'wasm' }), { code: 'memory' });
  await assert.rejects(createEngine({ model: file, backend: 'wasm', cloud: { endpoint: endpoint(), consent: true, policy: { localUnavailable: false } } }), { code: 'memory' });
  const progress = [];
  const remoteOnly = await createEngine({ model: file, backend: 'wasm', cloud: { endpoint: endpoint(), apiKey: KEY, consent: true }, onProgress: (e) => progress.push(e) });
  try {
    assert.equal(remoteOnly.backend, null);
    assert.match(remoteOnly.backendReason, /^no local backend can run the model \(this model does not fit/);
    assert.deepEqual(progress.at(-1).phase, 'ready');
    const r = await remoteOnly.chat.completions.create(greedyChat());
    assert.equal(r.choices[0].message.content, ref.text);
    assert.deepEqual(r.x_tabllm, { source: 'remote', reason: 'unavailable', log: 'cloud-1' });
    // Without consent: the local model's own error, saying why the endpoint was not used.
    remoteOnly.cloud.setConsent(false);
    await assert.rejects(remoteOnly.chat.completions.create(greedyChat()), (e) => {
      assert.ok(e instanceof TabllmAPIError);
      assert.deepEqual([e.status, e.code], [503, 'model_not_loaded']);
      assert.match(e.message, /^no local backend can run the model: this model does not fit .* \(the cloud fallback: not sent: the user has not consented/);
      return true;
    });
  } finally {
    await remoteOnly.unload();
  }

  // A predicted time to first token over the limit (from the last local request's prefill rate), and the
  // app's own hook (an energy profile, say) choosing the endpoint before the request starts.
  let battery = 'ok';
  const seen = [];
  const policy = {
    maxTtftMs: 0.5,
    route: (request, stats) => {
      seen.push(stats.phase);
      if (stats.phase === 'start' && battery === 'low') return { route: 'remote', reason: 'energy', detail: 'battery under 10%' };
      return undefined;
    },
  };
  const timed = await withCloud({ consent: true, policy });
  try {
    const long = { prompt: `${ref.prompt}${ref.text}`, max_tokens: 8, temperature: 0 };
    const first = await timed.completions.create(long);
    assert.equal(first.x_tabllm.source, 'local', 'no prefill rate is known yet');
    const second = await timed.completions.create(long);
    assert.deepEqual([second.x_tabllm.source, second.x_tabllm.reason], ['remote', 'ttft']);
    assert.match(timed.cloud.log()[0].detail, /^the local time to first token would be about \d+ ms \(\d+ prompt tokens at [\d.]+ tokens\/s\), over 0\.5 ms$/);
    battery = 'low';
    const third = await timed.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 });
    assert.deepEqual([third.x_tabllm.source, third.x_tabllm.reason], ['remote', 'energy']);
    assert.equal(timed.cloud.log()[1].detail, 'battery under 10%');
    assert.ok(seen.includes('start') && seen.includes('generating'));
  } finally {
    await timed.unload();
  }
});

test('an endpoint that is down: the answer is local with the reason logged; a hand-off goes on locally; else an OpenAI-shaped error', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const down = `http://127.0.0.1:${await closedPort()}/v1`;
  const engine = await storiesEngine({ contextSize: 64, cloud: { endpoint: down, consent: true, retryAfterMs: 0 } });
  try {
    const r = await engine.chat.completions.create({ messages: longChat(4), max_tokens: 8, temperature: 0 });
    assert.ok(r.usage.truncated_messages > 0, 'answered here, truncated');
    assert.equal(r.x_tabllm.source, 'local');
    assert.match(r.x_tabllm.note, /^the cloud endpoint failed \(it could not be reached \(ECONNREFUSED\)\); answered locally$/);
    const [entry] = engine.cloud.log();
    assert.deepEqual([entry.action, entry.reason, entry.status, entry.answered_by], ['remote', 'context', 'failed', 'local']);
    assert.match(entry.error, /ECONNREFUSED/);
    // When the local model cannot answer either: 502, OpenAI's shape, both reasons in the message.
    await assert.rejects(engine.chat.completions.create({ messages: longChat(4), truncation: 'disabled' }), (e) => {
      assert.ok(e instanceof TabllmAPIError);
      assert.deepEqual([e.status, e.type, e.code], [502, 'server_error', 'cloud_unavailable']);
      assert.match(e.message, /^the local model cannot answer \(the prompt has \d+ tokens but the context holds 64.*\) and the cloud endpoint failed: it could not be reached \(ECONNREFUSED\)$/);
      return true;
    });
    const response = await engine.fetch('http://tabllm.local/v1/chat/completions', { method: 'POST', body: JSON.stringify({ messages: longChat(4), truncation: 'disabled', stream: true }) });
    assert.equal(response.status, 502);
    checkErrorBody(await response.json(), 502, 'cloud_unavailable');
  } finally {
    await engine.unload();
  }

  // A hand-off to an endpoint that is down: the local model goes on from where it stopped; the text is the
  // same greedy reference. The failure leaves the endpoint alone for retryAfterMs: the next request does not
  // try it.
  const handing = await storiesEngine({ cloud: { endpoint: down, consent: true, policy: { route: after20 } } });
  try {
    const chunks = [];
    for await (const c of await handing.chat.completions.create(greedyChat({ stream: true }))) chunks.push(c);
    assert.equal(chunks.map(pieceOf).join(''), ref.text);
    assert.deepEqual(sourceRuns(chunks), [['local', 64]]);
    const [entry] = handing.cloud.log();
    assert.deepEqual([entry.action, entry.status, entry.answered_by, entry.local_tokens], ['handoff', 'failed', 'local', 20]);
    const r = await handing.completions.create({ prompt: ref.prompt, max_tokens: 64, temperature: 0, logit_bias: NEVER_END });
    assert.equal(r.choices[0].text, ref.text);
    assert.equal(handing.cloud.log().length, 1, 'not tried again while it is down');
    assert.ok(handing.cloud.status().down.because.includes('ECONNREFUSED'));
  } finally {
    await handing.unload();
  }
});

test('a failure of the endpoint after the hand-off is an OpenAI-shaped error (event: error through fetch); a reader that leaves ends it', async (t) => {
  if (skip) return skipOrFail(t, skip);
  // One chunk of text, then an error event; or one chunk and a dropped connection.
  let mode = 'error';
  const fake = await fakeEndpoint((req, body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify({ id: 'x', object: 'text_completion', choices: [{ index: 0, text: ' and', finish_reason: null }] })}\n\n`);
    if (mode === 'error') res.end(`event: error\ndata: ${JSON.stringify({ error: { message: 'the model crashed', type: 'server_error', param: null, code: 'internal_error' } })}\n\n`);
    else if (mode === 'drop') setTimeout(() => res.destroy(), 20);
  });
  const engine = await storiesEngine({ cloud: { endpoint: fake.url, consent: true, policy: { route: (r, s) => (s.phase === 'generating' && s.tokens >= 5 ? 'remote' : undefined) } } });
  try {
    for (mode of ['error', 'drop']) {
      const chunks = [];
      await assert.rejects(async () => {
        for await (const c of await engine.chat.completions.create(greedyChat({ stream: true }))) chunks.push(c);
      }, (e) => {
        assert.ok(e instanceof TabllmAPIError, String(e));
        assert.deepEqual([e.status, e.type, e.code], [502, 'server_error', 'cloud_error']);
        assert.match(e.message, /^the cloud endpoint failed after the hand-off \(the reply so far: 5 local tokens, then 1 chunks from the endpoint\): /);
        assert.match(e.message, mode === 'error' ? /it sent an error: the model crashed$/ : /the stream (broke|ended before the reply was complete)/);
        return true;
      });
      assert.deepEqual(sourceRuns(chunks), [['local', 5], ['remote', 1]]);
      assert.equal(engine.cloud.log().at(-1).status, 'failed');
    }
    mode = 'error';
    const response = await engine.fetch('http://tabllm.local/v1/chat/completions', { method: 'POST', body: JSON.stringify(greedyChat({ stream: true })) });
    const sse = parseSse(await response.text());
    assert.equal(sse.done, false);
    assert.equal(sse.errors.length, 1);
    checkErrorBody(sse.errors[0], 502, 'cloud_error');
    // A reader that stops mid-way through the endpoint's part: its stream is closed, the entry says so.
    mode = 'slow';
    for await (const c of await engine.chat.completions.create(greedyChat({ stream: true }))) {
      if (c.x_tabllm.source === 'remote') break;
    }
    for (let i = 0; i < 50 && engine.cloud.log().at(-1).status === 'pending'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(engine.cloud.log().at(-1).status, 'aborted');
    // The engine answers the next request as ever.
    const r = await engine.completions.create({ prompt: reference().prompt, max_tokens: 4, temperature: 0 });
    assert.equal(r.x_tabllm.source, 'local');
  } finally {
    await engine.unload();
    await fake.close();
  }
});

test('the log holds what was sent (endpoint, body, time, reason), never the API key; options are checked', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const ref = reference();
  const events = [];
  // An endpoint that refuses the key and repeats it in its message.
  const fake = await fakeEndpoint((req, body, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${req.headers.authorization.slice(7)}`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }));
  });
  const engine = await storiesEngine({ contextSize: 64, cloud: { endpoint: fake.url, apiKey: KEY, consent: true, policy: { route: after20 }, onEvent: (e) => events.push(e) } });
  const good = await withCloud({ consent: true, policy: { route: after20 }, onEvent: (e) => events.push(e) });
  try {
    const prompt = `${ref.prompt}${ref.text}${ref.text}`;
    const r = await engine.completions.create({ prompt, max_tokens: 4, temperature: 0 });
    assert.equal(r.x_tabllm.source, 'local');
    assert.equal(fake.requests[0].headers.authorization, `Bearer ${KEY}`, 'the key was sent, in the header');
    const [entry] = engine.cloud.log();
    assert.equal(entry.body.prompt, prompt, 'the prompt text, as sent');
    assert.equal(entry.endpoint, `${fake.url}/completions`);
    assert.ok(Date.now() - Date.parse(entry.time) < 60_000);
    assert.deepEqual([entry.http_status, entry.status], [401, 'failed']);
    assert.equal(entry.error, 'HTTP 401: Incorrect API key provided: [api key]');
    await good.chat.completions.create(greedyChat());
    const all = JSON.stringify([engine.cloud.log(), good.cloud.log(), events, engine.cloud.status()]);
    assert.ok(!all.includes(KEY), 'the key is nowhere in the logs or events');
    assert.equal(good.cloud.log()[0].body.prompt.startsWith(ref.prompt), true);
    assert.ok(events.length >= 4);
    good.cloud.clearLog();
    assert.deepEqual(good.cloud.log(), []);
  } finally {
    await engine.unload();
    await good.unload();
    await fake.close();
  }

  const model = storiesPath();
  await assert.rejects(createEngine({ model, cloud: { endpoint: 'ftp://x/v1' } }), /cloud.endpoint must be an http: or https: URL/);
  await assert.rejects(createEngine({ model, cloud: { endpoint: 'http://user:pw@host/v1' } }), /must not hold credentials/);
  await assert.rejects(createEngine({ model, cloud: { endpoint: 'http://host/v1', consent: 'yes' } }), /cloud.consent must be true, false, or a function/);
  await assert.rejects(createEngine({ model, cloud: { endpoint: 'http://host/v1', policy: { minTokensPerSec: 3 } } }), /cloud.policy: unknown option "minTokensPerSec"/);
  await assert.rejects(createEngine({ model, cloud: { endpoint: 'http://host/v1', policy: { contextOverflow: 'always' } } }), /contextOverflow must be "cut", "fit" or false/);
  await assert.rejects(createWorkerEngine({ model, cloud: { endpoint: 'http://host/v1' } }), /the option "cloud" cannot cross to the worker/);
});

test('tabllm serve --cloud: a chat beyond the local context goes to the endpoint, logged on stderr; the flags are checked', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const cli = path.join(path.dirname(new URL(import.meta.url).pathname), '../../js/bin/tabllm.mjs');
  const child = spawn(process.execPath, [cli, 'serve', '-m', storiesPath(), '--backend', 'wasm', '--threads', '1', '--port', '0', '--ctx', '64',
    '--cloud', endpoint(), '--cloud-model', 'stories-cloud'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TABLLM_CLOUD_API_KEY: KEY } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  try {
    for (let i = 0; i < 500 && !/ready:/.test(stdout); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(stdout, /ready:/, stdout + stderr);
    const base = /listening on (http:\/\/\S+)/.exec(stdout)[1];
    const body = { messages: longChat(4), max_tokens: 16, temperature: 0 };
    const r = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(r.status, 200);
    const answer = await r.json();
    const expected = await direct('/chat/completions', body);
    assert.equal(answer.choices[0].message.content, expected.choices[0].message.content);
    assert.equal(answer.x_tabllm.source, 'remote');
    assert.match(stderr, /\[tabllm\] cloud: chat sent to http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: context/);
    assert.ok(!stderr.includes(KEY), 'the key is never logged');
  } finally {
    child.kill('SIGKILL');
  }
  const run = (...args) => spawnSync(process.execPath, [cli, 'serve', '-m', storiesPath(), ...args], { encoding: 'utf8', timeout: 60_000 });
  for (const [args, message] of [
    [['--cloud-model', 'x'], /--cloud-model needs --cloud URL/],
    [['--cloud', endpoint(), '--cloud-context', 'always'], /--cloud-context must be cut, fit or off/],
    [['--cloud', endpoint(), '--cloud-min-tps', '0'], /--cloud-min-tps must be a positive number/],
    [['--cloud', 'ftp://host/v1', '--port', '0'], /cloud\.endpoint must be an http: or https: URL/],
  ]) {
    const out = run(...args);
    assert.equal(out.status, 1, `${args.join(' ')}: ${out.stderr}`);
    assert.match(out.stderr, message);
  }
});
