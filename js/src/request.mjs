// OpenAI request bodies → what the engine runs. The fields only the engine uses (messages, n, stream,
// max_tokens, logprobs, tools, the shape of response_format) are checked here (type, range, presence); the
// sampling settings the core consumes (temperature, top_p, top_k, min_p, penalties, stop, logit_bias) and
// the format itself are passed through and checked once by the core (Model.prepare), which names the
// parameter in the same words. Either way a wrong field is an OpenAI-shaped error naming it, before any
// model work starts; fields the engine cannot honour are refused rather than silently ignored.
import { TabllmAPIError, invalidRequest } from './errors.mjs';
import { checkProfile } from './profiles/profiles.mjs';
import { checkToolMessage, checkToolsWithFormat, parseTools } from './tool_calls.mjs';

// Accepted and ignored: they change nothing about the text (bookkeeping in OpenAI's service).
const IGNORED = new Set(['model', 'user', 'store', 'metadata', 'service_tier', 'parallel_tool_calls']);

// truncation is OpenAI's Responses API field, an extension on both endpoints (the engine's option sets
// its default; the core checks its value). So are speculative (decoding: docs/speculative.md) and profile
// (the energy profile of this request's steps: profiles/profiles.mjs).
const SAMPLING_FIELDS = ['temperature', 'top_p', 'seed', 'stop', 'frequency_penalty', 'presence_penalty', 'logit_bias',
  'top_k', 'min_p', 'repetition_penalty', 'n', 'stream', 'stream_options', 'max_tokens', 'truncation', 'speculative', 'profile'];
const CHAT_FIELDS = new Set([...SAMPLING_FIELDS, 'messages', 'max_completion_tokens', 'logprobs', 'top_logprobs', 'response_format', 'tools', 'tool_choice']);
// response_format is an extension on completions: the same structured output as chat.
const COMPLETION_FIELDS = new Set([...SAMPLING_FIELDS, 'prompt', 'logprobs', 'echo', 'suffix', 'best_of', 'response_format']);

// Fields of OpenAI's API that this engine does not implement: named, so the error says so.
const UNSUPPORTED = {
  functions: 'use of functions', function_call: 'use of functions', audio: 'audio output', modalities: 'output modalities',
  prediction: 'predicted outputs', reasoning_effort: 'reasoning effort', web_search_options: 'web search',
};

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function number(body, param, { min = -Infinity, max = Infinity, integer = false, exclusiveMin = false } = {}) {
  const v = body[param];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidRequest(param, `${param} must be a number, got ${JSON.stringify(v)}`, 'invalid_type');
  if (integer && !Number.isInteger(v)) throw invalidRequest(param, `${param} must be an integer, got ${v}`, 'invalid_type');
  if (v < min || v > max || (exclusiveMin && v === min)) {
    const low = exclusiveMin ? `> ${min}` : `>= ${min}`;
    throw invalidRequest(param, `${param} must be ${max === Infinity ? low : `${low} and <= ${max}`}, got ${v}`);
  }
  return v;
}

function boolean(body, param) {
  const v = body[param];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidRequest(param, `${param} must be true or false, got ${JSON.stringify(v)}`, 'invalid_type');
  return v;
}

// A field's value, or undefined when absent (OpenAI reads null as absent).
const given = (v) => (v === null ? undefined : v);

function checkFields(body, known) {
  for (const key of Object.keys(body)) {
    if (known.has(key) || IGNORED.has(key)) continue;
    // Own keys only: a field named "constructor" or "__proto__" is unknown, not Object.prototype's.
    if (Object.hasOwn(UNSUPPORTED, key)) throw new TabllmAPIError(`${key}: ${UNSUPPORTED[key]} is not supported by this engine`, { param: key, code: 'unsupported_parameter' });
    throw new TabllmAPIError(`unrecognized request argument: ${key}`, { param: key, code: 'unknown_parameter' });
  }
}

