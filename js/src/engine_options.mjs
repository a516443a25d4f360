// createEngine's options, checked before anything loads: an option this engine does not know is an error
// that names it (a misspelt option would otherwise change nothing, silently). WebLLM's names for the
// same things are accepted as aliases, so code written for @mlc-ai/web-llm ports by changing the import.
import { checkCloudOptions } from './cloud.mjs';
import { checkProfile } from './profiles/profiles.mjs';

/** The options createEngine takes (js/types/index.d.ts documents each). */
const ENGINE_OPTIONS = new Set(['model', 'backend', 'onProgress', 'onDeviceLost', 'contextSize', 'threads', 'wasmVariant',
  'modelName', 'chatTemplate', 'sha256', 'allowSoftwareAdapter', 'device', 'maxBatch', 'signal', 'revision', 'hfEndpoint', 'cacheDir',
  'gpuMemory', 'truncation', 'kvType', 'kvBudget', 'kvRecall', 'prefixCache', 'encryption', 'cloud', 'speculative', 'draftModel', 'models', 'memoryBudget', 'profile', 'metrics']);

/** The options one model of several takes (an entry of `models`, engine.load's second argument): its name, and
 * those that differ from model to model; the others are the engine's, for all its models. */
const MODEL_OPTIONS = new Set(['model', 'name', 'backend', 'contextSize', 'threads', 'wasmVariant', 'chatTemplate', 'sha256', 'revision',
  'maxBatch', 'gpuMemory', 'truncation', 'kvType', 'kvBudget', 'kvRecall', 'prefixCache', 'speculative', 'draftModel']);

/** createWorkerEngine's: createEngine's, without what cannot cross to a worker, plus the worker itself. */
const WORKER_OPTIONS = new Set([...ENGINE_OPTIONS, 'worker']);
WORKER_OPTIONS.delete('device');
WORKER_OPTIONS.delete('signal');
WORKER_OPTIONS.delete('cloud');  // functions (consent, policy.route) and the endpoint's traffic stay on the page

/** WebLLM (MLCEngineConfig, ChatOptions) names that mean what one of ours means. */
const ALIASES = { initProgressCallback: 'onProgress', context_window_size: 'contextSize' };

/** WebLLM names with no counterpart here, and what to do instead. */
const WEBLLM_HINTS = {
  appConfig: 'give the model itself as `model` (a URL, a File/Blob, or a path in Node)',
  logitProcessorRegistry: 'use a request\'s response_format or logit_bias',
  logLevel: 'errors are thrown, nothing else is logged',
};

/**
 * The options with aliases replaced by our names; throws a TypeError naming an unknown option, a wrong
 * value of a known one, or an option given twice under two names.
 * @param {Record<string, unknown>} options
 * @param {{worker?: boolean, api?: string}} [where] worker: createWorkerEngine's options; api: the function
 *   errors name (createServiceWorkerEngine takes createWorkerEngine's options)
 */
export function engineOptions(options, { worker = false, api = worker ? 'createWorkerEngine' : 'createEngine' } = {}) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${api} takes an options object {model, backend, ...}, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  const known = worker ? WORKER_OPTIONS : ENGINE_OPTIONS;
  const out = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const name = Object.hasOwn(ALIASES, key) ? ALIASES[key] : key;
    if (!known.has(name)) {
      if (!worker || !ENGINE_OPTIONS.has(name)) throw new TypeError(`${api}: unknown option "${key}"${hint(key, known)}`);
      throw new TypeError(`${api}: the option "${key}" cannot cross to the worker: use createEngine for it`);
    }
    if (Object.hasOwn(out, name)) throw new TypeError(`${api}: "${key}" and "${name === key ? aliasOf(key) : name}" are the same option: give one of them`);
    out[name] = name === 'onProgress' && key === 'initProgressCallback' ? webllmProgress(value) : value;
  }
  checkValues(api, out);
  return out;
}

