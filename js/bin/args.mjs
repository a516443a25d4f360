// Command-line options in the native CLI's style (tools/cli/args.cpp): `-x VALUE`, `--name VALUE`,
// `--name=VALUE`, flags without values; an unknown option or a missing value is an error that shows usage.

export class UsageError extends Error {}

/**
 * @param {string[]} argv the arguments after the command
 * @param {string[]} options value options, aliases separated by '|' ("p|prompt")
 * @param {string[]} flags options without a value
 * @param {string} usage
 */
export function parseArgs(argv, options, flags, usage) {
  const canonical = new Map();
  const takesValue = new Map();
  for (const [group, value] of [[options, true], [flags, false]]) {
    for (const spec of group) {
      const names = spec.split('|');
      for (const n of names) {
        const dashed = (n.length === 1 ? '-' : '--') + n;
        canonical.set(dashed, names[0]);
        takesValue.set(dashed, value);
      }
    }
  }
  const values = new Map();
  const repeated = new Map();  // every value of an option given more than once (its last is in `values`)
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.length > 1 && arg[0] === '-' && !/^-[\d.]/.test(arg)) {
      let key = arg;
      let value;
      const eq = arg.indexOf('=');
      if (eq >= 0 && arg.startsWith('--')) {
        key = arg.slice(0, eq);
        value = arg.slice(eq + 1);
      }
      if (!canonical.has(key)) throw new UsageError(`unknown option ${key}\n${usage}`);
      if (takesValue.get(key)) {
        if (value === undefined) {
          if (i + 1 >= argv.length) throw new UsageError(`option ${key} needs a value\n${usage}`);
          value = argv[++i];
        }
        values.set(canonical.get(key), value);
        repeated.set(canonical.get(key), [...(repeated.get(canonical.get(key)) ?? []), value]);
      } else {
        if (value !== undefined) throw new UsageError(`option ${key} takes no value`);
        values.set(canonical.get(key), true);
      }
    } else positional.push(arg);
  }
  if (positional.length) throw new UsageError(`unexpected argument '${positional[0]}'\n${usage}`);
  const name = (key) => (key.length === 1 ? `-${key}` : `--${key}`);
  return {
    get: (key) => values.get(key),
    /** Every value given for a value option, in order (none: []). */
    all: (key) => repeated.get(key) ?? [],
    flag: (key) => values.get(key) === true,
    require(key) {
      const v = values.get(key);
      if (v === undefined) throw new UsageError(`missing ${name(key)}\n${usage}`);
      return v;
    },
    int(key, fallback) {
      const v = values.get(key);
      if (v === undefined) return fallback;
      if (!/^-?\d+$/.test(v)) throw new UsageError(`${name(key)} needs an integer, got '${v}'`);
      return Number(v);
    },
    number(key, fallback) {
      const v = values.get(key);
      if (v === undefined) return fallback;
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${name(key)} needs a number, got '${v}'`);
      return n;
    },
  };
}

export const ENGINE_OPTIONS = ['m|model', 'threads|t', 'ctx|c', 'backend', 'kv-type'];
export const ENGINE_USAGE =
  '  -m, --model FILE     GGUF model\n' +
  '  --backend B          auto (default), webgpu or wasm; auto takes WebGPU when a GPU adapter exists\n' +
  '  -t, --threads N      CPU threads of the wasm backend (default: up to 4)\n' +
  '  -c, --ctx N          context size in tokens (default: the model\'s, at most 4096)\n' +
  '  --kv-type T          KV cache type: f16 (default), q8_0 or f32\n';

/** The backend and engine options shared by generate and bench. */
export function engineOptions(args) {
  const backend = args.get('backend') ?? 'auto';
  if (!['auto', 'webgpu', 'wasm'].includes(backend)) throw new UsageError(`--backend must be auto, webgpu or wasm, got '${backend}'`);
  const threads = args.int('threads', undefined);
  if (threads !== undefined && (threads < 1 || threads > 512)) throw new UsageError('--threads must be between 1 and 512');
  const contextSize = args.int('ctx', undefined);
  if (contextSize !== undefined && contextSize < 1) throw new UsageError('--ctx must be positive');
  const kvType = args.get('kv-type');
  if (kvType !== undefined && !['f16', 'q8_0', 'f32'].includes(kvType)) throw new UsageError(`--kv-type must be f16, q8_0 or f32, got '${kvType}'`);
  return { model: args.require('m'), backend, threads, contextSize, kvType };
}
