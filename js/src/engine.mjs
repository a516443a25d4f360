// The engine: models on a backend, behind OpenAI's API.
//
//   const engine = await createEngine({ model: 'https://…/model.gguf', backend: 'auto', onProgress });
//   const reply = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }] });
//   for await (const chunk of await engine.chat.completions.create({ messages, stream: true })) …
//
// Several models: createEngine({models: [{model, name}, ...]}) or engine.load(model, {name}); a request's
// `model` picks one (models/registry.mjs), and they share the WebAssembly module, the GPU device and the
// loader's stores (models/shared.mjs). One request runs at a time, whichever its model; others wait their
// turn, in the order they were made (a stream too, read yet or not). A bad request is refused before any
// model work, so it never disturbs the engine.
import { renderChat } from './chat_template.mjs';
import { Cloud } from './cloud.mjs';
import { TabllmAPIError, abortError, engineFailure, invalidRequest } from './errors.mjs';
import { engineOptions, modelOptions } from './engine_options.mjs';
import { eagerStream } from './eager_stream.mjs';
import { createEmbeddings } from './embeddings.mjs';
import { createFetchHandler } from './fetch_handler.mjs';
import { LoadedModel } from './models/loaded_model.mjs';
import { ModelRegistry } from './models/registry.mjs';
import { SharedMachinery } from './models/shared.mjs';
import { EngineMetrics } from './metrics/engine_metrics.mjs';
import { createPacer } from './profiles/pacer.mjs';
import { EngineProfile } from './profiles/engine_profile.mjs';
import { cappedSpeculative } from './profiles/profiles.mjs';
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
  try {
    await engine.reload();
  } catch (e) {
    await engine.unload();  // the models loaded before the one that failed
    throw e;
  }
  return engine;
}

export class Engine {
  #options;
  #models;             // ModelRegistry: the loaded models by name
  #shared;             // SharedMachinery: the WebAssembly modules, GPU device and stores the models share
  #queue = Promise.resolve();
  #current = null;     // the running request's control: {interrupted, target}
  #handedOff = new Set();  // controls of requests whose reply the cloud endpoint is continuing
  #metrics;            // engine.metrics() (metrics/)
  #profile;            // the energy profile (profiles/)

