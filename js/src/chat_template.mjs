// A chat as one prompt: the model's own chat template (GGUF `tokenizer.chat_template`, Jinja) rendered
// with @huggingface/jinja, or a plain fallback for models without one. Also decides whether the engine
// must add BOS: templates that write the BOS token themselves must not get a second one.
import { Template } from '@huggingface/jinja';

import { TabllmAPIError } from './errors.mjs';

const templates = new Map();  // parsed templates, by source text

function parsed(source) {
  let t = templates.get(source);
  if (!t) {
    t = new Template(source);
    templates.set(source, t);
  }
  return t;
}

/**
 * @param {{role: string, content: string}[]} messages with text content already joined
 * @param {{chatTemplate?: string, bosToken?: string, eosToken?: string, addBos?: boolean,
 *   addGenerationPrompt?: boolean, extra?: Record<string, unknown>}} model what the GGUF says
 * @returns {{prompt: string, addBos: boolean}} the text to tokenize and whether BOS goes first
 */
export function renderChat(messages, { chatTemplate = '', bosToken = '', eosToken = '', addBos = false, addGenerationPrompt = true, extra = {} } = {}) {
  if (!chatTemplate) {
    // No template (base models such as stories260K): the messages' text, one per line.
    return { prompt: messages.map((m) => m.content).join('\n'), addBos };
  }
  let prompt;
  try {
    prompt = parsed(chatTemplate).render({
      messages,
      bos_token: bosToken,
      eos_token: eosToken,
      add_generation_prompt: addGenerationPrompt,
      ...extra,
    });
  } catch (e) {
    // Templates reject conversations they cannot express (e.g. "System role not supported").
    throw new TabllmAPIError(`the model's chat template cannot render these messages: ${e.message}`, { param: 'messages', code: 'invalid_value' });
  }
  return { prompt, addBos: addBos && !(bosToken && prompt.startsWith(bosToken)) };
}
