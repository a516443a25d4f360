// Seeded random JSON Schemas over the keywords the grammar enforces (and the two it only reports:
// if/then/else, uniqueItems), each with a generator of instances meant to be valid. ajv is the judge of
// validity: an instance the generator gets wrong is simply an invalid one. Draft 2020-12 or draft-07
// spellings (prefixItems vs items arrays, dependentRequired vs dependencies).

/** mulberry32: a small seeded generator of floats in [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r, lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
const pick = (r, xs) => xs[Math.floor(r() * xs.length)];
const chance = (r, p) => r() < p;
function shuffle(r, xs) {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; --i) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

// Characters strings are made of: ASCII, ones JSON escapes, two- to four-byte UTF-8.
const CHARS = ['a', 'b', 'z', 'A', '0', '9', ' ', '-', '_', '.', '"', '\\', '/', '\n', '\t', 'é', 'ß', '€', '中', '😀'];
const randomString = (r, lo, hi) => Array.from({ length: int(r, lo, hi) }, () => pick(r, CHARS)).join('');

const FORMATS = {
  date: ['2024-02-29', '1999-12-31', '2023-06-30', '2000-01-01'],
  time: ['12:34:56Z', '23:59:59+02:00', '00:00:00.5-05:30', '08:15:00z'],
  'date-time': ['2024-02-29T12:00:00Z', '1999-12-31T23:59:59.999+01:00', '2023-06-30t06:07:08-00:30'],
  email: ['a@example.com', 'first.last+tag@mail.example.org', 'x_y@a-b.io'],
  hostname: ['example.com', 'a-b.c-d.org', 'localhost', 'x1.y2.z3'],
  ipv4: ['127.0.0.1', '255.255.255.255', '10.0.0.9', '192.168.1.1'],
  ipv6: ['::1', '2001:db8::8a2e:370:7334', 'fe80::1:2:3:4', '1:2:3:4:5:6:7:8', '::ffff:192.168.1.1'],
  uuid: ['123e4567-e89b-12d3-a456-426614174000', '00000000-0000-0000-0000-000000000000', 'A987FBC9-4BED-3078-CF07-9141BA07C9F3'],
  uri: ['https://example.com/a?b=c#d', 'mailto:someone@example.com', 'urn:isbn:0451450523', 'ftp://x.org/'],
};

// Patterns with strings they match (the grammar's own samples add more).
const PATTERNS = [
  ['^[a-z]{2,5}$', ['ab', 'hello', 'xyz']],
  ['^[A-Z]{3}-[0-9]{3}$', ['ABC-123', 'XYZ-000']],
  ['^(cat|dog)s?$', ['cat', 'dogs']],
  ['^\\d+(\\.\\d{1,2})?$', ['1', '42.5', '0.99']],
  ['ab', ['ab', 'xaby', 'cab']],
  ['^[^"\\\\]{0,4}$', ['', 'x y', 'é€']],
  ['^a*b?c+$', ['c', 'aabcc', 'bc']],
];

// Names that share prefixes, so undeclared keys come close to declared ones.
const NAMES = ['a', 'ab', 'id', 'idx', 'name', 'n', 'kind', 'k', 'value'];
const EXTRA_NAMES = ['zz', 'i', 'nam', 'names', 'q1', 'x_1'];

// Any JSON value, for enums, consts and mutations.
export function randomValue(r, depth = 0) {
  const kind = depth > 1 ? int(r, 0, 3) : int(r, 0, 5);
  switch (kind) {
    case 0: return pick(r, [null, true, false]);
    case 1: return pick(r, [0, -1, 7, 3.5, -0.25, 100, 1e3]);
    case 2: return randomString(r, 0, 4);
    case 3: return pick(r, ['a', 'b', 'id', '']);
    case 4: return Array.from({ length: int(r, 0, 2) }, () => randomValue(r, depth + 1));
    default: {
      const o = {};
      for (let i = int(r, 0, 2); i > 0; --i) o[pick(r, NAMES)] = randomValue(r, depth + 1);
      return o;
    }
  }
}

function distinctValues(r, n) {
  const out = [];
  const seen = new Set();
  for (let tries = 0; out.length < n && tries < 50; ++tries) {
    const v = randomValue(r);
    const key = JSON.stringify(v);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(v);
    }
  }
  return out;
}

// Each maker returns {schema, make(r)}: the schema and an instance generator for it.
function integerNode(r) {
  const schema = { type: 'integer' };
  let lo = -1e6, hi = 1e6;
  if (chance(r, 0.7)) {
    lo = int(r, -60, 60);
    if (chance(r, 0.5)) { schema.exclusiveMinimum = lo; lo += 1; } else schema.minimum = lo;
  }
  if (chance(r, 0.7)) {
    hi = Math.max(lo, -60) + int(r, 2, 300);
    if (chance(r, 0.5)) { schema.exclusiveMaximum = hi; hi -= 1; } else schema.maximum = hi;
  }
  let step = 1;
  if (chance(r, 0.4)) schema.multipleOf = step = pick(r, [2, 3, 5, 7, 10, 25]);
  return {
    schema,
    make: (r) => {
      const first = Math.ceil(lo / step), last = Math.floor(hi / step);
      return step * (last >= first ? int(r, first, last) : first);
    },
  };
}

function numberNode(r) {
  const schema = { type: 'number' };
  let lo = -1e4, hi = 1e4;
  if (chance(r, 0.7)) {
    lo = pick(r, [0, -1.5, 2.25, -100, 0.1, 10]);
    if (chance(r, 0.5)) { schema.exclusiveMinimum = lo; lo += 0.01; } else schema.minimum = lo;
  }
  if (chance(r, 0.7)) {
    hi = lo + pick(r, [0.5, 1, 3.75, 50, 1000]);
    if (chance(r, 0.5)) { schema.exclusiveMaximum = hi; hi -= 0.01; } else schema.maximum = hi;
  }
  if (chance(r, 0.2)) {
    schema.multipleOf = pick(r, [2, 5]);
    return { schema, make: (r) => schema.multipleOf * int(r, Math.ceil(lo / schema.multipleOf), Math.floor(hi / schema.multipleOf)) };
  }
  return { schema, make: (r) => Math.round((lo + r() * (hi - lo)) * 100) / 100 };
}

function stringNode(r) {
  const kind = int(r, 0, 2);
  if (kind === 0) {
    const schema = { type: 'string', format: pick(r, Object.keys(FORMATS)) };
    return { schema, make: (r) => pick(r, FORMATS[schema.format]) };
  }
  if (kind === 1) {
    const [pattern, examples] = pick(r, PATTERNS);
    return { schema: { type: 'string', pattern }, make: (r) => pick(r, examples) };
  }
  const schema = { type: 'string' };
  let lo = 0, hi = 12;
  if (chance(r, 0.6)) schema.minLength = lo = int(r, 0, 5);
  if (chance(r, 0.6)) schema.maxLength = hi = lo + int(r, 0, 10);
  return { schema, make: (r) => randomString(r, lo, hi) };
}

function enumNode(r) {
  if (chance(r, 0.3)) {
    const value = randomValue(r);
    return { schema: { const: value }, make: () => structuredClone(value) };
  }
  const values = distinctValues(r, int(r, 1, 4));
  return { schema: { enum: values }, make: (r) => structuredClone(pick(r, values)) };
}

function arrayNode(r, draft, depth) {
  const schema = { type: 'array' };
  let lo = 0, hi = 4;
  if (chance(r, 0.5)) schema.minItems = lo = int(r, 0, 2);
  if (chance(r, 0.5)) schema.maxItems = hi = lo + int(r, 0, 3);
  if (chance(r, 0.2)) {
    // uniqueItems over a small domain of scalars.
    const domain = distinctValues(r, 4).filter((v) => v === null || typeof v !== 'object');
    if (domain.length >= 1) {
      schema.items = { enum: domain };
      schema.uniqueItems = true;
      schema.maxItems = hi = Math.min(hi, domain.length);
      schema.minItems = lo = Math.min(lo, hi);
      return { schema, make: (r) => shuffle(r, domain).slice(0, int(r, lo, hi)) };
    }
  }
  if (chance(r, 0.3)) {
    const prefix = Array.from({ length: int(r, 1, 2) }, () => node(r, draft, depth + 1));
    const rest = chance(r, 0.5) ? node(r, draft, depth + 1) : null;
    if (draft === '2020') {
      schema.prefixItems = prefix.map((p) => p.schema);
      schema.items = rest ? rest.schema : false;
    } else {
      schema.items = prefix.map((p) => p.schema);
      schema.additionalItems = rest ? rest.schema : false;
    }
    const most = rest ? hi : Math.min(hi, prefix.length);
    if (!rest) schema.maxItems = hi = most;
    schema.minItems = lo = Math.min(lo, most);
    return { schema, make: (r) => Array.from({ length: int(r, lo, most) }, (_, i) => (i < prefix.length ? prefix[i] : rest).make(r)) };
  }
  const item = node(r, draft, depth + 1);
  schema.items = item.schema;
  return { schema, make: (r) => Array.from({ length: int(r, lo, hi) }, () => item.make(r)) };
}

function objectNode(r, draft, depth) {
  const schema = { type: 'object' };
  const names = shuffle(r, NAMES).slice(0, int(r, 0, 4));
  const props = names.map((n) => [n, node(r, draft, depth + 1)]);
  if (props.length) schema.properties = Object.fromEntries(props.map(([n, p]) => [n, p.schema]));
  const required = names.filter(() => chance(r, 0.5));
  if (required.length) schema.required = required;
  let extraKey = null, extra = null;
  const additional = int(r, 0, 3);
  if (additional === 0) schema.additionalProperties = false;
  else if (additional === 1) {
    extra = node(r, draft, depth + 1);
    schema.additionalProperties = extra.schema;
    extraKey = (r) => pick(r, EXTRA_NAMES);
  } else if (additional === 2) {
    extra = node(r, draft, depth + 1);
    schema.patternProperties = { '^x_': extra.schema };
    schema.additionalProperties = false;
    extraKey = (r) => `x_${int(r, 0, 99)}`;
  } else {
    extra = { make: randomValue };
    extraKey = (r) => pick(r, EXTRA_NAMES);
  }
  if (!props.length && chance(r, 0.5)) {
    // A map: keys constrained by propertyNames, counted by min/maxProperties.
    schema.propertyNames = { pattern: '^[a-z]{1,3}$' };
    delete schema.patternProperties;
    if (additional !== 1) {
      delete schema.additionalProperties;
      extra = { make: randomValue };
    }
    extraKey = (r) => randomString(rng(int(r, 0, 1e9)), 1, 3).replace(/[^a-z]/g, '') || 'k';
  }
  const trigger = names.find((n) => !required.includes(n));
  const dependsOn = names.find((n) => n !== trigger);
  let dependent = null;
  if (trigger && dependsOn && chance(r, 0.3)) {
    dependent = [trigger, dependsOn];
    if (draft === '2020') schema.dependentRequired = { [trigger]: [dependsOn] };
    else schema.dependencies = { [trigger]: [dependsOn] };
  }
  let lo = 0, hi = Infinity;
  if (chance(r, 0.3)) schema.minProperties = lo = int(r, 0, 3);
  if (chance(r, 0.3)) schema.maxProperties = hi = Math.max(lo, required.length) + int(r, 0, 3);
  return {
    schema,
    make: (r) => {
      const present = new Set(names.filter((n) => required.includes(n) || chance(r, 0.5)));
      if (dependent && present.has(dependent[0])) present.add(dependent[1]);
      const out = {};
      for (const [n, p] of props) if (present.has(n)) out[n] = p.make(r);
      const want = Math.min(hi, Math.max(lo, Object.keys(out).length + (extraKey && chance(r, 0.5) ? int(r, 1, 2) : 0)));
      for (let tries = 0; extraKey && Object.keys(out).length < want && tries < 10; ++tries) {
        const k = extraKey(r);
        if (!(k in out) && !names.includes(k)) out[k] = extra.make(r);
      }
      return out;
    },
  };
}

// anyOf / oneOf of different types (oneOf branches are then told apart), allOf as one schema's keywords
// split in two, not as a finite exclusion, if/then/else on a discriminator.
function combinatorNode(r, draft, depth) {
  const kind = int(r, 0, 4);
  if (kind <= 1) {
    const makers = shuffle(r, [integerNode, stringNode, (r) => objectNode(r, draft, depth + 1), () => ({ schema: { type: 'null' }, make: () => null }),
      (r) => arrayNode(r, draft, depth + 1)]).slice(0, int(r, 2, 3));
    const branches = makers.map((m) => m(r));
    return { schema: { [kind ? 'oneOf' : 'anyOf']: branches.map((b) => b.schema) }, make: (r) => pick(r, branches).make(r) };
  }
  if (kind === 2) {
    const whole = pick(r, [integerNode, stringNode, (r) => objectNode(r, draft, depth + 1)])(r);
    const keys = Object.keys(whole.schema).filter((k) => k !== 'type');
    const first = { type: whole.schema.type }, second = {};
    for (const k of keys) (chance(r, 0.5) ? first : second)[k] = whole.schema[k];
    return { schema: { allOf: [first, second] }, make: whole.make };
  }
  if (kind === 3) {
    if (chance(r, 0.5)) {
      const excluded = ['a', 'b', 'id', ''].filter(() => chance(r, 0.5));
      const base = stringNode(r);
      if (base.schema.format || base.schema.pattern) return base;
      return {
        schema: { ...base.schema, not: { enum: excluded.length ? excluded : ['a'] } },
        make: (r) => base.make(r),
      };
    }
    const banned = pick(r, ['string', 'null', 'object', 'array', 'integer']);
    const branches = [integerNode(r), stringNode(r), { schema: {}, make: () => null }, { schema: {}, make: () => [1] }, { schema: {}, make: () => ({ a: 1 }) }];
    return { schema: { not: { type: banned } }, make: (r) => pick(r, branches).make(r) };
  }
  // if/then/else: `kind` decides which of two properties is required.
  const a = node(r, draft, depth + 1), b = node(r, draft, depth + 1);
  const schema = {
    type: 'object',
    properties: { kind: { enum: ['a', 'b'] }, a: a.schema, b: b.schema },
    required: ['kind'],
    if: { properties: { kind: { const: 'a' } } },
    then: { required: ['a'] },
    else: { required: ['b'] },
  };
  return { schema, make: (r) => (chance(r, 0.5) ? { kind: 'a', a: a.make(r) } : { kind: 'b', b: b.make(r) }) };
}

function node(r, draft, depth) {
  const leaf = depth >= 3;
  const kinds = leaf ? 5 : 8;
  switch (int(r, 0, kinds - 1)) {
    case 0: return integerNode(r);
    case 1: return numberNode(r);
    case 2: return stringNode(r);
    case 3: return chance(r, 0.5) ? { schema: { type: 'boolean' }, make: (r) => chance(r, 0.5) } : { schema: { type: 'null' }, make: () => null };
    case 4: return enumNode(r);
    case 5: return arrayNode(r, draft, depth);
    case 6: return objectNode(r, draft, depth);
    default: return combinatorNode(r, draft, depth);
  }
}

export const DRAFTS = {
  '2020': 'https://json-schema.org/draft/2020-12/schema',
  '07': 'http://json-schema.org/draft-07/schema#',
};

/** The schema of `seed` for `draft` ('2020' or '07'): an object at the root half of the time. */
export function randomSchema(seed, draft) {
  const r = rng(seed);
  const root = chance(r, 0.5) ? objectNode(r, draft, 0) : node(r, draft, 0);
  return { schema: { $schema: DRAFTS[draft], ...root.schema }, make: root.make };
}