  constructor(options) {
    // What names one file (its hash, revision, chat template, name) belongs to the `model` option's entry only;
    // the other options are defaults for every model, those loaded later included.
    const { models, memoryBudget, model, modelName, sha256, revision, chatTemplate, ...checked } = engineOptions(options);
    // truncation "auto" by default: on-device contexts are small, so a chat app reaches their end within a
    // few turns; dropping the oldest turns (said in usage.truncated_messages) keeps the conversation going.
    this.#options = { ...checked, backend: checked.backend ?? 'auto', truncation: checked.truncation ?? 'auto' };
    // The models createEngine loads (and reload() loads again when none is loaded): `model` first, the default.
    const first = model !== undefined ? [{ model, name: modelName, sha256, revision, chatTemplate }] : [];
    this.#options.initial = [...first, ...(models ?? [])];
    this.#options.modelName = modelName;
    this.#models = new ModelRegistry(memoryBudget);
    this.#shared = new SharedMachinery({ device: checked.device });
    this.#metrics = new EngineMetrics({ ...checked.metrics, encryption: checked.encryption, cacheDir: checked.cacheDir });
    this.#profile = new EngineProfile(checked.profile);
    this.chat = { completions: { create: (request, opts) => this.#create('chat', request, opts) } };
    this.completions = { create: (request, opts) => this.#create('completion', request, opts) };
    this.models = {
      /** OpenAI's model list: the loaded models, the default first. */
      list: async () => ({ object: 'list', data: this.#models.all().map(modelEntry) }),
      /** OpenAI's model object of a loaded model; a 404 model_not_found for another name. */
      retrieve: async (name) => modelEntry(this.#models.get(name)),
      /** Each loaded model: {id, default, backend, contextSize, bytes: {heap, gpu, total}, budgetBytes, lastUsed, busy}. */
      info: () => this.#models.all().map((m) => this.#info(m)),
    };
    // Embeddings of the model the request names (the default without a name), in the engine's turn.
    this.embeddings = createEmbeddings(async (name, fn) => {
      const target = this.#target(name);
      const release = target.hold();
      try {
        return await this.#exclusive(() => {
          checkUsable(target);
          return fn(target.runner, target.name);
        });
      } finally {
        release();
      }
    });
    /** OpenAI-compatible fetch: POST /v1/chat/completions, /v1/completions, /v1/embeddings, GET /v1/models. */
    this.fetch = createFetchHandler(this);
    /** The cloud fallback (cloud.mjs; the `cloud` option), else null: its log(), setConsent(), status(). */
    this.cloud = checked.cloud ? new Cloud(checked.cloud) : null;
  }

  // The default model (requests without `model` go to it): the earliest loaded of those loaded now.
  get #default() {
    return this.#models.default;
  }

  /** The default model's name as requests and responses give it. */
  get modelId() {
    return this.#default?.name ?? this.#options.modelName ?? 'model';
  }

  /** The default model's backend: 'webgpu' | 'wasm' once loaded. */
  get backend() {
    return this.#default?.backend ?? null;
  }

  /** Why the default model runs on its backend. */
  get backendReason() {
    return this.#default?.backendReason ?? '';
  }

  /** The default model's details from the core (name, architecture, context, chat template, ...). */
  get modelInfo() {
    return this.#default?.info ?? null;
  }

  /** The GPUDevice the models run on (WebGPU backend), else null. */
  get gpuDevice() {
    return this.#default?.runner?.device ?? null;
  }

  get contextSize() {
    return this.#default?.contextSize ?? 0;
  }

  /** The default model's backend details: {backend, reason, contextSize, kvType, kvBytesPerToken, ...}: WebAssembly variant and threads, or the adapter. */
  get runtime() {
    const m = this.#default;
    return { backend: this.backend, reason: this.backendReason, contextSize: this.contextSize, ...m?.runner?.details };
  }

  #info(m) {
    return {
      id: m.name, default: m === this.#default, backend: m.backend, contextSize: m.contextSize,
      bytes: { heap: m.heapBytes, gpu: m.gpuBytes, total: m.bytes }, budgetBytes: m.need?.total ?? null,
      lastUsed: m.lastUsed, busy: m.users > 0,
    };
  }

  /**
   * The memory the engine's models hold: {budget (the memoryBudget option, or null), used (the bytes it
   * counts: weights and KV caches), heaps (each WebAssembly module: {variant, threads, heapBytes, inUseBytes,
   * models}), gpuBuffers (the GPU buffers the models hold), gpuBytes}.
   */
  memory() {
    const buffers = this.#models.all().flatMap((m) => m.runner?.gpuBuffers?.() ?? []);
    return { budget: this.#models.budget ?? null, used: this.#models.used, heaps: this.#shared.heaps(),
      gpuBuffers: buffers.length, gpuBytes: buffers.reduce((sum, b) => sum + b.size, 0) };
  }

  // The model of a name (a 404 model_not_found for an unknown one), or the default without a name.
  #named(name) {
    return name === undefined ? this.#default : this.#models.get(name);
  }

  /**
   * Loads a model again (every model without a name): after a lost GPU device, or to start over. With no
   * model loaded, loads those the engine was created with. Waits for the running request.
   */
  async reload(name) {
    const models = name === undefined ? this.#models.all() : [this.#models.get(name)];
    await this.#exclusive(async () => {
      if (models.length === 0) {
        for (const entry of this.#options.initial) await this.#loadModel(entry);
        return;
      }
      for (const model of models) {
        const index = this.#models.indexOf(model);
        if (index < 0) continue;  // unloaded meanwhile
        this.#models.remove(model);
        await model.release();
        await this.#loadModel(model.entry, index);
      }
    });
  }

  /**
   * Loads another model beside those loaded: requests name it as `options.name` (default: the GGUF's
   * general.name, else the file's name). Under a memoryBudget, the least recently used models are unloaded
   * first when it would not fit. Resolves to its entry of engine.models.info().
   * @param {string|URL|Blob} model as createEngine's
   * @param {{name?: string} & Record<string, unknown>} [options] this model's: contextSize, backend, kvType, ...
   */
  async load(model, options = {}) {
    const entry = modelOptions({ ...options, model }, 'engine.load');
    return this.#exclusive(async () => this.#info(await this.#loadModel(entry)));
  }

