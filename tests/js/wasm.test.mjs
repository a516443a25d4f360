// The WebAssembly engine under Node, through the same bindings every host uses: greedy text against
// the independent reference, streaming, abort, stop strings, threads, and errors that must not crash.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { TabllmError } from '../../js/src/core/wasm.mjs';
import { greedyReference, loadEngine, storiesModel, synthModel } from './wasm_env.mjs';

const references = greedyReference();
const greedy = (maxTokens = 64) => ({ max_tokens: maxTokens, temperature: 0 });

function assertGreedyTextMatches(session) {
  for (const ref of references) {
    const result = session.generate(ref.prompt, greedy(ref.ids.length));
    assert.equal(result.text, ref.text, `continuation of "${ref.prompt}"`);
    assert.equal(result.generated_tokens, ref.ids.length);
    assert.equal(result.finish_reason, 'length');
  }
}

describe('threaded build (tabllm.mjs)', () => {
  let tabllm;
  const models = {};
  before(async () => {
    tabllm = await loadEngine('tabllm', { pthreadPoolSize: 2 });
    for (const type of ['f32', 'f16']) models[type] = tabllm.loadModel(storiesModel(type));
  });
  after(() => {
    for (const model of Object.values(models)) model.free();
    tabllm.shutdown();
  });

  for (const type of ['f32', 'f16']) {
    test(`greedy text of stories260K ${type} matches the reference`, () => {
      const session = models[type].createSession();
      assertGreedyTextMatches(session);
      session.free();
    });
  }

  test('2 threads give the same greedy text', () => {
    const session = models.f32.createSession({ threads: 2 });
    assertGreedyTextMatches(session);
    session.free();
  });

  test('a model streamed into the heap in chunks works the same', async () => {
    const bytes = storiesModel('f32');
    const pieces = [bytes.subarray(0, 1000), bytes.subarray(1000, 300000), bytes.subarray(300000)];
    const model = await tabllm.loadModelStreaming(bytes.length, async (write) => {
      for (const piece of pieces) write(await Promise.resolve(piece));
    });
    const session = model.createSession();
    assertGreedyTextMatches(session);
    session.free();
    model.free();
    await assert.rejects(tabllm.loadModelStreaming(bytes.length + 1, (write) => write(bytes)), /not the announced/);
    await assert.rejects(tabllm.loadModelStreaming(10, (write) => write(bytes)), /more than the announced/);
  });

  test('prompts tokenize to the reference ids', () => {
    for (const ref of references) assert.deepEqual(models.f32.tokenize(ref.prompt), ref.prompt_ids);
  });

  test('streamed chunks concatenate to the whole text', () => {
    const session = models.f32.createSession();
    const ref = references[0];
    const chunks = [...session.stream(ref.prompt, greedy())];
    assert.ok(chunks.length > 10, `only ${chunks.length} chunks`);
    assert.equal(chunks.join(''), ref.text);
    assert.equal(session.result().text, ref.text);
    session.free();
  });

  test('an abort mid-way ends the generation and the next request still works', () => {
    const session = models.f32.createSession();
    const ref = references[0];
    session.begin(ref.prompt, greedy());
    let text = '';
    for (let i = 0; i < 10; i++) text += session.next();
    session.abort();
    let result = session.result();
    assert.equal(result.finish_reason, 'abort');
    assert.equal(result.generated_tokens, 10);
    assert.equal(result.text, text);
    assert.ok(ref.text.startsWith(text));
    assert.equal(session.next(), null, 'an aborted generation yields nothing more');

    // Leaving a stream early aborts too.
    let chunks = 0;
    for (const _ of session.stream(references[1].prompt, greedy())) if (++chunks === 5) break;
    assert.equal(session.result().finish_reason, 'abort');

    result = session.generate(ref.prompt, greedy());
    assert.equal(result.text, ref.text);
    assert.equal(result.finish_reason, 'length');
    session.free();
  });

  test('a repeated prompt reuses the KV cache and gives the same text', () => {
    const session = models.f32.createSession();
    const ref = references[1];
    const first = session.generate(ref.prompt, greedy());
    const second = session.generate(ref.prompt, greedy());
    assert.equal(first.prompt_tokens_reused, 0);
    assert.equal(second.prompt_tokens_reused, ref.prompt_ids.length - 1);
    assert.equal(second.text, ref.text);
    session.free();
  });

  test('a stop string ends the text right before it', () => {
    const session = models.f32.createSession();
    const ref = references[0];
    const result = session.generate(ref.prompt, { ...greedy(), stop: ['Lily'] });
    assert.equal(result.finish_reason, 'stop');
    assert.equal(result.text, ref.text.slice(0, ref.text.indexOf('Lily')));
    session.free();
  });

  test('timings are reported', () => {
    const session = models.f32.createSession();
    const result = session.generate(references[0].prompt, greedy());
    assert.equal(result.prompt_tokens, references[0].prompt_ids.length);
    for (const key of ['ttft_ms', 'prefill_ms', 'decode_ms', 'prefill_tokens_per_s', 'decode_tokens_per_s']) assert.ok(result[key] > 0, key);
    session.free();
  });

  test('bad model bytes give a clear error and the engine carries on', () => {
    assert.throws(() => tabllm.loadModel(new Uint8Array(64).fill(7)), { name: 'TabllmError', message: /not a GGUF/ });
    assert.throws(() => tabllm.loadModel(new Uint8Array(0)), { name: 'TabllmError', message: /no model bytes/ });
    const truncated = storiesModel('f32').subarray(0, 20000);
    assert.throws(() => tabllm.loadModel(truncated), (e) => e instanceof TabllmError && e.message.length > 0);
    const session = models.f32.createSession();
    assert.equal(session.generate(references[0].prompt, greedy()).text, references[0].text);
    session.free();
  });

  test('invalid requests are errors, not crashes', () => {
    const session = models.f32.createSession();
    assert.throws(() => session.begin('Once', { temprature: 0 }), /unknown generation parameter 'temprature'/);
    assert.throws(() => session.begin('Once', { max_tokens: 'many' }), /max_tokens must be an integer/);
    assert.throws(() => session.begin('Once', { temperature: -1 }), TabllmError);
    assert.throws(() => session.begin('', greedy()), /prompt is empty/);
    assert.throws(() => session.result(), /no generation/);
    assert.throws(() => session.logits([0, 99999]), /outside the vocabulary/);
    assert.throws(() => models.f32.createSession({ kernels: 'avx' }), /kernels must be/);
    assert.throws(() => models.f32.createSession({ threads: 8 }), /pthreadPoolSize/);
    assert.equal(session.generate(references[0].prompt, greedy()).text, references[0].text);
    session.free();
  });
});