/** A copy of `value` with one change somewhere: most are invalid, some stay valid. */
export function mutate(r, value) {
  const paths = [];
  (function walk(v, path) {
    paths.push(path);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) walk(v[k], [...path, k]);
  })(value, []);
  const path = pick(r, paths);
  const copy = structuredClone(value);
  const get = (p) => p.reduce((v, k) => v[k], copy);
  const set = (v) => {
    if (!path.length) return v;
    get(path.slice(0, -1))[path[path.length - 1]] = v;
    return copy;
  };
  const target = get(path);
  if (typeof target === 'number') return set(target + pick(r, [1, -1, 0.5, 1000, -1000]));
  if (typeof target === 'string') {
    const edits = [target + pick(r, CHARS), target.slice(1), '', target + target, pick(r, ['a', 'id', '12:00:00', '1.2.3.4'])];
    return set(pick(r, edits));
  }
  if (Array.isArray(target) && chance(r, 0.6)) {
    if (target.length && chance(r, 0.5)) target.push(structuredClone(pick(r, target)));
    else if (target.length) target.splice(int(r, 0, target.length - 1), 1);
    else target.push(randomValue(r));
    return copy;
  }
  if (target && typeof target === 'object' && !Array.isArray(target) && chance(r, 0.7)) {
    const keys = Object.keys(target);
    if (keys.length && chance(r, 0.5)) delete target[pick(r, keys)];
    else target[pick(r, [...NAMES, ...EXTRA_NAMES, 'x_5'])] = randomValue(r);
    return copy;
  }
  return set(randomValue(r));
}