// Sampling and stream settings shared by both endpoints.
function common(body) {
  const seed = number(body, 'seed', { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
  const n = number(body, 'n', { integer: true, min: 1, max: 16 }) ?? 1;
  const stream = boolean(body, 'stream') ?? false;
  let includeUsage = false;
  if (body.stream_options !== undefined && body.stream_options !== null) {
    if (!isObject(body.stream_options)) throw invalidRequest('stream_options', 'stream_options must be an object', 'invalid_type');
    if (!stream) throw invalidRequest('stream_options', 'stream_options is only allowed with stream: true');
    for (const key of Object.keys(body.stream_options))
      if (key !== 'include_usage') throw new TabllmAPIError(`unrecognized stream option: ${key}`, { param: 'stream_options', code: 'unknown_parameter' });
    includeUsage = boolean(body.stream_options, 'include_usage') ?? false;
  }
  // The core's names (tabllm.h), with OpenAI's defaults: plain sampling at temperature 1, no top-k, top-p
  // or min-p cut, no penalties.
  const params = {
    temperature: given(body.temperature) ?? 1,
    top_p: given(body.top_p) ?? 1,
    top_k: given(body.top_k) ?? 0,
    min_p: given(body.min_p) ?? 0,
    repeat_penalty: given(body.repetition_penalty) ?? 1,
    frequency_penalty: given(body.frequency_penalty) ?? 0,
    presence_penalty: given(body.presence_penalty) ?? 0,
    stop: given(body.stop) ?? [],
  };
  if (given(body.logit_bias) !== undefined) params.logit_bias = body.logit_bias;
  const profile = given(body.profile);
  if (profile !== undefined) checkProfile(profile, (message) => { throw invalidRequest('profile', message, 'invalid_value'); });
  return { params, seed, n, stream, includeUsage, truncation: given(body.truncation), speculative: given(body.speculative), profile };
}

/** Text of a chat message's content: a string, or an array of text parts. */
function messageText(content, i, role) {
  const param = `messages[${i}].content`;
  if (typeof content === 'string') return content;
  if (content === null && role === 'assistant') return '';
  if (!Array.isArray(content)) throw invalidRequest(param, `${param} must be a string or an array of text parts, got ${JSON.stringify(content)}`, 'invalid_type');
  return content.map((part, j) => {
    if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string') {
      const kind = isObject(part) && typeof part.type === 'string' ? `"${part.type}" parts are not supported (text only)` : 'must be {"type": "text", "text": "..."}';
      throw invalidRequest(`${param}[${j}]`, `${param}[${j}] ${kind}`, isObject(part) ? 'unsupported_content' : 'invalid_type');
    }
    return part.text;
  }).join('');
}

function messages(body) {
  const list = body.messages;
  if (list === undefined || list === null) throw invalidRequest('messages', 'messages is required: an array of {role, content}', 'missing_required_parameter');
  if (!Array.isArray(list)) throw invalidRequest('messages', `messages must be an array, got ${JSON.stringify(list)}`, 'invalid_type');
  if (list.length === 0) throw invalidRequest('messages', 'messages must hold at least one message', 'empty_array');
  return list.map((m, i) => {
    if (!isObject(m)) throw invalidRequest(`messages[${i}]`, `messages[${i}] must be an object {role, content}`, 'invalid_type');
    const roles = ['system', 'developer', 'user', 'assistant', 'tool'];
    if (m.role === 'function') throw new TabllmAPIError(`messages[${i}]: the role "function" is deprecated and not supported: use tools and the role "tool"`, { param: `messages[${i}].role`, code: 'unsupported_value' });
    if (!roles.includes(m.role)) throw invalidRequest(`messages[${i}].role`, `messages[${i}].role must be one of ${roles.join(', ')}, got ${JSON.stringify(m.role)}`);
    if (m.name !== undefined && typeof m.name !== 'string') throw invalidRequest(`messages[${i}].name`, `messages[${i}].name must be a string`, 'invalid_type');
    checkToolMessage(m, i);
    // "developer" is OpenAI's newer name for "system"; templates know only the latter.
    const out = { role: m.role === 'developer' ? 'system' : m.role, content: messageText(m.content, i, m.role) };
    if (m.tool_calls) out.tool_calls = m.tool_calls;
    if (m.role === 'tool') out.tool_call_id = m.tool_call_id;
    return out;
  });
}

const FORMAT_TYPES = ['text', 'json_object', 'json_schema', 'grammar', 'regex'];

/**
 * Structured output: the core's `response_format` parameter (null for plain text). Its shape is checked
 * here; the schema, grammar or pattern itself is compiled by the core before the request starts
 * (engine: model.checkFormat), which names the offending keyword or line and column.
 */
function responseFormat(body) {
  const format = body.response_format;
  if (format === undefined || format === null) return null;
  if (!isObject(format) || typeof format.type !== 'string') throw invalidRequest('response_format', 'response_format must be an object {type: ...}', 'invalid_type');
  if (!FORMAT_TYPES.includes(format.type))
    throw invalidRequest('response_format.type', `response_format.type must be one of ${FORMAT_TYPES.map((t) => `"${t}"`).join(', ')}, got ${JSON.stringify(format.type)}`);
  if (format.type === 'json_schema' && !isObject(format.json_schema))
    throw invalidRequest('response_format.json_schema', 'response_format.json_schema must be an object {name, schema, strict}', 'invalid_type');
  return format.type === 'text' ? null : format;
}

function requireObject(body) {
  if (!isObject(body)) throw new TabllmAPIError('the request body must be a JSON object', { code: 'invalid_type' });
}

// Levels of JSON a request may nest (a json_schema or tool parameters deeper than this is refused here, not
// by a stack overflow on the way to the core). Walked without recursion.
const MAX_DEPTH = 512;

function checkDepth(body) {
  const pending = Object.keys(body).map((key) => [body[key], 1, key]);
  while (pending.length) {
    const [value, depth, key] = pending.pop();
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_DEPTH) throw invalidRequest(key, `${key} nests too deeply (more than ${MAX_DEPTH} levels of JSON)`);
    for (const child of Object.values(value)) pending.push([child, depth + 1, key]);
  }
}