  async #loadModel(entry, index) {
    const model = new LoadedModel({ ...this.#options, ...entry }, { shared: this.#shared, cloud: this.cloud, metrics: this.#metrics, profile: this.#profile });
    model.entry = entry;
    const checkName = (name) => {
      if (this.#models.has(name)) throw new Error(`a model named '${name}' is loaded already: unload it first, or give this one another name`);
    };
    if (model.name !== null) checkName(model.name);
    await model.load({
      makeRoom: async (m) => {
        checkName(m.name);
        for (const victim of this.#models.victims(m)) {
          this.#models.remove(victim, m.name);
          await victim.release();
        }
      },
    });
    try {
      this.#models.add(model, index);
    } catch (e) {
      await model.release();
      throw e;
    }
    return model;
  }

  /**
   * What the engine measured of itself (docs/metrics.md): TTFT and decode / prefill tokens per second
   * (p50, p90, p99 over the last requests, from the core's timings, also per model and backend), GPU time
   * per kind of dispatch, memory, cache hit rates, fallbacks, speculative acceptance, and the window's
   * samples for charts. The resources (GPU time, memory, KV) are a model's: the default's without a name.
   */
  async metrics(name) {
    const model = this.#named(name);
    await this.#metrics.ready();
    return this.#metrics.snapshot(model?.runner ?? null, this.cloud, { model: model?.name ?? null, backend: model?.backend ?? null, profile: this.#profile.describe() });
  }

  /** The persisted prefix cache's counters of a model (the default without a name: pages written and read,
   * bytes, restores, restored tokens, restore time, refused pages), or null without one (the prefixCache option). */
  prefixCacheStats(name) {
    const runner = this.#named(name)?.runner;
    return runner?.prefixCache ? { ...runner.prefixCache.stats, entries: runner.prefixCache.entries.size } : null;
  }

  /** Paged KV under the kvBudget option (a model's; the default's without a name): the window (positions the
   * cache holds), pages out and back in, their bytes, the time paging out and rehydrating took, failures
   * (each warned about), and the store's writes; null without a kvBudget. */
  kvPagerStats(name) {
    return this.#named(name)?.runner?.kvPagerStats?.() ?? null;
  }

  /** Waits until the KV pages of finished requests are stored (they are written in the background). */
  async flushPrefixCache(name) {
    await this.#named(name)?.runner?.prefixCache?.flush();
  }

  /** Deletes a model's stored KV pages (the default's without a name). */
  async clearPrefixCache(name) {
    await this.#named(name)?.runner?.prefixCache?.clear();
  }

  /**
   * Wipes everything tabllm stores for this origin (Node: this user's cache folders), whichever engine or
   * model stored it: models, KV pages, the at-rest key, tabllm's IndexedDB databases, caches and
   * localStorage items (at_rest/forget.mjs). The loaded models stay loaded; their paged-out KV rows are
   * dropped (a recall of them is a warning), and their prefix caches start afresh, under a new key, at the
   * next request. Waits for the running request.
   */
  async forget() {
    await this.#exclusive(async () => {
      for (const model of this.#models.all()) {
        const runner = model.runner;
        await runner?.prefixCache?.flush();
        await runner?.kvPages?.spill.forget();
        if (runner?.prefixCache) {
          runner.prefixCache = null;
          model.prefixCacheForgotten = true;
        }
      }
      await this.#metrics.forget();
      const { forgetStored } = await import('./at_rest/forget.mjs');
      await forgetStored({ cacheDir: this.#options.cacheDir });
    });
  }

  /** The core's work counters (tabllm_debug_stats): {header_parses, tokenizations, format_parses} since the
   * WebAssembly module of a model (the default without a name) started; tests check that a load and a
   * request each do their work once. */
  debugStats(name) {
    return this.#named(name)?.runner?.wasm.tabllm.debugStats() ?? null;
  }

  /** Ends the running request now; it finishes with finish_reason "abort" and the next one runs normally. */
  interrupt() {
    if (this.#current) this.#current.interrupted = true;
    for (const control of this.#handedOff) control.interrupted = true;
  }

  /**
   * Frees a model (every model without a name): its heap pieces, its GPU buffers, and the WebAssembly
   * workers once no model uses them. A running request of that model ends (finish_reason "abort"); resolves
   * once the memory is freed.
   */
  async unload(name) {
    const models = name === undefined ? this.#models.all() : [this.#models.get(name)];
    if (this.#current && models.includes(this.#current.target)) this.#current.interrupted = true;
    for (const control of this.#handedOff) if (models.includes(control.target)) control.interrupted = true;
    await this.#exclusive(async () => {
      for (const model of models) {
        this.#models.remove(model);
        await model.release();
      }
      await this.#metrics.flush();
    });
  }

  // Runs fn once every earlier job is done; jobs never overlap.
  #exclusive(fn) {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  // A request's prompt, rendered: {prompt, addBos, systemPrefix}; a chat from `messages` (its own, or fewer
  // under truncation). systemPrefix: the prompt's beginning that renders its leading system messages, or null.
  #prompt(parsed, messages = parsed.messages) {
    const { info, options: modelOptions } = parsed.target;
    if (parsed.kind !== 'chat') return { prompt: parsed.prompt, addBos: true, systemPrefix: null };
    const chatTemplate = modelOptions.chatTemplate ?? info.chat_template;
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
    const truncation = parsed.truncation ?? parsed.target.options.truncation;
    const context = parsed.target.contextSize;
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
    return { request, runner: parsed.target.runner, rendered, keep: this.#keptTokens(parsed, rendered, request.promptTokens) };
  }

  // The core's request for a rendered prompt. The core names what it refuses: a format error names the
  // keyword, line or column at fault.
  #coreRequest(parsed, { prompt, addBos }, truncation) {
    const params = { ...parsed.params, add_bos: addBos, logprobs: parsed.logprobs, truncation };
    if (parsed.responseFormat) params.response_format = parsed.responseFormat;
    // The request's, or the model's default; its k capped by the energy profile.
    let speculative = cappedSpeculative(parsed.speculative ?? parsed.target.options.speculative, this.#profile.settings(parsed.profile));
    const minSpeedup = speculative?.min_speedup;
    if (minSpeedup !== undefined) {
      if (!(typeof minSpeedup === 'number' && minSpeedup >= 0 && Number.isFinite(minSpeedup))) {
        throw invalidRequest('speculative.min_speedup', `speculative.min_speedup must be a number >= 0 (0: never fall back to plain decoding; default 1), got ${JSON.stringify(minSpeedup)}`, 'invalid_value');
      }
      // The WebGPU runner's measured fallback reads it (webgpu_speculative.mjs), not the core.
      speculative = { ...speculative };
      delete speculative.min_speedup;
    }
    if (speculative !== undefined) params.speculative = speculative;
    if (speculative?.method === 'draft' && !parsed.target.runner.draft) {
      throw invalidRequest('speculative.method', 'speculative method "draft" needs a draft model: load the model on WebGPU with the draftModel option, or use "prompt-lookup"', 'invalid_value');
    }
    if (speculative?.method === 'self' && parsed.target.runner.backend === 'webgpu') {
      throw invalidRequest('speculative.method', 'speculative method "self" runs on the WebAssembly backend only (the WebGPU plan runs every layer): use "prompt-lookup", or "draft" with a draftModel', 'invalid_value');
    }
    try {
      const request = parsed.target.runner.model.prepare(prompt, params);
      request.minSpeedup = minSpeedup ?? null;
      return request;
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
    const context = parsed.target.contextSize;
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
    if (!systemPrefix || parsed.maxTokens === undefined || promptTokens + parsed.maxTokens <= parsed.target.contextSize) return undefined;
    return parsed.target.runner.model.tokenize(systemPrefix, addBos).length;
  }

  // Core parameters (tabllm.h) of one choice, over the prepared request's. Without max_tokens a reply may
  // fill the context; with it, it goes on past the context's end (the core shifts the context).
  #choiceParams(parsed, { request, keep }, index) {
    const seed = parsed.seed !== undefined ? parsed.seed + index : Math.floor(Math.random() * 2 ** 32);
    const params = { seed, max_tokens: parsed.maxTokens ?? parsed.target.contextSize - request.promptTokens };
    if (keep !== undefined) params.n_keep = keep;
    return params;
  }

  async #create(kind, request, { signal } = {}) {
    const target = this.#target(request?.model);
    // With the cloud fallback, a model that could not load may still be answered remotely (#local); no model at all may not.
    if (!this.cloud || !target) checkUsable(target);
    if (target?.info?.kind === 'embedding')
      throw invalidRequest('model', `'${target.name}' is an embedding model (${target.info.arch}): it gives embeddings (/v1/embeddings), not text`, 'model_not_chat');
    const parsed = kind === 'chat' ? parseChatRequest(request) : parseCompletionRequest(request);
    parsed.target = target;
    // The model is in use until the request ends (the end of its turn, or a failure before it).
    parsed.release = target.hold();
    try {
      if (this.cloud) return await this.cloud.create(parsed, request, this.#local(parsed, signal), signal);
      // The prompt and format are checked now, so a streaming request fails here, not mid-stream.
      return await this.#answer(parsed, this.#prepare(parsed), signal);
    } catch (e) {
      parsed.release();
      throw e;
    }
  }

  // The model a request's `model` names (OpenAI's 404 for a name no model has), else the default model;
  // every endpoint looks its model up here, and holds it (target.hold()) until its request ends.
  #target(name) {
    if (name !== undefined && name !== null && typeof name !== 'string') throw invalidRequest('model', `model must be a string: the name of one of the engine's models, got ${JSON.stringify(name)}`);
    return this.#models.select(name ?? undefined);
  }

  // Answering here, as the cloud policy weighs it (cloud.mjs): a request this engine cannot take as it is
  // (no model, a lost device, a prompt beyond the context) is not refused yet, as the endpoint may take it.
  #local(parsed, signal) {
    let prepared = null;
    let error = null;
    try {
      checkUsable(parsed.target);
      prepared = this.#prepare(parsed);
    } catch (e) {
      if (!(e instanceof TabllmAPIError && (e.status === 503 || e.code === 'context_length_exceeded'))) throw e;
      error = e;
    }
    const context = parsed.target.contextSize;
    return {
      error,
      backend: parsed.target.backend,
      contextSize: context,
      promptTokens: parsed.promptTokens ?? null,
      maxTokens: parsed.maxTokens ?? (prepared ? context - prepared.request.promptTokens : undefined),
      // Truncation "auto" cut the prompt: a chat's oldest turns, or a completion prompt's start (the core's).
      cut: !!prepared && (parsed.truncatedMessages > 0 || (parsed.kind === 'completion' && prepared.request.promptTokens >= context)),
      run: (handoff) => {
        parsed.handoff = handoff;
        return this.#answer(parsed, prepared, signal);
      },
      release: () => {
        prepared?.request.free();
        parsed.release();
      },
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
    const target = parsed.target;
    async function* events() {
      const release = await engine.#acquire();
      const control = { interrupted: false, target };
      const stop = () => control.interrupted || reader.gone || !!signal?.aborted;
      engine.#current = control;
      let ended = false;
      // The engine's turn ends: at the end, or when the cloud endpoint takes the reply over.
      const endTurn = () => {
        if (ended) return;
        ended = true;
        prepared.request.free();
        if (engine.#current === control) engine.#current = null;
        parsed.release();
        release();
      };
      try {
        checkUsable(target);
        if (target.prefixCacheForgotten) {
          target.prefixCacheForgotten = false;
          await target.openPrefixCache();
        }
        // The model was reloaded while the request waited: check it again against the new one.
        if (prepared.runner !== target.runner) {
          prepared.request.free();
          prepared = engine.#prepare(parsed);
        }
        const { request } = prepared;
        await engine.#profile.refresh(parsed.profile);
        const profile = engine.#profile.resolve(parsed.profile);
        const pace = createPacer(engine.#profile.settings(parsed.profile));
        const results = [];
        for (let index = 0; index < parsed.n; index++) {
          const params = engine.#choiceParams(parsed, prepared, index);
          let run;
          try {
            run = target.runner.run(request, params, {
              wantTokens: parsed.logprobs >= 0,
              shouldStop: () => stop() || !!handoff?.due(),
              pace,
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
              index, text, result, prompt: prepared.rendered.prompt, bosToken: target.runner.info.bos_token, maxTokens: params.max_tokens,
              stop, release: endTurn, signal,
              continueLocally: (partial) => engine.#continueLocally(parsed, prepared, params, partial, first, { index, stop }),
            });
            if (signal?.aborted) throw abortError(signal);
          }
          results.push(result);
          yield { index, finish: true, result };
          if (control.interrupted || reader.gone) break;
        }
        engine.#metrics.record(results, { model: target.name, backend: target.backend, profile });
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
      const run = parsed.target.runner.run(request, { ...params, max_tokens: params.max_tokens - first.generated_tokens }, { wantTokens: false, shouldStop: stop });
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
    const out = { id, object: parsed.kind === 'chat' ? 'chat.completion' : 'text_completion', created, model: parsed.target.name };
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
    const model = parsed.target.name;
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

// The 503 of a request when no model is loaded, or when its model cannot answer now.
function checkUsable(target) {
  if (!target) throw new TabllmAPIError('no model is loaded: load one with engine.load(model, {name})', { status: 503, type: 'engine_unavailable', code: 'model_not_loaded' });
  target.checkUsable();
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

// OpenAI's model object of a loaded model.
function modelEntry(model) {
  return { id: model.name, object: 'model', created: 0, owned_by: 'tabllm' };
}
