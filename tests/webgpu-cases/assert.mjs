// The few assertions the shared WebGPU cases need, without node:assert, so the same cases run in Node and
// in a browser page. Failures throw an Error whose message says what differed.

export class AssertionError extends Error {
  constructor(message) {
    super(message);
    this.name = 'AssertionError';
  }
}

export function ok(value, message = 'expected a truthy value') {
  if (!value) throw new AssertionError(message);
}

export function equal(actual, expected, message = '') {
  if (!Object.is(actual, expected)) throw new AssertionError(`${message ? `${message}: ` : ''}${String(actual)} !== ${String(expected)}`);
}

/** Deep equality of JSON-like values (arrays, typed arrays, plain objects, numbers, strings). */
export function deepEqual(actual, expected, message = '') {
  const a = JSON.stringify(normalize(actual));
  const b = JSON.stringify(normalize(expected));
  if (a !== b) throw new AssertionError(`${message ? `${message}: ` : ''}got ${a}, expected ${b}`);
}

function normalize(value) {
  if (ArrayBuffer.isView(value)) return Array.from(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  return value;
}

/** Runs `fn` and checks that it throws an error whose message matches `pattern`. */
export function throws(fn, pattern, message = '') {
  try {
    fn();
  } catch (error) {
    if (!pattern.test(String(error?.message ?? error))) throw new AssertionError(`${message ? `${message}: ` : ''}error "${error?.message}" does not match ${pattern}`);
    return;
  }
  throw new AssertionError(`${message ? `${message}: ` : ''}expected an error matching ${pattern}`);
}

/** Like throws, for a function returning a promise. Returns the error. */
export async function rejects(fn, pattern, message = '') {
  try {
    await fn();
  } catch (error) {
    if (!pattern.test(String(error?.message ?? error))) throw new AssertionError(`${message ? `${message}: ` : ''}error "${error?.message}" does not match ${pattern}`);
    return error;
  }
  throw new AssertionError(`${message ? `${message}: ` : ''}expected an error matching ${pattern}`);
}
