// Generation under JSON Schemas, many seeds: every completion that finishes with "stop" must parse and
// validate with ajv; completions cut by max_tokens are counted. Shared by tests/js/api-structured.test.mjs
// and bench/structured/seeds.mjs.
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

export const SCHEMAS = {
  person: {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 24 },
      age: { type: 'integer', minimum: 0, maximum: 120 },
      nickname: { type: 'string', pattern: '^[a-z]{2,8}$' },
      city: { enum: ['Paris', 'Rome', 'Oslo'] },
      pets: { type: 'array', items: { enum: ['cat', 'dog', 'fish'] }, maxItems: 3 },
    },
    required: ['name', 'age'],
    additionalProperties: false,
  },
  order: {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      date: { type: 'string', format: 'date' },
      paid: { type: 'boolean' },
      total: { type: 'number', minimum: 0 },
      lines: {
        type: 'array', minItems: 1, maxItems: 3,
        items: { type: 'object', properties: { sku: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{3}$' }, qty: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['sku', 'qty'], additionalProperties: false },
      },
    },
    required: ['id', 'date', 'paid', 'lines'],
  },
  tree: {
    $defs: { node: { type: 'object', properties: { label: { type: 'string', maxLength: 8 }, children: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 } }, required: ['label'] } },
    $ref: '#/$defs/node',
  },
  choice: { anyOf: [{ type: 'integer' }, { type: 'null' }, { type: 'object', properties: { ok: { const: true } }, required: ['ok'] }] },
  // Object keywords: keys sharing prefixes with undeclared ones, patternProperties, dependencies,
  // min/maxProperties; exclusive bounds with multipleOf, formats, not.
  item: {
    type: 'object',
    properties: {
      id: { type: 'integer', exclusiveMinimum: 0, multipleOf: 3 },
      idx: { type: 'string', format: 'ipv4' },
      name: { type: 'string', not: { enum: ['none', 'null'] } },
      host: { type: 'string', format: 'hostname' },
    },
    patternProperties: { '^x-': { type: 'boolean' } },
    additionalProperties: false,
    required: ['id', 'name'],
    dependencies: { idx: ['host'] },
    minProperties: 2,
    maxProperties: 4,
  },
  reading: {
    type: 'object',
    properties: {
      at: { type: 'string', format: 'time' },
      delta: { type: 'integer', exclusiveMaximum: 0, multipleOf: 5 },
      unit: { const: { name: 'm', scale: [1, 10] } },
      from: { oneOf: [{ type: 'null' }, { type: 'string', format: 'ipv4' }] },
    },
    required: ['at', 'delta', 'unit', 'from'],
    additionalProperties: false,
  },
  counts: { type: 'object', propertyNames: { pattern: '^[a-z]{1,4}$' }, additionalProperties: { type: 'integer', minimum: -5, maximum: 5 }, minProperties: 1, maxProperties: 3 },
};

/**
 * Runs `seeds` completions per schema, temperature 1, and checks each. Returns
 * {schema: {runs, stop, length, invalid: [{seed, text, errors}]}}.
 * @param {{completions: {create: Function}}} engine
 */
export async function runSeeds(engine, { seeds = 200, maxTokens = 160, prompt = 'Once upon a time', schemas = SCHEMAS } = {}) {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const report = {};
  for (const [name, schema] of Object.entries(schemas)) {
    const validate = ajv.compile(schema);
    const r = (report[name] = { runs: 0, stop: 0, length: 0, invalid: [] });
    for (let seed = 0; seed < seeds; seed++) {
      const out = await engine.completions.create({
        prompt, seed, temperature: 1, max_tokens: maxTokens,
        response_format: { type: 'json_schema', json_schema: { name, schema } },
      });
      const { text, finish_reason: finish } = out.choices[0];
      r.runs++;
      if (finish === 'length') {
        r.length++;
        continue;
      }
      r.stop++;
      let doc;
      try {
        doc = JSON.parse(text);
      } catch (e) {
        r.invalid.push({ seed, text, errors: e.message });
        continue;
      }
      if (!validate(doc)) r.invalid.push({ seed, text, errors: ajv.errorsText(validate.errors) });
    }
  }
  return report;
}
