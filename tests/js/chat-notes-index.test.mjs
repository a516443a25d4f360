// The chat demo's notes index (apps/chat/notes_index.mjs): how pasted text becomes chunks, and the index over
// a real engine's embeddings (the synthetic tiny bert on WebAssembly): batches, ranking, clear.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { NotesIndex, splitNotes } from '../../apps/chat/notes_index.mjs';
import { createEngine, similarity } from '../../js/src/index.mjs';
import { modelsDir, skipOrFail, synthModel } from './wasm_env.mjs';
import { missingBuild } from './api-env.mjs';

test('splitNotes: paragraphs at blank lines, whitespace folded, long paragraphs cut between sentences', () => {
  assert.deepEqual(splitNotes('  first\nnote.  \n\n\n second\t note \n \n'), ['first note.', 'second note']);
  assert.deepEqual(splitNotes(' \n\n '), []);
  const sentences = Array.from({ length: 30 }, (_, i) => `Sentence number ${i} says something short!`);
  const chunks = splitNotes(sentences.join(' '));
  assert.ok(chunks.length > 1);
  for (const c of chunks) assert.ok(c.length <= 600 && /!$/.test(c), c);
  assert.equal(chunks.join(' '), sentences.join(' '), 'no text is lost or reordered');
});

const skip = missingBuild();
let engine;
before(async () => {
  if (skip) return;
  synthModel('tiny-bert', 'f32');
  engine = await createEngine({ model: path.join(modelsDir, 'tiny-bert-f32.gguf'), backend: 'wasm', wasmVariant: 'single', modelName: 'notes' });
});
after(async () => {
  await engine?.unload();
});

test('NotesIndex: embeds in batches through engine.embeddings.create; a note\'s own text ranks it first', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const calls = [];
  const index = new NotesIndex(async (texts) => {
    calls.push(texts.length);
    const { data } = await engine.embeddings.create({ model: 'notes', input: texts });
    return data.map((d) => d.embedding);
  }, similarity);
  const notes = Array.from({ length: 20 }, (_, i) => `note ${i}: ${['the cat sat on the mat', 'buy milk and eggs', 'call the bank at noon', 'the train leaves at six'][i % 4]} ${'abcdefghijklmnopqrst'[i]}`);
  const progress = [];
  await index.add(notes, (done, total) => progress.push([done, total]));
  assert.deepEqual(calls, [16, 4]);
  assert.deepEqual(progress, [[16, 20], [20, 20]]);
  assert.equal(index.size, 20);
  for (const i of [0, 7, 19]) {
    const [best, next] = await index.search(notes[i], 2);
    assert.equal(best.text, notes[i]);
    assert.ok(best.score > 0.9999 && next.score < best.score, `${best.score} then ${next.score}`);
  }
  assert.equal((await index.search('anything', 50)).length, 20);
  index.clear();
  assert.deepEqual(await index.search('the cat'), []);
});
