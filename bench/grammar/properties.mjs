// Property checks of JSON Schema grammars against ajv over many seeds (tests/grammar-properties/): prints
// one JSON object with the counts and the first failures. The CI test runs a fixed few of these seeds.
//
// usage: node bench/grammar/properties.mjs [--seeds N] [--first S] [--wasm build-wasm/tabllm-dev.mjs]
//                                         [--drafts 2020,07] [--orders schema,any]
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { ByteGrammars } from '../../tests/grammar-properties/byte_grammar.mjs';
import { checkProperties } from '../../tests/grammar-properties/properties.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const count = Number(option('--seeds', '1000'));
const first = Number(option('--first', '0'));
const { default: createModule } = await import(pathToFileURL(path.resolve(root, option('--wasm', 'build-wasm/tabllm-dev.mjs'))).href);
const grammars = new ByteGrammars(await createModule());
const started = performance.now();
const { counts, failures } = checkProperties(grammars, {
  seeds: Array.from({ length: count }, (_, i) => first + i),
  drafts: option('--drafts', '2020,07').split(','),
  orders: option('--orders', 'schema,any').split(','),
});
grammars.close();
console.log(JSON.stringify({ seeds: [first, first + count - 1], seconds: Number(((performance.now() - started) / 1000).toFixed(1)), counts, failures }, null, 2));
