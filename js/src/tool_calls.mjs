// Tool calls (OpenAI's `tools` / `tool_choice`): how the model is told about the tools, how its call is
// constrained, and how the call is read back from its text.
//
// The markup of a call comes from the model's chat template when it defines one:
//   - templates that write `<tool_call>` (Qwen2.5, Qwen3, Hermes): `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`;
//   - Llama 3.1-style templates that describe `"parameters"`: the bare object `{"name": ..., "parameters": {...}}`.
// Other models (no template, or a template whose markup is not one of these) get the default: the tools
// are described in a system message (DEFAULT_INSTRUCTIONS) and a call is written like the first form.
// The core constrains the output (response_format type "tool_call"): a call to one of the allowed functions
// whose arguments match its JSON Schema, or — with tool_choice "auto" — plain text that does not start
// like a call. One call per choice.
import { TabllmAPIError, invalidRequest } from './errors.mjs';

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

const TAGGED = { prefix: '<tool_call>\n', suffix: '\n</tool_call>', argumentsKey: 'arguments' };
const BARE = { prefix: '', suffix: '', argumentsKey: 'parameters' };

export const DEFAULT_INSTRUCTIONS = (tools) =>
  `Functions you may call:\n${tools.map((t) => JSON.stringify(t.function)).join('\n')}\n` +
  'To call one, reply with only <tool_call>\n{"name": NAME, "arguments": ARGUMENTS}\n</tool_call>';

/**
 * Checks `tools`, `tool_choice` and the tool parts of messages. Returns null when no tool may be called
 * (no tools, or tool_choice "none"), else {tools, choice: 'auto' | 'required' | name}.
 */
export function parseTools(body) {
  const { tools, tool_choice: choice } = body;
  if (tools === undefined || tools === null || (Array.isArray(tools) && tools.length === 0)) {
    if (choice !== undefined && choice !== null && choice !== 'none' && choice !== 'auto')
      throw invalidRequest('tool_choice', 'tool_choice needs tools: give the functions the model may call in `tools`');
    return null;
  }
  if (!Array.isArray(tools)) throw invalidRequest('tools', 'tools must be an array of {type: "function", function: {name, description, parameters}}', 'invalid_type');
  const names = new Set();
  tools.forEach((t, i) => {
    const param = `tools[${i}]`;
    if (!isObject(t) || t.type !== 'function' || !isObject(t.function))
      throw invalidRequest(param, `${param} must be {type: "function", function: {name, description, parameters}}`, 'invalid_type');
    const { name, parameters } = t.function;
    if (typeof name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(name))
      throw invalidRequest(`${param}.function.name`, `${param}.function.name must be 1 to 64 letters, digits, _ or -, got ${JSON.stringify(name)}`);
    if (names.has(name)) throw invalidRequest(`${param}.function.name`, `two tools are named "${name}"`);
    names.add(name);
    if (parameters !== undefined && !isObject(parameters))
      throw invalidRequest(`${param}.function.parameters`, `${param}.function.parameters must be a JSON Schema object`, 'invalid_type');
  });
  if (choice === 'none') return null;
  if (choice === undefined || choice === null || choice === 'auto') return { tools, choice: 'auto' };
  if (choice === 'required') return { tools, choice };
  const name = isObject(choice) && choice.type === 'function' && isObject(choice.function) ? choice.function.name : undefined;
  if (typeof name !== 'string')
    throw invalidRequest('tool_choice', 'tool_choice must be "none", "auto", "required" or {type: "function", function: {name}}', 'invalid_type');
  if (!names.has(name)) throw invalidRequest('tool_choice', `tool_choice names "${name}", which is not among the tools`);
  return { tools, choice: name };
}

/** The call markup the chat template uses, and whether the template lists the tools itself. */
export function toolMarkup(chatTemplate = '') {
  if (chatTemplate.includes('tools') && chatTemplate.includes('<tool_call>')) return { ...TAGGED, templateLists: true };
  if (chatTemplate.includes('tools') && chatTemplate.includes('"parameters"')) return { ...BARE, templateLists: true };
  return { ...TAGGED, templateLists: false };
}

