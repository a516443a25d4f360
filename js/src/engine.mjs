// The engine: a model on a backend, behind OpenAI's API.
//
//   const engine = await createEngine({ model: 'https://…/model.gguf', backend: 'auto', onProgress });
//   const reply = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }] });
//   for await (const chunk of await engine.chat.completions.create({ messages, stream: true })) …
//
// One request runs at a time; others wait their turn, in the order they were made (a stream too, read
// yet or not). A bad request is refused before any model work, so it never disturbs the engine.
import { capabilityReport, chooseBackend } from './capabilities.mjs';
import { renderChat } from './chat_template.mjs';
import { Cloud } from './cloud.mjs';
import { TabllmAPIError, abortError, engineFailure, invalidRequest } from './errors.mjs';
import { engineOptions } from './engine_options.mjs';
import { eagerStream } from './eager_stream.mjs';
import { createEmbeddings, embeddingBackend } from './embeddings.mjs';
import { createFetchHandler } from './fetch_handler.mjs';
import { openModel } from './loader/index.mjs';
import { fitBackend } from './loader/memory.mjs';
import { parseChatRequest, parseCompletionRequest } from './request.mjs';
import { chatLogprobs, completionLogprobs, nowSeconds, requestId, usage } from './responses.mjs';
import { DEFAULT_INSTRUCTIONS, mayStartCall, readToolCall, templateMessages, toolCallFormat, toolMarkup } from './tool_calls.mjs';
import { droppableTurns, fewestTurnsToDrop, replyRoom, withoutOldestTurns } from './truncation.mjs';

/**
 * @param {import('./types').EngineOptions} options
 * @returns {Promise<Engine>}
 */
export async function createEngine(options = {}) {
  const engine = new Engine(options);
  await engine.reload();
  return engine;
}

export class Engine {
  #options;
  #runner = null;
  #source = null;
  #lost = null;        // the device-lost error, until reload()
  #loadError = null;   // why the model could not be loaded, when the cloud fallback took the engine on without it
  #queue = Promise.resolve();
  #current = null;     // the running request's control: {interrupted, signal}
  #handedOff = new Set();  // controls of requests whose reply the cloud endpoint is continuing
  #prefixCacheForgotten = false;  // forget() closed the prefix cache: the next request opens a new one