/** @param {object} body a chat.completions request */
export function parseChatRequest(body) {
  requireObject(body);
  checkDepth(body);
  checkFields(body, CHAT_FIELDS);
  const out = { kind: 'chat', model: typeof body.model === 'string' ? body.model : undefined, ...common(body), messages: messages(body) };
  const maxTokens = number(body, 'max_completion_tokens', { integer: true, min: 1 }) ?? number(body, 'max_tokens', { integer: true, min: 1 });
  out.maxTokens = maxTokens;
  const logprobs = boolean(body, 'logprobs') ?? false;
  const top = number(body, 'top_logprobs', { integer: true, min: 0, max: 20 });
  if (top !== undefined && !logprobs) throw invalidRequest('top_logprobs', 'top_logprobs needs logprobs: true');
  out.logprobs = logprobs ? top ?? 0 : -1;
  out.responseFormat = responseFormat(body);
  out.tools = parseTools(body);
  checkToolsWithFormat(out.tools, out.responseFormat);
  return out;
}

/** @param {object} body a (legacy) completions request */
export function parseCompletionRequest(body) {
  requireObject(body);
  checkDepth(body);
  checkFields(body, COMPLETION_FIELDS);
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') prompt = prompt[0];
  if (prompt === undefined || prompt === null) throw invalidRequest('prompt', 'prompt is required', 'missing_required_parameter');
  if (typeof prompt !== 'string') throw invalidRequest('prompt', 'prompt must be a string (or an array of one string); token arrays and batches are not supported', 'invalid_type');
  if (prompt === '') throw invalidRequest('prompt', 'prompt must not be empty', 'empty_string');
  if (boolean(body, 'echo')) throw new TabllmAPIError('echo is not supported', { param: 'echo', code: 'unsupported_parameter' });
  if (body.suffix !== undefined && body.suffix !== null) throw new TabllmAPIError('suffix (fill-in-the-middle) is not supported', { param: 'suffix', code: 'unsupported_parameter' });
  const bestOf = number(body, 'best_of', { integer: true, min: 1, max: 16 });
  const out = { kind: 'completion', model: typeof body.model === 'string' ? body.model : undefined, ...common(body), prompt };
  if (bestOf !== undefined && bestOf !== out.n) throw new TabllmAPIError('best_of other than n is not supported', { param: 'best_of', code: 'unsupported_parameter' });
  // OpenAI's completions default to 16 tokens.
  out.maxTokens = number(body, 'max_tokens', { integer: true, min: 0 }) ?? 16;
  const logprobs = number(body, 'logprobs', { integer: true, min: 0, max: 5 });
  out.logprobs = logprobs ?? -1;
  out.responseFormat = responseFormat(body);
  return out;
}