/**
 * One model's options ({model, name, ...}: an entry of `models`, or engine.load's), checked as createEngine
 * checks its own; a TypeError names what is wrong. `where` names it in errors ("models[1]", "engine.load").
 */
export function modelOptions(entry, where) {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new TypeError(`${where} takes {model, name, ...}, got ${entry === null ? 'null' : Array.isArray(entry) ? 'an array' : typeof entry}`);
  }
  const out = {};
  for (const [key, value] of Object.entries(entry)) {
    if (value === undefined) continue;
    const name = Object.hasOwn(ALIASES, key) ? ALIASES[key] : key;
    if (!MODEL_OPTIONS.has(name)) {
      const why = ENGINE_OPTIONS.has(name) ? 'it is the engine\'s, for all its models: give it to createEngine' : `the options of a model are ${[...MODEL_OPTIONS].join(', ')}`;
      throw new TypeError(`${where}: the option "${key}" is not one model's (${why})`);
    }
    out[name] = value;
  }
  if (out.name !== undefined && (typeof out.name !== 'string' || out.name === '')) throw new TypeError(`${where}: name must be a non-empty string, got ${JSON.stringify(out.name)}`);
  checkValues(where, out);
  return out;
}

function aliasOf(name) {
  return Object.keys(ALIASES).find((k) => ALIASES[k] === name);
}

function hint(key, known) {
  if (Object.hasOwn(WEBLLM_HINTS, key)) return ` (a WebLLM option: ${WEBLLM_HINTS[key]})`;
  const lower = key.toLowerCase();
  const near = [...known, ...Object.keys(ALIASES)].find((k) => distance(k.toLowerCase(), lower) <= 2);
  return `: ${near ? `did you mean "${near}"? ` : ''}the options are ${[...known].join(', ')}`;
}