  constructor(options) {
    const checked = engineOptions(options);
    // truncation "auto" by default: on-device contexts are small, so a chat app reaches their end within a
    // few turns; dropping the oldest turns (said in usage.truncated_messages) keeps the conversation going.
    this.#options = { ...checked, backend: checked.backend ?? 'auto', truncation: checked.truncation ?? 'auto' };
    this.backend = null;          // 'webgpu' | 'wasm' once loaded
    this.backendReason = '';      // why that backend
    this.modelInfo = null;
    this.chat = { completions: { create: (request, opts) => this.#create('chat', request, opts) } };
    this.completions = { create: (request, opts) => this.#create('completion', request, opts) };
    this.models = { list: async () => ({ object: 'list', data: this.modelInfo ? [this.#modelEntry()] : [] }) };
    this.embeddings = createEmbeddings((fn) => this.#exclusive(() => {
      this.#checkUsable();
      return fn(this.#runner);
    }), () => this.modelId);
    /** OpenAI-compatible fetch: POST /v1/chat/completions, /v1/completions, /v1/embeddings, GET /v1/models. */
    this.fetch = createFetchHandler(this);
    /** The cloud fallback (cloud.mjs; the `cloud` option), else null: its log(), setConsent(), status(). */
    this.cloud = checked.cloud ? new Cloud(checked.cloud) : null;
  }

  /** The model's name as requests and responses give it. */
  get modelId() {
    return this.#options.modelName ?? this.modelInfo?.name ?? this.#source?.name ?? 'model';
  }

  /** The GPUDevice the model runs on (WebGPU backend), else null. */
  get gpuDevice() {
    return this.#runner?.device ?? null;
  }

  get contextSize() {
    return this.#runner?.contextSize ?? 0;
  }

  /** Backend details: {backend, reason, contextSize, kvType, kvBytesPerToken, ...}: WebAssembly variant and threads, or the adapter. */
  get runtime() {
    return { backend: this.backend, reason: this.backendReason, contextSize: this.contextSize, ...this.#runner?.details };
  }

  #modelEntry() {
    return { id: this.modelId, object: 'model', created: 0, owned_by: 'tabllm' };
  }

  /** (Re)loads the model: after a lost GPU device, or to start over. Waits for the running request. */
  async reload() {
    await this.#exclusive(async () => {
      await this.#release();
      const { onProgress } = this.#options;
      // Only 'auto' needs the capability report; an explicit choice fails on its own with the reason.
      let choice;
      if (this.#options.backend === 'wasm') choice = { backend: 'wasm', reason: 'asked for the WebAssembly backend' };
      else if (this.#options.backend === 'webgpu') choice = { backend: 'webgpu', reason: 'asked for the WebGPU backend' };
      const report = this.#options.backend === 'auto' ? await capabilityReport() : null;
      if (report) choice = chooseBackend('auto', report, { allowSoftwareAdapter: this.#options.allowSoftwareAdapter });
      const { signal, sha256, revision, hfEndpoint, cacheDir, contextSize, kvType, gpuMemory } = this.#options;
      // The memory need is checked from the header, before a download starts.
      const beforeLoad = (model) => {
        choice = fitBackend(embeddingBackend(choice, model.header, { auto: !!report }), model, { auto: !!report, report, contextSize, kvType, gpuMemory });
      };
      try {
        this.#source = await openModel(this.#options.model, { onProgress, signal, sha256, revision, hfEndpoint, cacheDir, beforeLoad });
        try {
          ({ runner: this.#runner, ...choice } = await this.#startRunner(choice, { contextSize: this.#options.contextSize, kvType: this.#options.kvType, kvBudget: this.#options.kvBudget, kvRecall: this.#options.kvRecall, encryptPages: this.#options.encryption !== false, onProgress }));
          if (this.#options.kvBudget && this.#runner.backend !== 'wasm') this.#runner.details.kvBudget = 'off: a kvBudget pages the WebAssembly backend\'s cache only, for now';
          checkContextSize(this.#options.contextSize, this.#runner.info.context);
          if (this.#options.prefixCache) await this.#openPrefixCache();
        } catch (e) {
          await this.#runner?.destroy();
          this.#runner = null;
          await this.#source.close?.();
          this.#source = null;
          throw e;
        }
      } catch (e) {
        // A model this device cannot hold, with the cloud fallback on: the engine goes on without it and
        // its requests go to the cloud endpoint (with the user's consent).
        if (!this.cloud?.takesLoadFailure(e)) throw e;
        this.#loadError = e;
        this.backend = null;
        this.backendReason = `no local backend can run the model (${e.message}): requests go to the cloud endpoint`;
        onProgress?.({ phase: 'ready', backend: null, reason: this.backendReason });
        return;
      }
      this.#lost = null;
      this.#loadError = null;
      this.backend = choice.backend;
      this.backendReason = choice.reason;
      this.modelInfo = this.#runner.info;
      onProgress?.({ phase: 'ready', backend: this.backend, reason: this.backendReason });
    });
  }

  /** The persisted prefix cache's counters (pages written and read, bytes, restores, restored tokens,
   * restore time, refused pages), or null without one (the prefixCache option). */
  prefixCacheStats() {
    return this.#runner?.prefixCache ? { ...this.#runner.prefixCache.stats, entries: this.#runner.prefixCache.entries.size } : null;
  }

  /** Paged KV under the kvBudget option: the window (positions the cache holds), pages out and back in,
   * their bytes, the time paging out and rehydrating took, failures (each warned about), and the store's
   * writes; null without a kvBudget. */
  kvPagerStats() {
    return this.#runner?.kvPagerStats?.() ?? null;
  }

  /** Waits until the KV pages of finished requests are stored (they are written in the background). */
  async flushPrefixCache() {
    await this.#runner?.prefixCache?.flush();
  }

  /** Deletes this model's stored KV pages. */
  async clearPrefixCache() {
    await this.#runner?.prefixCache?.clear();
  }

  /**
   * Wipes everything tabllm stores for this origin (Node: this user's cache folders), whichever engine or
   * model stored it: models, KV pages, the at-rest key, tabllm's IndexedDB databases, caches and
   * localStorage items (at_rest/forget.mjs). The loaded model stays loaded; this engine's paged-out KV rows
   * are dropped (a recall of them is a warning), and its prefix cache starts afresh, under a new key, at
   * the next request. Waits for the running request.
   */
  async forget() {
    await this.#exclusive(async () => {
      const runner = this.#runner;
      await runner?.prefixCache?.flush();
      await runner?.kvPages?.spill.forget();
      if (runner?.prefixCache) {
        runner.prefixCache = null;
        this.#prefixCacheForgotten = true;
      }
      const { forgetStored } = await import('./at_rest/forget.mjs');
      await forgetStored({ cacheDir: this.#options.cacheDir });
    });
  }

  async #openPrefixCache() {
    const runner = this.#runner;
    if (runner.backend !== 'wasm') {
      runner.details.prefixCache = 'off: the prefix cache keeps KV pages of the WebAssembly backend only, for now';
      return;
    }
    const { openPrefixCache } = await import('./prefix_cache.mjs');
    const { VERSION } = await import('./version.mjs');
    const source = this.#source;
    // The file's hash is not always known (a fresh download computes it, a stored copy remembers it), so
    // the model is its URL or name and its size; a page's layout and tokens are checked again on restore.
    const identity = JSON.stringify({ tabllm: VERSION, model: source.url ?? source.name, size: source.size,
      kv: runner.details.kvType, backend: runner.backend, context: runner.contextSize });
    const options = this.#options.prefixCache === true ? {} : this.#options.prefixCache;
    const { atRestKeys } = await import('./at_rest/keys.mjs');
    let keys;
    try {
      keys = await atRestKeys(this.#options.encryption ?? true, { cacheDir: this.#options.cacheDir });
    } catch (error) {
      // No key, nothing stored in plain: the engine runs without the prefix cache.
      runner.details.prefixCache = `off: the at-rest key is unavailable (${error.message})`;
      console.warn(`tabllm: the prefix cache is off: the at-rest key is unavailable (${error.message})`);
      return;
    }
    runner.prefixCache = await openPrefixCache({ identity, cacheDir: this.#options.cacheDir, maxBytes: options.maxBytes, keys });
    runner.details.prefixCache = `on (${runner.prefixCache.store.kind})`;
  }

  /** The core's work counters (tabllm_debug_stats): {header_parses, tokenizations, format_parses} since the
   * model's WebAssembly module started; tests check that a load and a request each do their work once. */
  debugStats() {
    return this.#runner?.wasm.tabllm.debugStats() ?? null;
  }

  // The runner of the chosen backend. Under 'auto', a model that WebGPU cannot hold or read (a tensor type
  // its kernels lack, buffers beyond the adapter's limits, an adapter or device failure, the device lost
  // while loading) runs on WebAssembly instead, and the reason says why.
  async #startRunner(choice, common) {
    if (choice.backend === 'wasm') return { runner: await this.#startWasm(common), ...choice };
    try {
      return { runner: await this.#startWebgpu(common), ...choice };
    } catch (gpuError) {
      if (this.#options.backend !== 'auto' || gpuError?.name === 'AbortError') throw gpuError;
      const why = `WebGPU could not load the model (${gpuError.message})`;
      try {
        return { runner: await this.#startWasm(common), backend: 'wasm', reason: `${why}; running on the WebAssembly CPU backend instead` };
      } catch (cpuError) {
        throw new Error(`neither backend can run this model. ${why}. WebAssembly: ${cpuError.message}`, { cause: cpuError });
      }
    }
  }

  async #startWasm(common) {
    const { WasmRunner } = await import('./runners/wasm_runner.mjs');
    return WasmRunner.create(this.#source, { ...common, threads: this.#options.threads, wasmVariant: this.#options.wasmVariant });
  }

  async #startWebgpu(common) {
    const { WebgpuRunner } = await import('./runners/webgpu_runner.mjs');
    let loading = true;
    let lostWhileLoading = null;
    const runner = await WebgpuRunner.create(this.#source, {
      // A device given by the caller serves until it is lost; then a new one is requested.
      ...common, device: this.#lost ? undefined : this.#options.device, maxBatch: this.#options.maxBatch,
      onLost: (error) => {
        if (loading) lostWhileLoading = error;
        else this.#lost = error;
        if (!loading) this.#options.onDeviceLost?.(error);
      },
    });
    // A loss during the upload is reported once device.lost settles: give it that turn.
    await Promise.race([runner.device.lost, new Promise((resolve) => setTimeout(resolve, 0))]);
    loading = false;
    if (lostWhileLoading) {
      await runner.destroy();
      const info = lostWhileLoading.info;
      throw new Error(`the GPU device was lost while the model was loading (${[info?.reason, info?.message].filter(Boolean).join(': ') || lostWhileLoading.message})`);
    }
    return runner;
  }

  /** Ends the running request now; it finishes with finish_reason "abort" and the next one runs normally. */
  interrupt() {
    if (this.#current) this.#current.interrupted = true;
    for (const control of this.#handedOff) control.interrupted = true;
  }

  /** Frees the model, the GPU buffers and the WebAssembly workers. */
  async unload() {
    this.interrupt();
    await this.#exclusive(() => this.#release());
  }

  async #release() {
    const runner = this.#runner;
    this.#runner = null;
    this.modelInfo = null;
    await runner?.prefixCache?.flush();  // pages of finished requests are stored before the engine goes
    await runner?.destroy();
    await this.#source?.close?.();
    this.#source = null;
  }

  // Runs fn once every earlier job is done; jobs never overlap.
  #exclusive(fn) {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  #checkUsable() {
    if (this.#lost) throw new TabllmAPIError(`${this.#lost.message}. Call engine.reload() to load the model again.`, { status: 503, type: 'engine_unavailable', code: 'device_lost' });
    if (!this.#runner && this.#loadError) throw new TabllmAPIError(`no local backend can run the model: ${this.#loadError.message}`, { status: 503, type: 'engine_unavailable', code: 'model_not_loaded' });
    if (!this.#runner) throw new TabllmAPIError('no model is loaded: call engine.reload()', { status: 503, type: 'engine_unavailable', code: 'model_not_loaded' });
  }

  // A request's prompt, rendered: {prompt, addBos, systemPrefix}; a chat from `messages` (its own, or fewer
  // under truncation). systemPrefix: the prompt's beginning that renders its leading system messages, or null.
  #prompt(parsed, messages = parsed.messages) {
    const info = this.#runner.info;
    if (parsed.kind !== 'chat') return { prompt: parsed.prompt, addBos: true, systemPrefix: null };
    const chatTemplate = this.#options.chatTemplate ?? info.chat_template;
    const markup = toolMarkup(chatTemplate ?? '');
    let list = templateMessages(messages, markup);
    let extra = {};
    if (parsed.tools) {
      parsed.toolMarkup = markup;
      parsed.responseFormat = toolCallFormat(parsed.tools, markup);
      if (markup.templateLists) extra = { tools: parsed.tools.tools };
      else list = withSystemText(list, DEFAULT_INSTRUCTIONS(parsed.tools.tools));
    }
    const options = { chatTemplate, bosToken: info.bos_token, eosToken: info.eos_token, addBos: info.add_bos || !info.chat_template, extra };
    const { prompt, addBos } = renderChat(list, options);
    if (!prompt) throw invalidRequest('messages', 'the messages hold no text: give the model something to continue', 'empty_string');
    return { prompt, addBos, systemPrefix: systemPrefix(list, options, prompt) };
  }

  // The request checked once by the core for all its choices (parameters, response_format compiled, the
  // prompt tokenized), a chat cut to the context under truncation "auto", and its prompt checked against
  // the context; with what a context shift keeps (keep: the core's n_keep, or undefined for its default).
  #prepare(parsed) {
    const truncation = parsed.truncation ?? this.#options.truncation;
    const context = this.contextSize;
    let rendered = this.#prompt(parsed);
    let request = this.#coreRequest(parsed, rendered, truncation);
    parsed.truncatedMessages = 0;
    parsed.promptTokens = request.promptTokens;  // before any truncation (the cloud policy weighs it)
    const short = request.promptTokens + replyRoom(context, parsed.maxTokens) <= context;
    if (parsed.kind === 'chat' && truncation === 'auto' && !short && droppableTurns(parsed.messages) > 0) {
      request.free();
      ({ rendered, request } = this.#dropOldestTurns(parsed, truncation));
    }
    // A completion under "auto" is cut by the core when it starts (BOS and the prompt's end).
    if (request.promptTokens >= context && !(parsed.kind === 'completion' && truncation === 'auto')) {
      const tokens = request.promptTokens;
      request.free();
      const fix = parsed.kind === 'completion'
        ? 'shorten the prompt, send truncation: "auto" to keep its end, or load the model with a larger contextSize'
        : truncation === 'auto'
          ? 'truncation "auto" drops whole turns, the oldest first, but the system messages and the last turn alone are this long: shorten them or load the model with a larger contextSize'
          : 'shorten the messages, send truncation: "auto" to drop the oldest turns, or load the model with a larger contextSize';
      throw new TabllmAPIError(`the prompt has ${tokens} tokens but the context holds ${context}: ${fix}`,
        { param: parsed.kind === 'chat' ? 'messages' : 'prompt', code: 'context_length_exceeded' });
    }
    return { request, runner: this.#runner, rendered, keep: this.#keptTokens(parsed, rendered, request.promptTokens) };
  }

  // The core's request for a rendered prompt. The core names what it refuses: a format error names the
  // keyword, line or column at fault.
  #coreRequest(parsed, { prompt, addBos }, truncation) {
    const params = { ...parsed.params, add_bos: addBos, logprobs: parsed.logprobs, truncation };
    if (parsed.responseFormat) params.response_format = parsed.responseFormat;
    const speculative = parsed.speculative ?? this.#options.speculative;  // the request's, or the engine's default
    if (speculative !== undefined) params.speculative = speculative;
    try {
      return this.#runner.model.prepare(prompt, params);
    } catch (e) {
      // The core's name of a setting OpenAI names otherwise, as the request gave it.
      const param = e.param === 'repeat_penalty' ? 'repetition_penalty' : e.param ?? null;
      const message = param === 'repetition_penalty' ? e.message.replace(/^repeat_penalty\b/, param) : e.message;
      if (param === 'tools' || param?.startsWith('response_format')) throw invalidRequest(param, message, param === 'tools' ? 'invalid_tools' : 'invalid_response_format');
      throw invalidRequest(param, message, e.code ?? 'invalid_value');
    }
  }

  // Truncation "auto" of a chat (truncation.mjs): the fewest oldest turns dropped for the prompt to leave
  // the reply its room; when no count does, all but the last turn (the prompt may then leave less room, or
  // not fit at all). Sets parsed.truncatedMessages.
  #dropOldestTurns(parsed, truncation) {
    const context = this.contextSize;
    const room = replyRoom(context, parsed.maxTokens);
    const make = (count) => {
      const rendered = this.#prompt(parsed, withoutOldestTurns(parsed.messages, count));
      return { rendered, request: this.#coreRequest(parsed, rendered, truncation) };
    };
    const max = droppableTurns(parsed.messages);
    const count = fewestTurnsToDrop(max, (n) => {
      const { request } = make(n);
      request.free();
      return request.promptTokens + room <= context;
    }) ?? max;
    parsed.truncatedMessages = parsed.messages.length - withoutOldestTurns(parsed.messages, count).length;
    return make(count);
  }

  // Tokens a context shift keeps (the core's n_keep): a chat's system messages, when the reply may outgrow
  // the context (finding them costs a tokenization); otherwise the core's 4 attention sinks.
  #keptTokens(parsed, { systemPrefix, addBos }, promptTokens) {
    if (!systemPrefix || parsed.maxTokens === undefined || promptTokens + parsed.maxTokens <= this.contextSize) return undefined;
    return this.#runner.model.tokenize(systemPrefix, addBos).length;
  }

  // Core parameters (tabllm.h) of one choice, over the prepared request's. Without max_tokens a reply may
  // fill the context; with it, it goes on past the context's end (the core shifts the context).
  #choiceParams(parsed, { request, keep }, index) {
    const seed = parsed.seed !== undefined ? parsed.seed + index : Math.floor(Math.random() * 2 ** 32);
    const params = { seed, max_tokens: parsed.maxTokens ?? this.contextSize - request.promptTokens };
    if (keep !== undefined) params.n_keep = keep;
    return params;
  }

  async #create(kind, request, { signal } = {}) {
    if (!this.cloud) this.#checkUsable();
    if (this.modelInfo?.kind === 'embedding')
      throw invalidRequest('model', `'${this.modelId}' is an embedding model (${this.modelInfo.arch}): it gives embeddings (/v1/embeddings), not text`, 'model_not_chat');
    const parsed = kind === 'chat' ? parseChatRequest(request) : parseCompletionRequest(request);
    if (this.cloud) return this.cloud.create(parsed, request, this.#local(parsed, signal), signal);
    // The prompt and format are checked now, so a streaming request fails here, not mid-stream.
    return this.#answer(parsed, this.#prepare(parsed), signal);
  }

  // Answering here, as the cloud policy weighs it (cloud.mjs): a request this engine cannot take as it is
  // (no model, a lost device, a prompt beyond the context) is not refused yet, as the endpoint may take it.
  #local(parsed, signal) {
    let prepared = null;
    let error = null;
    try {
      this.#checkUsable();
      prepared = this.#prepare(parsed);
    } catch (e) {
      if (!(e instanceof TabllmAPIError && (e.status === 503 || e.code === 'context_length_exceeded'))) throw e;
      error = e;
    }
    const context = this.contextSize;
    return {
      error,
      backend: this.backend,
      contextSize: context,
      promptTokens: parsed.promptTokens ?? null,
      maxTokens: parsed.maxTokens ?? (prepared ? context - prepared.request.promptTokens : undefined),
      // Truncation "auto" cut the prompt: a chat's oldest turns, or a completion prompt's start (the core's).
      cut: !!prepared && (parsed.truncatedMessages > 0 || (parsed.kind === 'completion' && prepared.request.promptTokens >= context)),
      run: (handoff) => {
        parsed.handoff = handoff;
        return this.#answer(parsed, prepared, signal);
      },
      release: () => prepared?.request.free(),
    };
  }

  async #answer(parsed, prepared, signal) {
    parsed.formatWarnings = prepared.request.warnings;
    if (signal?.aborted) {
      prepared.request.free();
      throw abortError(signal);
    }
    const chunks = this.#choices(parsed, prepared, signal);
    if (parsed.stream) return chunks;
    // Not streaming: the same run, gathered.
    const choices = [];
    for await (const event of chunks) {
      if (event.done) return this.#final(parsed, event, choices);
      if (event.finish) continue;
      (choices[event.index] ??= { text: '', tokens: [] }).text += event.text;
      if (event.tokens) choices[event.index].tokens.push(...event.tokens);
    }
    throw new Error('the generation ended without a result');
  }

  // The whole request as events: {index, text, tokens} per step, {index, finish, result} per choice, then
  // {done, results, id, created}; as OpenAI chunks when streaming (see #streamChunks).
  #choices(parsed, prepared, signal) {
    const engine = this;
    const id = requestId(parsed.kind === 'chat' ? 'chatcmpl-' : 'cmpl-');
    const created = nowSeconds();
    const reader = { gone: false };  // a stream's reader stopped reading
    const handoff = parsed.handoff ?? null;  // the cloud endpoint may continue the reply (cloud.mjs)
    async function* events() {
      const release = await engine.#acquire();
      const control = { interrupted: false };
      const stop = () => control.interrupted || reader.gone || !!signal?.aborted;
      engine.#current = control;
      let ended = false;
      // The engine's turn ends: at the end, or when the cloud endpoint takes the reply over.
      const endTurn = () => {
        if (ended) return;
        ended = true;
        prepared.request.free();
        if (engine.#current === control) engine.#current = null;
        release();
      };
      try {
        engine.#checkUsable();
        if (engine.#prefixCacheForgotten) {
          engine.#prefixCacheForgotten = false;
          await engine.#openPrefixCache();
        }
        // The model was reloaded while the request waited: check it again against the new one.
        if (prepared.runner !== engine.#runner) {
          prepared.request.free();
          prepared = engine.#prepare(parsed);
        }
        const { request } = prepared;
        const results = [];
        for (let index = 0; index < parsed.n; index++) {
          const params = engine.#choiceParams(parsed, prepared, index);
          let run;
          try {
            run = engine.#runner.run(request, params, {
              wantTokens: parsed.logprobs >= 0,
              shouldStop: () => stop() || !!handoff?.due(),
            });
          } catch (e) {
            throw new TabllmAPIError(e.message, { code: 'invalid_value' });  // the core refused the request
          }
          let step;
          let text = '';
          try {
            while (!(step = await run.next()).done) {
              text += step.value.text;
              yield { index, ...step.value };
            }
          } catch (e) {
            throw engineFailure(e);
          }
          if (signal?.aborted) throw abortError(signal);
          let result = step.value.result;
          engine.cloud?.observe(result);
          if (handoff?.triggered && result.finish_reason === 'abort' && !stop()) {
            engine.#handedOff.add(control);
            const first = result;
            result = yield* handoff.continue({
              index, text, result, prompt: prepared.rendered.prompt, bosToken: engine.#runner.info.bos_token, maxTokens: params.max_tokens,
              stop, release: endTurn, signal,
              continueLocally: (partial) => engine.#continueLocally(parsed, prepared, params, partial, first, { index, stop }),
            });
            if (signal?.aborted) throw abortError(signal);
          }
          results.push(result);
          yield { index, finish: true, result };
          if (control.interrupted || reader.gone) break;
        }
        yield { done: true, results, id, created };
      } finally {
        engine.#handedOff.delete(control);
        endTurn();
      }
    }
    if (!parsed.stream) return events();  // read at once by #create
    // A stream runs in its turn whether read yet or not (see eager_stream.mjs).
    return this.#streamChunks(parsed, eagerStream(events(), () => { reader.gone = true; }), id, created);
  }

  // The reply going on locally from `text` (a hand-off the cloud endpoint did not take): the rendered prompt
  // and the text so far as one prompt (its KV rows are reused), with the tokens left; yields its steps and
  // returns its result.
  async* #continueLocally(parsed, prepared, params, text, first, { index, stop }) {
    const { prompt, addBos } = prepared.rendered;
    const request = this.#coreRequest(parsed, { prompt: prompt + text, addBos }, 'auto');
    try {
      const run = this.#runner.run(request, { ...params, max_tokens: params.max_tokens - first.generated_tokens }, { wantTokens: false, shouldStop: stop });
      let step;
      try {
        while (!(step = await run.next()).done) yield { index, ...step.value };
      } catch (e) {
        throw engineFailure(e);
      }
      return step.value.result;
    } finally {
      request.free();
    }
  }

  // A lock over the queue that a streaming consumer holds while it iterates.
  #acquire() {
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    const acquired = this.#queue.then(() => release);
    this.#queue = this.#queue.then(() => held);
    return acquired;
  }

  #final(parsed, { results, id, created }, choices) {
    const out = { id, object: parsed.kind === 'chat' ? 'chat.completion' : 'text_completion', created, model: this.modelId };
    out.choices = results.map((r, index) => {
      const c = choices[index] ?? { text: '', tokens: [] };
      if (parsed.kind === 'chat') {
        const call = parsed.tools && readToolCall(c.text, parsed.toolMarkup, requestId('call_'));
        return {
          index,
          message: call ? { role: 'assistant', content: null, tool_calls: [call], refusal: null } : { role: 'assistant', content: c.text, refusal: null },
          logprobs: parsed.logprobs >= 0 ? { content: chatLogprobs(c.tokens), refusal: null } : null,
          finish_reason: call ? 'tool_calls' : r.finish_reason,
        };
      }
      return { index, text: c.text, logprobs: parsed.logprobs >= 0 ? completionLogprobs(c.tokens) : null, finish_reason: r.finish_reason };
    });
    if (parsed.kind === 'chat') out.system_fingerprint = null;
    out.usage = usage(results, parsed.kind, parsed.truncatedMessages);
    if (parsed.formatWarnings.length) out.warnings = parsed.formatWarnings;
    if (this.cloud) {
      out.usage = this.cloud.splitUsage(out.usage, results);
      out.x_tabllm = this.cloud.summary(parsed, results);
    }
    return out;
  }

  async* #streamChunks(parsed, events, id, created) {
    const model = this.modelId;
    const chat = parsed.kind === 'chat';
    const object = chat ? 'chat.completion.chunk' : 'text_completion';
    // With the cloud fallback, each chunk says where its text comes from: x_tabllm.source 'local' or 'remote'.
    const cloud = this.cloud;
    const source = (e) => (cloud ? { x_tabllm: { source: e.source ?? (e.result?.x_cloud?.remote ? 'remote' : 'local') } } : {});
    let from = {};
    const chunk = (choice, extra = {}) => ({ id, object, created, model, ...(chat ? { system_fingerprint: null } : {}), choices: [choice], ...extra, ...from });
    const withUsage = parsed.includeUsage ? { usage: null } : {};
    const started = new Set();
    const offsets = [];
    // With tools, text that may be the start of a call is held back; a call is sent whole at the end.
    const held = [];
    const calling = [];
    for await (const e of events) {
      if (e.done) {
        if (!parsed.includeUsage) return;
        const total = usage(e.results, parsed.kind, parsed.truncatedMessages);
        const cloudParts = cloud ? { x_tabllm: cloud.summary(parsed, e.results) } : {};
        yield { id, object, created, model, ...(chat ? { system_fingerprint: null } : {}), choices: [], usage: cloud ? cloud.splitUsage(total, e.results) : total, ...cloudParts };
        return;
      }
      from = source(e);
      if (chat && !started.has(e.index)) {
        started.add(e.index);
        yield chunk({ index: e.index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }, withUsage);
      }
      if (e.finish) {
        let finish = e.result.finish_reason;
        if (held[e.index] !== undefined) {
          const call = readToolCall(held[e.index], parsed.toolMarkup, requestId('call_'));
          if (call) finish = 'tool_calls';
          yield chunk({ index: e.index, delta: call ? { tool_calls: [{ index: 0, ...call }] } : { content: held[e.index] }, logprobs: null, finish_reason: null }, withUsage);
        }
        // What the format does not enforce rides on each choice's last chunk (an extension, as on responses).
        const extra = parsed.formatWarnings.length ? { ...withUsage, warnings: parsed.formatWarnings } : withUsage;
        yield chunk(chat ? { index: e.index, delta: {}, logprobs: null, finish_reason: finish }
          : { index: e.index, text: '', logprobs: null, finish_reason: finish }, extra);
        continue;
      }
      const logprobs = parsed.logprobs >= 0 && e.tokens ? e.tokens : null;
      if (chat && parsed.tools && calling[e.index] !== false) {
        held[e.index] = (held[e.index] ?? '') + e.text;
        if (mayStartCall(held[e.index], parsed.toolMarkup)) continue;
        calling[e.index] = false;  // plain text: send what was held, then stream as usual
        e.text = held[e.index];
        held[e.index] = undefined;
      }
      if (chat) {
        yield chunk({ index: e.index, delta: { content: e.text }, logprobs: logprobs ? { content: chatLogprobs(logprobs), refusal: null } : null, finish_reason: null }, withUsage);
      } else {
        const offset = offsets[e.index] ?? 0;
        offsets[e.index] = offset + e.text.length;
        yield chunk({ index: e.index, text: e.text, logprobs: logprobs ? completionLogprobs(logprobs, offset) : null, finish_reason: null }, withUsage);
      }
    }
  }
}

// A context larger than the model was trained for is refused, not cut down to the model's without a word.
function checkContextSize(asked, modelContext) {
  if (asked !== undefined && asked > modelContext) {
    throw new RangeError(`contextSize ${asked} is more than the model's context of ${modelContext} tokens: give at most ${modelContext}, or leave contextSize out for min(${modelContext}, 4096)`);
  }
}

// The beginning of `prompt` that renders the leading system messages of `messages` alone (what a context
// shift keeps), or null when there are none or the template does not render them as the prompt's start.
function systemPrefix(messages, options, prompt) {
  const leading = messages.findIndex((m) => m.role !== 'system');
  if (leading === 0) return null;
  try {
    const { prompt: prefix } = renderChat(messages.slice(0, leading < 0 ? messages.length : leading), { ...options, addGenerationPrompt: false });
    return prefix && prompt.startsWith(prefix) ? prefix : null;
  } catch {
    return null;  // templates that fold the system message into the first user turn refuse it alone
  }
}

// The messages with `text` added to the system message (one is put first when there is none).
function withSystemText(messages, text) {
  if (messages[0]?.role === 'system') return [{ ...messages[0], content: `${messages[0].content}\n\n${text}` }, ...messages.slice(1)];
  return [{ role: 'system', content: text }, ...messages];
}
