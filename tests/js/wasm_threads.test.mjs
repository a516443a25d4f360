// The CPU thread pool under WebAssembly threads (workers sleeping on Emscripten's futex): every output
// row and attention head is computed the same way whichever thread takes its part, so logits and greedy
// tokens must be bit for bit those of one thread, with 2 threads and with 4 on this machine's fewer cores.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { loadEngine, storiesModel, synthModel } from './wasm_env.mjs';

const THREADS = [2, 4];
let tabllm;
before(async () => {
  tabllm = await loadEngine('tabllm', { pthreadPoolSize: Math.max(...THREADS) - 1 });
});
after(() => tabllm.shutdown());

function withSession(model, threads, fn) {
  const session = model.createSession({ threads, kvType: 'f32' });
  try {
    return fn(session);
  } finally {
    session.free();
  }
}

const MODELS = { 'stories260K f32': () => storiesModel('f32'), 'tiny-llama q4_0': () => synthModel('tiny-llama', 'q4_0') };
for (const [name, bytes] of Object.entries(MODELS)) {
  test(`${name}: threaded prefill logits and greedy decode equal one thread's exactly`, () => {
    const model = tabllm.loadModel(bytes());
    try {
      const tokens = [1, ...Array.from({ length: 39 }, (_, i) => ((i + 1) * 37 + 11) % 512)];
      const greedy = { max_tokens: 24, temperature: 0, ignore_eos: true };
      const one = withSession(model, 1, (s) => ({ logits: s.logits(tokens), text: s.generate('Once upon a time', greedy).text }));
      for (const threads of THREADS) {
        const many = withSession(model, threads, (s) => ({ logits: s.logits(tokens), text: s.generate('Once upon a time', greedy).text }));
        assert.deepEqual(many.logits, one.logits, `${threads} threads: prefill logits`);
        assert.equal(many.text, one.text, `${threads} threads: greedy text`);
      }
    } finally {
      model.free();
    }
  });
}
