// The property checks of compiled JSON Schema grammars against ajv, shared by
// tests/js/grammar-properties.test.mjs (a fixed set of seeds) and bench/grammar/properties.mjs (many):
// for each random schema (schemas.mjs), draft 2020-12 and draft-07, properties in schema order and in any
// order,
//   - documents sampled from the grammar (random walks over its byte masks) parse and validate with ajv
//     (those that repeat a key of additional properties, which the grammar allows, are counted apart);
//   - instances ajv finds valid are accepted, compact and 2-space indented (in schema order only the
//     generator's own instances, whose keys come in the schema's order);
//   - instances ajv finds invalid (mutations) are rejected, and so is an object with a declared key
//     written twice.
// A schema whose compilation reported keywords it does not enforce is exempt from the checks that need
// them (sampled documents valid, invalid instances rejected): those cases are counted as "explained".
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

import { mutate, randomSchema, rng } from './schemas.mjs';

function validators() {
  const make = (Class) => {
    const ajv = new Class({ strict: false, allErrors: false });
    addFormats(ajv);
    return ajv;
  };
  return { '2020': make(Ajv2020), '07': make(Ajv) };
}

// Random-walk weights: structure and short strings; the end and closing bytes grow likelier with length
// so walks finish; blanks and non-ASCII stay rare but possible.
function weigh(byte, length) {
  if (byte === null) return 0.3 + length / 20;
  if (byte === 0x22) return 4 + length / 4;  // "
  if (byte === 0x7d || byte === 0x5d) return 1 + length / 10;  // } ]
  if (byte === 0x2c) return 1 / (1 + length / 40);  // ,
  if (byte === 0x20 || byte === 0x0a || byte === 0x09) return 0.02;
  if (byte === 0x5c || byte >= 0x80) return 0.1;
  return 1;
}

// JSON text of the object `value` with its first member that `schema` declares written twice (keys of
// additional properties may repeat: which of unboundedly many keys were written is not a regular
// language, so only declared keys are tracked). Null when there is no such member.
function withDuplicateKey(value, schema) {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const key = Object.keys(value).find((k) => Object.hasOwn(schema.properties ?? {}, k));
  if (key === undefined) return null;
  const member = `${JSON.stringify(key)}:${JSON.stringify(value[key])}`;
  return `{${member},${JSON.stringify(value).slice(1)}`;
}

// Whether the JSON text has an object with a key written twice (JSON.parse keeps the last silently).
function hasRepeatedKey(text) {
  const stack = [];
  for (let i = 0; i < text.length; ++i) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack.at(-1);
      if (top?.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1));
        if (top.keys.has(key)) return true;
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push({ keys: null, expectKey: false });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',' && stack.at(-1)?.keys) stack.at(-1).expectKey = true;
  }
  return false;
}

const texts = (value) => [JSON.stringify(value), JSON.stringify(value, null, 2)];

/**
 * Runs the checks for `seeds` × drafts × orders. Returns counts and the first failures (each with its
 * seed, draft, order, what failed, the text and the schema).
 * @param {import('./byte_grammar.mjs').ByteGrammars} grammars
 */
export function checkProperties(grammars, { seeds, drafts = ['2020', '07'], orders = ['schema', 'any'], samples = 6, instances = 8, mutations = 16, maxFailures = 20 }) {
  const ajv = validators();
  const counts = {
    schemas: 0, compiled: 0, unsatisfiable: 0, with_warnings: 0,
    samples: { drawn: 0, complete: 0, valid: 0, invalid_explained: 0, repeated_additional_key: 0, dead_ends: 0, too_long: 0 },
    valid_instances: { checked: 0, accepted: 0 },
    invalid_instances: { checked: 0, rejected: 0, accepted_explained: 0 },
    duplicate_keys: { checked: 0, rejected: 0 },
    failures: 0,
  };
  const failures = [];
  const fail = (where, what, text) => {
    counts.failures++;
    if (failures.length < maxFailures) failures.push({ ...where, what, text });
  };
  for (const seed of seeds) {
    for (const draft of drafts) {
      const { schema, make } = randomSchema(seed, draft);
      let validate;
      try {
        validate = ajv[draft].compile(schema);
      } catch (e) {
        throw new Error(`seed ${seed} draft ${draft}: ajv refuses the generated schema (${e.message}): ${JSON.stringify(schema)}`);
      }
      for (const order of orders) {
        const where = { seed, draft, order, schema: JSON.stringify(schema) };
        counts.schemas++;
        const r = rng(seed * 7919 + (draft === '07' ? 1 : 0) + (order === 'any' ? 2 : 0));
        const own = Array.from({ length: instances }, () => make(r));
        const candidates = [...own.map((v) => ({ v, own: true })),
          ...Array.from({ length: mutations }, () => ({ v: mutate(r, own[Math.floor(r() * own.length)]), own: false }))];
        let grammar;
        try {
          grammar = grammars.compile(schema, { any_property_order: order === 'any' });
        } catch (e) {
          // Refusing a schema no value satisfies is right (when ajv finds none of the instances valid either).
          const someValid = candidates.find(({ v }) => validate(v));
          if (/matches no value/.test(e.message) && !someValid) counts.unsatisfiable++;
          else fail(where, `does not compile: ${e.message}`, someValid ? JSON.stringify(someValid.v) : '');
          continue;
        }
        counts.compiled++;
        const exact = grammar.warnings.length === 0;
        if (!exact) counts.with_warnings++;
        try {
          for (let i = 0; i < samples; ++i) {
            counts.samples.drawn++;
            const s = grammar.sample(r, weigh);
            if (s.tooLong) { counts.samples.too_long++; continue; }
            if (s.deadEnd !== undefined) {
              counts.samples.dead_ends++;
              fail(where, 'random walk reached a prefix the grammar allows but cannot complete', s.deadEnd);
              continue;
            }
            counts.samples.complete++;
            let doc;
            try {
              doc = JSON.parse(s.text);
            } catch (e) {
              fail(where, `sampled text is not JSON: ${e.message}`, s.text);
              continue;
            }
            // Keys of additional properties may repeat (docs/structured-output.md): such a document says
            // less than its text to JSON.parse, so it is counted apart.
            if (hasRepeatedKey(s.text)) counts.samples.repeated_additional_key++;
            else if (validate(doc)) counts.samples.valid++;
            else if (!exact) counts.samples.invalid_explained++;
            else fail(where, `sampled document invalid: ${ajv[draft].errorsText(validate.errors)}`, s.text);
          }
          for (const { v, own: isOwn } of candidates) {
            if (validate(v)) {
              if (order === 'schema' && !isOwn) continue;  // a mutation may reorder keys
              for (const text of texts(v)) {
                counts.valid_instances.checked++;
                if (grammar.accepts(text)) counts.valid_instances.accepted++;
                else fail(where, 'valid instance refused', text);
              }
            } else {
              for (const text of texts(v)) {
                counts.invalid_instances.checked++;
                if (!grammar.accepts(text)) counts.invalid_instances.rejected++;
                else if (!exact) counts.invalid_instances.accepted_explained++;
                else fail(where, `invalid instance accepted (${ajv[draft].errorsText(validate.errors)})`, text);
              }
            }
          }
          for (const { v } of candidates.slice(0, 4)) {
            const text = withDuplicateKey(v, schema);
            if (text === null) continue;
            counts.duplicate_keys.checked++;
            if (!grammar.accepts(text)) counts.duplicate_keys.rejected++;
            else fail(where, 'object with a repeated key accepted', text);
          }
        } finally {
          grammar.free();
        }
      }
    }
  }
  return { counts, failures };
}