// Edit distance, for "did you mean".
function distance(a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

function checkValues(api, o) {
  const fail = (message) => { throw new TypeError(`${api}: ${message}`); };
  if ((o.model === undefined || o.model === null) && o.models === undefined) fail('it needs a model: a URL, a File/Blob, or a file path in Node (or `models`: several, each {model, name, ...})');
  if (o.models !== undefined) {
    if (!Array.isArray(o.models)) fail(`models must be an array of {model, name, ...}, got ${JSON.stringify(o.models)}`);
    o.models = o.models.map((entry, i) => modelOptions(entry, `${api}: models[${i}]`));
  }
  if (o.memoryBudget !== undefined && (typeof o.memoryBudget !== 'number' || !(o.memoryBudget > 0))) fail(`memoryBudget must be a positive number of bytes, got ${JSON.stringify(o.memoryBudget)}`);
  if (o.backend !== undefined && !['auto', 'webgpu', 'wasm'].includes(o.backend)) fail(`backend must be "auto", "webgpu" or "wasm", got ${JSON.stringify(o.backend)}`);
  for (const name of ['onProgress', 'onDeviceLost']) if (o[name] !== undefined && typeof o[name] !== 'function') fail(`${name} must be a function`);
  for (const name of ['contextSize', 'threads', 'maxBatch']) {
    const v = o[name];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) fail(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (o.wasmVariant !== undefined && !['threaded', 'single'].includes(o.wasmVariant)) fail(`wasmVariant must be "threaded" or "single", got ${JSON.stringify(o.wasmVariant)}`);
  for (const name of ['modelName', 'chatTemplate', 'revision', 'hfEndpoint', 'cacheDir']) if (o[name] !== undefined && typeof o[name] !== 'string') fail(`${name} must be a string`);
  const isHashes = (v) => typeof v === 'string' || (Array.isArray(v) && v.every((h) => typeof h === 'string'));
  if (o.sha256 !== undefined && !isHashes(o.sha256)) fail('sha256 must be a string, or an array of strings (one per part of a split model)');
  if (o.truncation !== undefined && !['auto', 'disabled'].includes(o.truncation)) fail(`truncation must be "auto" or "disabled", got ${JSON.stringify(o.truncation)}`);
  if (o.kvType !== undefined && !['f16', 'q8_0', 'f32'].includes(o.kvType)) fail(`kvType must be "f16", "q8_0" or "f32", got ${JSON.stringify(o.kvType)}`);
  if (o.prefixCache !== undefined && typeof o.prefixCache !== 'boolean' &&
    !(typeof o.prefixCache === 'object' && o.prefixCache !== null && Object.keys(o.prefixCache).every((k) => k === 'maxBytes') &&
      (o.prefixCache.maxBytes === undefined || (Number.isFinite(o.prefixCache.maxBytes) && o.prefixCache.maxBytes > 0)))) {
    fail(`prefixCache must be true, false or {maxBytes: a positive number}, got ${JSON.stringify(o.prefixCache)}`);
  }
  if (o.cloud !== undefined) checkCloudOptions(o.cloud, fail);
  if (o.encryption !== undefined && typeof o.encryption !== 'boolean' && !(typeof o.encryption === 'object' && o.encryption !== null &&
    Object.keys(o.encryption).every((k) => k === 'passphrase') && typeof o.encryption.passphrase === 'string' && o.encryption.passphrase.length > 0)) {
    fail('encryption must be true (a key kept on this device), false, or {passphrase: a non-empty string}');
  }
  // The fields' ranges are the core's to check, per request, with errors naming them (speculative.k, ...).
  if (o.speculative !== undefined && (typeof o.speculative !== 'object' || o.speculative === null || Array.isArray(o.speculative) ||
    !['prompt-lookup', 'self', 'draft', 'off'].includes(o.speculative.method))) {
    fail(`speculative must be {method: "prompt-lookup" | "self" | "draft" | "off", k?, ngram?, draft_layers?, min_speedup?}, got ${JSON.stringify(o.speculative)}`);
  }
  if (o.draftModel !== undefined && o.backend === 'wasm') fail('draftModel runs on WebGPU only: give backend "webgpu" (the WebAssembly engine loads one model)');
  if (o.kvRecall !== undefined && typeof o.kvRecall !== 'boolean') fail(`kvRecall must be true or false, got ${JSON.stringify(o.kvRecall)}`);
  if (o.kvRecall && !o.kvBudget) fail('kvRecall needs a kvBudget: pages are recalled from what a budget paged out');
  if (o.kvBudget !== undefined && (typeof o.kvBudget !== 'number' || !(o.kvBudget > 0))) fail(`kvBudget must be a positive number of bytes, got ${JSON.stringify(o.kvBudget)}`);
  if (o.profile !== undefined) checkProfile(o.profile, fail);
  if (o.metrics !== undefined && !(typeof o.metrics === 'object' && o.metrics !== null && Object.keys(o.metrics).every((k) => k === 'persist' || k === 'window') &&
    (o.metrics.persist === undefined || typeof o.metrics.persist === 'boolean') &&
    (o.metrics.window === undefined || (Number.isInteger(o.metrics.window) && o.metrics.window > 0)))) {
    fail(`metrics must be {persist?: true | false, window?: a positive integer (requests kept)}, got ${JSON.stringify(o.metrics)}`);
  }
  if (o.gpuMemory !== undefined && (typeof o.gpuMemory !== 'number' || !(o.gpuMemory > 0))) fail(`gpuMemory must be a positive number of bytes, got ${JSON.stringify(o.gpuMemory)}`);
}

// WebLLM's progress callback takes {progress (0 to 1), timeElapsed (seconds), text}; it gets those with
// our event's own fields.
function webllmProgress(callback) {
  if (typeof callback !== 'function') return callback;
  const start = Date.now();
  return (event) => {
    const fraction = event.phase === 'ready' ? 1 : event.total ? event.loaded / event.total : 0;
    const text = event.phase === 'ready' ? `ready (${event.backend})` : event.total ? `${event.phase}: ${Math.round(fraction * 100)}%` : event.phase;
    callback({ ...event, progress: fraction, timeElapsed: (Date.now() - start) / 1000, text });
  };
}