describe('single-threaded build (tabllm-st.mjs)', () => {
  let tabllm, model;
  before(async () => {
    tabllm = await loadEngine('tabllm-st');
    model = tabllm.loadModel(storiesModel('f32'));
  });
  after(() => model.free());

  test('greedy text of stories260K f32 matches the reference', () => {
    const session = model.createSession();
    assertGreedyTextMatches(session);
    session.free();
  });

  test('more than one thread is refused with a reason', () => {
    assert.throws(() => model.createSession({ threads: 2 }), /single-threaded/);
  });
});

// A GGUF header, without its data, declaring `n` f32 tensors of `rows` × 4096 floats each.
function hugeHeader(n, rows) {
  const parts = [Buffer.from('GGUF')];
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
  u32(3);
  u64(n);
  u64(0);
  for (let i = 0; i < n; i++) {
    const name = Buffer.from(`t${i}`);
    u64(name.length);
    parts.push(name);
    u32(2);
    u64(4096);
    u64(rows);
    u32(0);
    u64(i * rows * 4096 * 4);
  }
  const header = Buffer.concat(parts);
  return { header, fileSize: Math.ceil(header.length / 32) * 32 + n * rows * 4096 * 4 };
}

// A load that fails with `error` gives back every byte it took. Measured on a second attempt: the first
// leaves the error's text behind (tabllm_last_error keeps it).
async function failsTakingNothing(tabllm, load, error) {
  await assert.rejects(load(), error);
  const before = tabllm.heapStats().in_use_bytes;
  await assert.rejects(load(), error);
  assert.equal(tabllm.heapStats().in_use_bytes, before, String(error));
}

describe('the model in heap pieces (tabllm_loader)', () => {
  let tabllm;
  before(async () => {
    tabllm = await loadEngine('tabllm', { pthreadPoolSize: 1 });
  });
  after(() => tabllm.shutdown());

  // One piece for the whole file, against one piece per tensor.
  for (const [name, bytes] of [['stories260K f32', () => storiesModel('f32')], ['tiny-llama q4_k_m', () => synthModel('tiny-llama', 'q4_k_m')]]) {
    test(`${name}: a piece per tensor gives the logits and greedy tokens of one piece`, () => {
      const file = bytes();
      const ids = references[0].prompt_ids.concat(references[0].ids).slice(0, 24);
      const run = (maxPieceBytes) => {
        const model = tabllm.loadModel(file, { maxPieceBytes });
        const session = model.createSession({ threads: 2 });
        const out = { logits: session.logits(ids), text: session.generate(references[0].prompt, greedy(16)).text };
        session.free();
        model.free();
        return out;
      };
      const whole = run(2 ** 40), pieces = run(1);
      assert.deepEqual(pieces.logits, whole.logits);
      assert.equal(pieces.text, whole.text);
      assert.ok(whole.text.length > 0);
    });
  }

  test('a failed load frees everything it took', async () => {
    const bytes = storiesModel('f32');
    const fails = [
      // the stream ends early, after the header (the pieces are allocated) or inside it
      [bytes.length, (write) => write(bytes.subarray(0, bytes.length - 1000)), /has \d+ bytes, not the announced/],
      [bytes.length, (write) => write(bytes.subarray(0, 100)), /not the announced/],
      // the host's stream fails half-way
      [bytes.length, async (write) => { write(bytes.subarray(0, 300000)); throw new Error('network down'); }, /network down/],
      [bytes.length - 1000, (write) => write(bytes), /more than the announced/],
    ];
    for (const [size, fill, error] of fails) await failsTakingNothing(tabllm, () => tabllm.loadModelStreaming(size, fill, { maxPieceBytes: 4096 }), error);
    const model = tabllm.loadModel(bytes);
    assert.ok(tabllm.heapStats().in_use_bytes > bytes.length);
    model.free();
  });

  test('a model beyond what the heap can grow to is refused, and takes nothing', async () => {
    const fresh = await loadEngine('tabllm-st');
    const { header, fileSize } = hugeHeader(80, 4096);  // 80 tensors of 64 MiB: 5.37 GB
    await failsTakingNothing(fresh, () => fresh.loadModelStreaming(fileSize, (write) => { write(header); write(new Uint8Array(1 << 20)); }),
      /^TabllmError: out of memory: the model's 5\.37 GB of weights do not fit in the WebAssembly heap/);
    assert.ok(fresh.heapStats().heap_bytes > 3.5 * 2 ** 30, 'the heap grew as far as it could');
    // What fits still loads.
    const model = fresh.loadModel(storiesModel('f32'));
    assert.equal(model.createSession().generate(references[0].prompt, greedy()).text, references[0].text);
  });
});
