// Property tests of the JSON Schema grammars against ajv (tests/grammar-properties/): random schemas over
// the enforced keywords, draft 2020-12 and draft-07, properties in schema order and in any order. Grammar
// samples validate, ajv-valid instances are accepted, ajv-invalid ones rejected where every keyword is
// enforced. A fixed set of seeds; `node bench/grammar/properties.mjs --seeds N` runs many. Needs the
// development module of the WebAssembly build (TABLLM_WASM_DIR, default build-wasm).
import { skipOrFail, wasmDir } from './wasm_env.mjs';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { ByteGrammars } from '../grammar-properties/byte_grammar.mjs';
import { checkProperties } from '../grammar-properties/properties.mjs';

const SEEDS = Array.from({ length: 40 }, (_, i) => i);

test('JSON Schema grammars agree with ajv on random schemas (seeds 0-39)', async (t) => {
  const file = path.join(wasmDir, 'tabllm-dev.mjs');
  if (!fs.existsSync(file)) return skipOrFail(t, `${file} is missing: run scripts/build-wasm.sh`);
  const { default: createModule } = await import(pathToFileURL(file));
  const grammars = new ByteGrammars(await createModule());
  const { counts, failures } = checkProperties(grammars, { seeds: SEEDS });
  grammars.close();
  t.diagnostic(JSON.stringify(counts));
  assert.deepEqual(failures, [], `${counts.failures} failures`);
  // The generator and the walks exercise what they should.
  assert.ok(counts.compiled > 100 && counts.samples.valid > 300, JSON.stringify(counts));
  assert.ok(counts.valid_instances.checked > 1000 && counts.invalid_instances.rejected > 1000, JSON.stringify(counts));
  assert.ok(counts.duplicate_keys.rejected > 50, JSON.stringify(counts));
});
