// What the API tests share: one stories260K engine on the single-threaded WebAssembly build (quick to
// start, no pthread workers to end), and the greedy reference text.
import fs from 'node:fs';
import path from 'node:path';

import { createEngine } from '../../js/src/index.mjs';
import { greedyReference, modelsDir, storiesModel, wasmDir } from './wasm_env.mjs';

export const storiesPath = () => {
  storiesModel('f32');  // converts it when missing
  return path.join(modelsDir, 'stories260K-f32.gguf');
};

/** The reason the engine cannot run here, or null. */
export function missingBuild() {
  for (const f of ['tabllm-st.mjs', 'tabllm-st.wasm']) if (!fs.existsSync(path.join(wasmDir, f))) return `${path.join(wasmDir, f)} is missing: run scripts/build-wasm.sh`;
  return null;
}

export function storiesEngine(options = {}) {
  return createEngine({ model: storiesPath(), backend: 'wasm', wasmVariant: 'single', ...options });
}

/** The first greedy reference: prompt "Once upon a time" and its 64-token continuation. */
export const reference = () => greedyReference()[0];

/** A chat of `turns` user/assistant turns ending with a question, far longer than a context of 512. */
export function longChat(turns = 14, system = null) {
  const messages = system ? [{ role: 'system', content: system }] : [];
  for (let i = 0; i < turns - 1; i++) {
    messages.push({ role: 'user', content: `Tell me about day ${i + 1}, when Lily and her dog went to the big park with a red ball and played.` });
    messages.push({ role: 'assistant', content: 'Lily and her dog played in the park all day. They were very happy and had lots of fun with the ball.' });
  }
  messages.push({ role: 'user', content: 'What happened next?' });
  return messages;
}