/** The core's response_format for the call: a JSON Schema over the allowed calls inside the markup. */
export function toolCallFormat({ tools, choice }, markup) {
  const callable = typeof choice === 'string' && choice !== 'auto' && choice !== 'required' ? tools.filter((t) => t.function.name === choice) : tools;
  const calls = callable.map((t) => ({
    type: 'object',
    properties: { name: { const: t.function.name }, [markup.argumentsKey]: t.function.parameters ?? { type: 'object' } },
    required: ['name', markup.argumentsKey],
    additionalProperties: false,
  }));
  return {
    type: 'tool_call',
    schema: calls.length === 1 ? calls[0] : { anyOf: calls },
    prefix: markup.prefix,
    suffix: markup.suffix,
    allow_text: choice === 'auto',
  };
}

/**
 * Messages as the template gets them: with a template that lists tools, assistant tool calls keep their
 * structure (arguments as objects); otherwise they are written out in the markup, and tool results
 * become user messages.
 */
export function templateMessages(messages, markup) {
  return messages.map((m) => {
    if (m.role === 'assistant' && m.tool_calls) {
      const calls = m.tool_calls.map((c) => ({ ...c, function: { name: c.function.name, arguments: parseArguments(c.function.arguments) } }));
      if (markup.templateLists) return { ...m, tool_calls: calls };
      const text = calls.map((c) => markup.prefix + JSON.stringify({ name: c.function.name, [markup.argumentsKey]: c.function.arguments }) + markup.suffix).join('\n');
      return { role: 'assistant', content: [m.content, text].filter(Boolean).join('\n') };
    }
    if (m.role === 'tool' && !markup.templateLists) return { role: 'user', content: `Result of tool call ${m.tool_call_id}:\n${m.content}` };
    return m;
  });
}

function parseArguments(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** True while `text` could still become a call, false once it cannot. */
export function mayStartCall(text, markup) {
  const trigger = markup.prefix || '{';
  return trigger.startsWith(text) || text.startsWith(trigger);
}

/** The OpenAI tool call in a choice's text, or null when the text is plain (or a call cut short). */
export function readToolCall(text, markup, id) {
  const trigger = markup.prefix || '{';
  if (!text.startsWith(trigger) || !text.endsWith(markup.suffix)) return null;
  let call;
  try {
    call = JSON.parse(text.slice(markup.prefix.length, text.length - markup.suffix.length));
  } catch {
    return null;
  }
  if (!isObject(call) || typeof call.name !== 'string') return null;
  return { id, type: 'function', function: { name: call.name, arguments: JSON.stringify(call[markup.argumentsKey] ?? {}) } };
}

/** Checks an assistant message's tool_calls and a tool message's tool_call_id (request messages). */
export function checkToolMessage(m, i) {
  if (m.role === 'tool') {
    if (typeof m.tool_call_id !== 'string') throw invalidRequest(`messages[${i}].tool_call_id`, `messages[${i}].tool_call_id must name the call this result answers`, 'invalid_type');
    return;
  }
  if (m.tool_calls === undefined || m.tool_calls === null) return;
  const param = `messages[${i}].tool_calls`;
  if (m.role !== 'assistant') throw invalidRequest(param, `${param}: only assistant messages carry tool calls`);
  if (!Array.isArray(m.tool_calls)) throw invalidRequest(param, `${param} must be an array`, 'invalid_type');
  m.tool_calls.forEach((c, j) => {
    if (!isObject(c) || !isObject(c.function) || typeof c.function.name !== 'string' || typeof c.function.arguments !== 'string')
      throw invalidRequest(`${param}[${j}]`, `${param}[${j}] must be {id, type: "function", function: {name, arguments: "JSON text"}}`, 'invalid_type');
  });
}

/** Tools and a response_format cannot both shape the same output. */
export function checkToolsWithFormat(tools, responseFormat) {
  if (tools && responseFormat)
    throw new TabllmAPIError('response_format cannot be combined with tools: drop one, or set tool_choice to "none"', { param: 'response_format', code: 'invalid_value' });
}
