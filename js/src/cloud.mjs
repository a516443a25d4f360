// Cloud fallback, off by default. With the user's consent, a request goes to an OpenAI-compatible endpoint
// (llama.cpp's llama-server, vLLM, another `tabllm serve`) when a policy says the device should not answer
// it, or the local model hands its reply over mid-stream and the endpoint continues the text. What is sent
// is kept in a log the app can show (engine.cloud.log()); the API key never is. docs/cloud.md: the design.
//
//   createEngine({ model, cloud: { endpoint: 'https://host/v1', apiKey, model: 'name', consent: () => askUser(),
//     policy: { contextOverflow: 'cut', maxTtftMs: 3000, minTokensPerSecond: 4, window: 16, route(request, stats) {…} } } })
//
// The engine asks this module twice: before a request starts (Cloud.create: the whole request to the
// endpoint, or here, perhaps with a Handoff), and before each local token of a request that may be handed
// off (Handoff.due). The endpoint's answers are read here (fetch, and server-sent events); the engine frames
// its own output as ever.
import { TabllmAPIError, abortError } from './errors.mjs';

const OPTIONS = ['endpoint', 'apiKey', 'model', 'consent', 'policy', 'fetch', 'timeoutMs', 'retryAfterMs', 'logLimit', 'onEvent'];
const POLICY = ['localUnavailable', 'contextOverflow', 'maxTtftMs', 'minTokensPerSecond', 'window', 'chatHandoff', 'route'];
const DEFAULTS = { timeoutMs: 30_000, retryAfterMs: 30_000, logLimit: 100 };
const POLICY_DEFAULTS = { localUnavailable: true, contextOverflow: 'cut', window: 16, chatHandoff: 'completions' };

// The fields of a request that shape sampling: a hand-off's continuation gets them as the request gave them.
const SAMPLING = ['temperature', 'top_p', 'seed', 'stop', 'frequency_penalty', 'presence_penalty', 'logit_bias', 'top_k', 'min_p', 'repetition_penalty'];

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Checks createEngine's `cloud` option; `fail(message)` throws.
 * @param {unknown} c
 * @param {(message: string) => never} fail
 */
export function checkCloudOptions(c, fail) {
  if (!isObject(c)) fail('cloud must be an object {endpoint, apiKey, model, consent, policy}');
  for (const k of Object.keys(c)) if (!OPTIONS.includes(k)) fail(`cloud: unknown option "${k}": the options are ${OPTIONS.join(', ')}`);
  let url = null;
  try {
    url = new URL(c.endpoint);
  } catch {
    fail(`cloud.endpoint must be the URL of an OpenAI-compatible API, such as "http://127.0.0.1:8080/v1", got ${JSON.stringify(c.endpoint)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`cloud.endpoint must be an http: or https: URL, got ${JSON.stringify(c.endpoint)}`);
  if (url.username || url.password) fail('cloud.endpoint must not hold credentials: give the key as cloud.apiKey');
  if (url.search || url.hash) fail('cloud.endpoint must be a base URL without a query or fragment ("http://host:port/v1")');
  if (c.apiKey !== undefined && (typeof c.apiKey !== 'string' || !c.apiKey)) fail('cloud.apiKey must be a non-empty string');
  if (c.model !== undefined && (typeof c.model !== 'string' || !c.model)) fail('cloud.model must be a non-empty string');
  checkConsent(c.consent, fail);
  for (const k of ['fetch', 'onEvent']) if (c[k] !== undefined && typeof c[k] !== 'function') fail(`cloud.${k} must be a function`);
  for (const k of ['timeoutMs', 'retryAfterMs']) if (c[k] !== undefined && !(typeof c[k] === 'number' && c[k] >= 0)) fail(`cloud.${k} must be a number of 0 or more`);
  if (c.logLimit !== undefined && !(Number.isInteger(c.logLimit) && c.logLimit >= 0)) fail('cloud.logLimit must be an integer of 0 or more');
  if (c.policy === undefined) return;
  const p = c.policy;
  if (!isObject(p)) fail('cloud.policy must be an object');
  for (const k of Object.keys(p)) if (!POLICY.includes(k)) fail(`cloud.policy: unknown option "${k}": the options are ${POLICY.join(', ')}`);
  if (p.localUnavailable !== undefined && typeof p.localUnavailable !== 'boolean') fail('cloud.policy.localUnavailable must be true or false');
  if (p.contextOverflow !== undefined && !['cut', 'fit', false].includes(p.contextOverflow)) fail(`cloud.policy.contextOverflow must be "cut", "fit" or false, got ${JSON.stringify(p.contextOverflow)}`);
  for (const k of ['maxTtftMs', 'minTokensPerSecond']) if (p[k] !== undefined && !(typeof p[k] === 'number' && p[k] > 0)) fail(`cloud.policy.${k} must be a positive number`);
  if (p.window !== undefined && !(Number.isInteger(p.window) && p.window >= 2)) fail('cloud.policy.window must be an integer of 2 or more (tokens)');
  if (p.chatHandoff !== undefined && !['completions', 'prefill'].includes(p.chatHandoff)) fail(`cloud.policy.chatHandoff must be "completions" or "prefill", got ${JSON.stringify(p.chatHandoff)}`);
  if (p.route !== undefined && typeof p.route !== 'function') fail('cloud.policy.route must be a function (request, stats) => "local" | "remote" | {route, reason} | undefined');
}

function checkConsent(consent, fail) {
  if (consent !== undefined && typeof consent !== 'boolean' && typeof consent !== 'function') {
    fail('cloud.consent must be true, false, or a function that returns (a promise of) true or false');
  }
}

// A failure of the endpoint itself: unreachable, too slow, an error status, a broken stream.
class RemoteError extends Error {
  constructor(message, { status = null, error = null, down = false, timeout = false } = {}) {
    super(message);
    this.name = 'RemoteError';
    this.status = status;  // the HTTP status, when one came
    this.error = error;    // the endpoint's OpenAI error body, when it sent one
    this.down = down;      // the endpoint looks down: it is left alone for retryAfterMs
    this.timeout = timeout;
  }
}

/**
 * The error a request gets when the endpoint failed and nothing local can answer instead: the endpoint's
 * own refusal of the request (a 4xx with OpenAI's body) as it is, else a 502 (504 for a timeout).
 */
function endpointError(message, e, code = 'cloud_unavailable') {
  if (e.error && e.status >= 400 && e.status < 500 && ![401, 403, 404, 408, 429].includes(e.status)) {
    return new TabllmAPIError(`the cloud endpoint refused the request: ${e.error.message ?? e.message}`,
      { status: e.status, type: e.error.type ?? 'invalid_request_error', param: e.error.param ?? null, code: e.error.code ?? null });
  }
  return new TabllmAPIError(message, { status: e.timeout ? 504 : 502, type: 'server_error', code });
}

// The app's policy.route answer over the built-in verdict: 'local' | 'remote' | {route, reason, detail} | nothing.
function verdictOf(answer, verdict, detail) {
  if (answer === undefined || answer === null) return verdict;
  const route = typeof answer === 'string' ? answer : answer?.route;
  if (route !== 'local' && route !== 'remote') {
    throw new TypeError(`cloud.policy.route must return "local", "remote", {route, reason} or nothing, got ${JSON.stringify(answer)}`);
  }
  if (route === verdict.route && typeof answer === 'string') return verdict;
  const given = (k) => (typeof answer === 'object' && answer[k] ? String(answer[k]) : null);
  return { route, reason: given('reason') ?? (route === 'remote' ? 'policy' : null), detail: given('detail') ?? (route === 'remote' ? detail : null) };
}

const counts = (u) => (u ? { prompt_tokens: u.prompt_tokens ?? null, completion_tokens: u.completion_tokens ?? null } : null);

export class Cloud {
  #o;
  #policy;
  #consent;
  #entries = [];
  #seq = 0;
  #downUntil = 0;       // the endpoint failed: nothing is tried before then
  #downBecause = '';
  #recent = { prefillTokensPerSecond: null, decodeTokensPerSecond: null };  // the last local request's

  /** @param {object} options createEngine's `cloud`, checked (checkCloudOptions) */
  constructor(options) {
    const defined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    this.#o = { ...DEFAULTS, ...defined(options) };
    this.#policy = { ...POLICY_DEFAULTS, ...defined(options.policy ?? {}) };
    this.#consent = options.consent ?? false;
    /** The endpoint's base URL (no trailing slash): requests go to ENDPOINT/chat/completions and ENDPOINT/completions. */
    this.endpoint = options.endpoint.replace(/\/+$/, '');
  }

  /** What was sent (or withheld), oldest first: copies of the log's entries (docs/cloud.md describes them). */
  log() {
    return structuredClone(this.#entries);
  }

  clearLog() {
    this.#entries.length = 0;
  }

  /** Grants (true), withdraws (false) or hands to a function the user's consent, from now on. */
  setConsent(consent) {
    checkConsent(consent, (message) => { throw new TypeError(message); });
    this.#consent = consent;
  }

  /** {endpoint, consent: 'granted' | 'denied' | 'ask', down: null | {until, because}, recent: the last local request's rates}. */
  status() {
    const consent = typeof this.#consent === 'function' ? 'ask' : this.#consent ? 'granted' : 'denied';
    const down = this.#isDown() ? { until: new Date(this.#downUntil).toISOString(), because: this.#downBecause } : null;
    return { endpoint: this.endpoint, consent, down, recent: { ...this.#recent } };
  }

  // ---- what the engine calls ----

  /** Whether an engine whose model failed to load goes on without it, its requests going to the endpoint:
   * only for failures that say the device cannot hold or run the model (not a wrong path or URL). */
  takesLoadFailure(error) {
    if (!this.#policy.localUnavailable || error?.name === 'AbortError' || error?.code === 'aborted') return false;
    return error?.code === 'memory' || /^neither backend can run this model|out of memory|could not allocate/i.test(String(error?.message ?? ''));
  }

  /** A finished local choice: its prefill and decode rates predict the next request's time to first token. */
  observe(result) {
    const t = result?.timings ?? result;
    if (!t) return;
    if ((result.prompt_tokens ?? 0) - (t.prompt_tokens_reused ?? 0) >= 8 && t.prefill_tokens_per_s > 0) this.#recent.prefillTokensPerSecond = t.prefill_tokens_per_s;
    if ((result.generated_tokens ?? 0) >= 8 && t.decode_tokens_per_s > 0) this.#recent.decodeTokensPerSecond = t.decode_tokens_per_s;
  }

  /**
   * A request: to the endpoint whole, or answered locally (perhaps with a hand-off). `local` is the engine's
   * view of answering here: {error, contextSize, backend, promptTokens, maxTokens, cut, run(handoff), release()}.
   */
  async create(parsed, body, local, signal) {
    const stats = this.#localStats(parsed, local);
    let verdict = this.#startRules(parsed, local, stats);
    verdict = await this.#ask(body, { phase: 'start', suggested: verdict, local: stats }, verdict);
    if (verdict.route !== 'remote') return this.#answerLocally(parsed, local, await this.#handoff(parsed, body, local, stats), null);
    const blocked = await this.#blocked();
    if (blocked) {
      const entry = this.#record({ action: blocked.action, reason: verdict.reason, detail: verdict.detail, request: parsed.kind, sent: false, note: blocked.note });
      return this.#answerLocally(parsed, local, null, { reason: verdict.reason, note: blocked.note, entry });
    }
    try {
      return await this.#whole(parsed, body, verdict, local, signal);
    } catch (e) {
      if (!(e instanceof RemoteError)) throw e;
      return this.#answerLocally(parsed, local, null, { reason: verdict.reason, note: `the cloud endpoint failed (${e.message})`, entry: e.entry, remoteError: e });
    }
  }

  /** usage.x_tabllm: {local, remote} token counts of the choices (remote: null when nothing was handed off). */
  splitUsage(usage, results) {
    let local = 0;
    let remote = null;
    for (const r of results) {
      local += r.x_cloud ? r.x_cloud.local_tokens : r.generated_tokens;
      if (r.x_cloud?.remote) {
        remote ??= { prompt_tokens: 0, completion_tokens: 0 };
        remote.prompt_tokens += r.x_cloud.remote.prompt_tokens ?? 0;
        remote.completion_tokens += r.x_cloud.remote.completion_tokens ?? 0;
      }
    }
    return { ...usage, x_tabllm: { local: { prompt_tokens: results[0]?.prompt_tokens ?? 0, completion_tokens: local }, remote } };
  }

  /** A locally run response's x_tabllm: {source: 'local' | 'local+remote', reason?, handoff_after_tokens?, note?, log?}. */
  summary(parsed, results) {
    const handed = results.find((r) => r.x_cloud);
    const out = { source: results.some((r) => r.x_cloud?.remote) ? 'local+remote' : 'local' };
    const cloud = handed?.x_cloud ?? parsed.cloud;
    if (cloud?.reason) out.reason = cloud.reason;
    if (handed?.x_cloud.remote) out.handoff_after_tokens = handed.x_cloud.local_tokens;
    if (cloud?.note) out.note = cloud.note;
    if (cloud?.log) out.log = cloud.log;
    return out;
  }

  // ---- the policy ----

  #localStats(parsed, local) {
    const prefill = this.#recent.prefillTokensPerSecond;
    return {
      available: !local.error,
      error: local.error?.message ?? null,
      backend: local.backend,
      contextSize: local.contextSize,
      promptTokens: local.promptTokens,
      maxTokens: local.maxTokens ?? null,
      cut: local.cut,
      predictedTtftMs: prefill && local.promptTokens ? (local.promptTokens / prefill) * 1000 : null,
      prefillTokensPerSecond: prefill,
      decodeTokensPerSecond: this.#recent.decodeTokensPerSecond,
    };
  }

  // The built-in rules before a request starts: {route, reason, detail}.
  #startRules(parsed, local, stats) {
    const p = this.#policy;
    const remote = (reason, detail) => ({ route: 'remote', reason, detail });
    if (local.error?.status === 503) {
      if (p.localUnavailable) return remote('unavailable', `the local model cannot answer: ${local.error.message}`);
      return { route: 'local', reason: null, detail: null };
    }
    if (p.contextOverflow) {
      if (local.error?.code === 'context_length_exceeded') return remote('context', `the prompt does not fit the local context: ${local.error.message}`);
      if (local.cut) {
        const what = parsed.kind === 'chat' ? `truncation "auto" would drop ${parsed.truncatedMessages} messages` : 'truncation "auto" would cut its start';
        return remote('context', `the prompt has ${stats.promptTokens} tokens, more than the local context of ${stats.contextSize} leaves it: ${what}`);
      }
      if (p.contextOverflow === 'fit' && parsed.maxTokens !== undefined && stats.promptTokens + parsed.maxTokens > stats.contextSize) {
        return remote('context', `the prompt (${stats.promptTokens} tokens) and max_tokens (${parsed.maxTokens}) are more than the local context of ${stats.contextSize}`);
      }
    }
    if (p.maxTtftMs !== undefined && stats.predictedTtftMs !== null && stats.predictedTtftMs > p.maxTtftMs) {
      return remote('ttft', `the local time to first token would be about ${Math.round(stats.predictedTtftMs)} ms (${stats.promptTokens} prompt tokens at ${stats.prefillTokensPerSecond.toFixed(1)} tokens/s), over ${p.maxTtftMs} ms`);
    }
    return { route: 'local', reason: null, detail: null };
  }

  // The app's policy.route, over the built-in verdict.
  async #ask(body, stats, verdict) {
    if (!this.#policy.route) return verdict;
    return verdictOf(await this.#policy.route(body, stats), verdict, 'policy.route chose the cloud endpoint');
  }

  async #consented() {
    if (typeof this.#consent !== 'function') return this.#consent === true;
    try {
      return (await this.#consent()) === true;
    } catch {
      return false;  // a consent prompt that failed is no consent
    }
  }

  #isDown() {
    return Date.now() < this.#downUntil;
  }

  // Why nothing may be sent now ({action, note}), or null.
  async #blocked() {
    if (this.#isDown()) return { action: 'skipped', note: `not sent: the endpoint failed ${Math.round((Date.now() - (this.#downUntil - this.#o.retryAfterMs)) / 1000)} s ago (${this.#downBecause})` };
    if (!(await this.#consented())) return { action: 'withheld', note: 'not sent: the user has not consented to the cloud fallback' };
    return null;
  }

  // A local answer: the engine's own path; when it has none, its error, with what the cloud could not do.
  // cloud: {reason, note, entry, remoteError?} when the policy chose the endpoint and it was not used or failed.
  #answerLocally(parsed, local, handoff, cloud) {
    if (local.error) {
      const e = local.error;
      if (cloud?.entry) this.#update(cloud.entry, { answered_by: null });
      if (cloud?.remoteError) {
        throw endpointError(`the local model cannot answer (${e.message}) and the cloud endpoint failed: ${cloud.remoteError.message}`, cloud.remoteError);
      }
      if (cloud) throw new TabllmAPIError(`${e.message} (the cloud fallback: ${cloud.note})`, { status: e.status, type: e.type, param: e.param, code: e.code });
      throw e;
    }
    if (cloud?.entry) this.#update(cloud.entry, { answered_by: 'local' });
    parsed.cloud = cloud ? { reason: cloud.reason, note: `${cloud.note}; answered locally`, log: cloud.entry?.id ?? null } : null;
    return local.run(handoff);
  }

  // ---- the whole request to the endpoint ----

  async #whole(parsed, body, verdict, local, signal) {
    const sent = structuredClone(body);
    this.#setModel(sent, body);
    if (parsed.stream) sent.stream_options = { ...(isObject(body.stream_options) ? body.stream_options : {}), include_usage: true };
    const path = parsed.kind === 'chat' ? '/chat/completions' : '/completions';
    const entry = this.#record({ action: 'remote', reason: verdict.reason, detail: verdict.detail, request: parsed.kind, sent: true, endpoint: this.endpoint + path, body: sent });
    const conn = await this.#send(path, sent, entry, signal);
    const x = { source: 'remote', reason: verdict.reason, log: entry.id };
    if (!parsed.stream) {
      let answer;
      try {
        answer = await conn.response.json();
      } catch (e) {
        if (signal?.aborted) {
          this.#update(entry, { status: 'aborted' });
          throw abortError(signal);
        }
        const error = new RemoteError(conn.timedOut() ? `no answer within ${this.#o.timeoutMs} ms` : `its answer is not JSON (${e.message})`, { timeout: conn.timedOut() });
        this.#failed(entry, error, false);
        throw error;
      } finally {
        conn.close();
      }
      local.release();
      answer.x_tabllm = x;
      if (isObject(answer.usage)) answer.usage.x_tabllm = { local: null, remote: counts(answer.usage) };
      this.#update(entry, { status: 'ok', answered_by: 'remote', usage: counts(answer.usage) });
      return answer;
    }
    local.release();
    return this.#passThrough(conn, entry, parsed.includeUsage, x, signal);
  }

  // The endpoint's chunks as they come, each marked x_tabllm.source "remote"; its usage-only chunk when the
  // request asked for one.
  async* #passThrough(conn, entry, includeUsage, x, signal) {
    let finished = false;
    let usage = null;
    try {
      for await (const chunk of this.#chunks(conn)) {
        if (isObject(chunk.usage)) {
          usage = counts(chunk.usage);
          chunk.usage.x_tabllm = { local: null, remote: usage };
        }
        if (!chunk.choices?.length) {
          if (includeUsage && chunk.usage) yield { ...chunk, x_tabllm: x };
          continue;
        }
        yield { ...chunk, x_tabllm: { source: 'remote' } };
      }
      finished = true;
      this.#update(entry, { status: 'ok', answered_by: 'remote', usage });
    } catch (e) {
      if (signal?.aborted) {
        this.#update(entry, { status: 'aborted' });
        throw abortError(signal);
      }
      if (!(e instanceof RemoteError)) throw e;
      this.#failed(entry, e, false);
      throw new TabllmAPIError(`the cloud endpoint failed mid-stream: ${e.message}`, { status: 502, type: 'server_error', code: 'cloud_error' });
    } finally {
      conn.close();
      if (!finished && entry.status === 'pending') this.#update(entry, { status: 'aborted' });
    }
  }

  // ---- the hand-off ----

  async #handoff(parsed, body, local, stats) {
    const p = this.#policy;
    if (local.error || parsed.n !== 1 || parsed.logprobs >= 0 || parsed.tools || parsed.responseFormat) return null;
    if (p.minTokensPerSecond === undefined && !p.route) return null;
    if (this.#isDown()) return null;
    return new Handoff(parsed, body, stats, await this.#consented(), {
      record: (fields) => this.#record(fields),
      update: (entry, fields) => this.#update(entry, fields),
      failed: (entry, e, fallback) => this.#failed(entry, e, fallback),
      send: (path, sent, entry, signal) => this.#send(path, sent, entry, signal),
      chunks: (conn) => this.#chunks(conn),
      setModel: (sent) => this.#setModel(sent, body),
      endpoint: this.endpoint,
      policy: p,
    });
  }

  // ---- the endpoint ----

  #setModel(sent, body) {
    delete sent.model;
    const model = this.#o.model ?? body.model;
    if (typeof model === 'string') sent.model = model;
  }

  // POSTs `sent` to ENDPOINT+path (its log entry already says so); resolves once the endpoint answered 2xx,
  // with {response, close(), touch(), timedOut()}. Throws RemoteError (the entry updated) when it cannot be
  // reached, answers too slowly (timeoutMs, until the headers and then between chunks) or answers with an
  // error status.
  async #send(path, sent, entry, signal) {
    const url = this.endpoint + path;
    if (signal?.aborted) {
      this.#update(entry, { status: 'aborted' });
      throw abortError(signal);
    }
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    let timer = null;
    const touch = () => {
      clearTimeout(timer);
      if (!this.#o.timeoutMs) return;
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.#o.timeoutMs);
      timer.unref?.();
    };
    const close = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      controller.abort();  // the body, when not read to its end
    };
    touch();
    const headers = { 'content-type': 'application/json', accept: sent.stream ? 'text/event-stream' : 'application/json' };
    if (this.#o.apiKey) headers.authorization = `Bearer ${this.#o.apiKey}`;
    const fetch = this.#o.fetch ?? globalThis.fetch;
    const started = performance.now();
    let response;
    try {
      response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(sent), signal: controller.signal });
    } catch (e) {
      close();
      if (signal?.aborted) {
        this.#update(entry, { status: 'aborted' });
        throw abortError(signal);
      }
      const cause = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(e);
      const error = new RemoteError(timedOut ? `no answer within ${this.#o.timeoutMs} ms` : `it could not be reached (${cause})`, { down: true, timeout: timedOut });
      this.#failed(entry, error, true);
      throw error;
    }
    this.#update(entry, { http_status: response.status, ms: Math.round(performance.now() - started) }, false);
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      close();
      let error = null;
      try {
        error = JSON.parse(text).error ?? null;
      } catch { /* not JSON */ }
      const what = (isObject(error) ? error.message : null) ?? (text.slice(0, 300) || response.statusText);
      const e = new RemoteError(`HTTP ${response.status}: ${what}`, { status: response.status, error: isObject(error) ? error : null, down: response.status >= 500 || response.status === 429 });
      this.#failed(entry, e, true);
      throw e;
    }
    return { response, close, touch, timedOut: () => timedOut };
  }

  // The JSON of each server-sent event of an accepted streaming answer, until `data: [DONE]`. An error
  // event (`event: error`, or a `data` object with an `error`), a stream that ends before its choices
  // finished, or a pause longer than timeoutMs throws RemoteError.
  async* #chunks(conn) {
    let finished = false;
    try {
      for await (const event of readSse(conn.response.body, conn.touch)) {
        if (event.data === '[DONE]') return;
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          throw new RemoteError(`it sent an event that is not JSON: ${event.data.slice(0, 200)}`);
        }
        if (event.event === 'error' || isObject(data?.error)) {
          const error = data?.error ?? data;
          throw new RemoteError(`it sent an error: ${error?.message ?? JSON.stringify(error)}`, { status: error?.code && Number.isInteger(error.code) ? error.code : null, error: isObject(error) ? error : null });
        }
        if (data?.choices?.some?.((c) => c.finish_reason)) finished = true;
        yield data;
      }
    } catch (e) {
      if (e instanceof RemoteError) throw e;
      if (conn.timedOut()) throw new RemoteError(`it sent nothing for ${this.#o.timeoutMs} ms`, { timeout: true });
      throw new RemoteError(`the stream broke (${e?.cause?.code ?? e?.message ?? e})`);
    }
    if (!finished) throw new RemoteError('the stream ended before the reply was complete (no finish_reason, no [DONE])');
  }

  // ---- the log ----

  // A new entry (given to onEvent), kept up to logLimit entries.
  #record(fields) {
    const entry = { id: `cloud-${++this.#seq}`, time: new Date().toISOString(), ...this.#scrub(fields) };
    if (entry.sent) entry.status = 'pending';
    this.#entries.push(entry);
    while (this.#entries.length > this.#o.logLimit) this.#entries.shift();
    this.#emit(entry);
    return entry;
  }

  #update(entry, fields, emit = true) {
    Object.assign(entry, this.#scrub(fields));
    if (emit) this.#emit(entry);
  }

  // A failed exchange: recorded, and (for a failure of the endpoint itself) the endpoint left alone for a while.
  #failed(entry, e, maybeDown) {
    if (maybeDown && e.down && this.#o.retryAfterMs > 0) {
      this.#downUntil = Date.now() + this.#o.retryAfterMs;
      this.#downBecause = e.message;
    }
    e.entry = entry;
    this.#update(entry, { status: 'failed', error: e.message });
  }

  #emit(entry) {
    if (!this.#o.onEvent) return;
    try {
      this.#o.onEvent(structuredClone(entry));
    } catch { /* the app's listener does not break the request */ }
  }

  // The API key never enters the log, even where an endpoint's message or a prompt repeats it.
  #scrub(value) {
    const key = this.#o.apiKey;
    if (!key) return value;
    if (typeof value === 'string') return value.replaceAll(key, '[api key]');
    if (Array.isArray(value)) return value.map((v) => this.#scrub(v));
    if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.#scrub(v)]));
    return value;
  }
}

/**
 * One request's watch over its local reply: asked before each local token whether to hand off (due), then,
 * once the local run stopped there, the continuation by the endpoint (continue).
 */
class Handoff {
  #cloud;
  #parsed;
  #body;
  #local;
  #consented;
  #calls = 0;
  #times = [];          // when each of the last `window` tokens was done
  #start = 0;
  #ttft = null;
  #withheld = false;

  // api: what the hand-off uses of its Cloud (record, update, failed, send, chunks, setModel, policy).
  constructor(parsed, body, local, consented, api) {
    this.#cloud = api;
    this.#parsed = parsed;
    this.#body = body;
    this.#local = local;
    this.#consented = consented;
    this.triggered = false;
    this.verdict = null;
  }

  /**
   * Called (synchronously) before each step of the local run; each step takes one token. True: stop here and
   * hand off. With no consent, a hand-off the policy wants is recorded once (`withheld`) and the reply goes on.
   */
  due() {
    if (this.triggered) return true;
    const now = performance.now();
    const tokens = this.#calls++;
    if (tokens === 0) {
      this.#start = now;
      return false;
    }
    if (tokens === 1) this.#ttft = now - this.#start;
    if (this.#local.maxTokens !== null && tokens >= this.#local.maxTokens) return false;  // the reply is complete
    const p = this.#cloud.policy;
    this.#times.push(now);
    if (this.#times.length > p.window) this.#times.shift();
    const span = this.#times.at(-1) - this.#times[0];
    const rate = this.#times.length >= p.window && span > 0 ? ((this.#times.length - 1) * 1000) / span : null;
    let verdict = { route: 'local', reason: null, detail: null };
    if (p.minTokensPerSecond !== undefined && rate !== null && rate < p.minTokensPerSecond) {
      verdict = { route: 'remote', reason: 'throughput', detail: `the local model made ${rate.toFixed(2)} tokens/s over its last ${p.window} tokens, under ${p.minTokensPerSecond}` };
    }
    if (p.route) {
      const stats = { phase: 'generating', suggested: verdict, tokens, elapsedMs: now - this.#start, ttftMs: this.#ttft, tokensPerSecond: rate, local: this.#local };
      const answer = p.route(this.#body, stats);
      if (typeof answer?.then === 'function') {
        throw new TypeError('cloud.policy.route must answer at once while tokens are generated (stats.phase "generating"): it returned a promise');
      }
      verdict = verdictOf(answer, verdict, `policy.route chose the cloud endpoint after ${tokens} local tokens`);
    }
    if (verdict.route !== 'remote') return false;
    if (!this.#consented) {
      if (!this.#withheld) {
        this.#withheld = true;
        this.#cloud.record({ action: 'withheld', reason: verdict.reason, detail: verdict.detail, request: this.#parsed.kind, sent: false, local_tokens: tokens,
          note: 'not sent: the user has not consented to the cloud fallback; the local model went on' });
      }
      return false;
    }
    this.triggered = true;
    this.verdict = verdict;
    return true;
  }

  /**
   * The rest of the reply after the local run stopped for the hand-off: events {index, text, source} as the
   * endpoint streams them; returns the choice's result, the two parts merged. Until the endpoint accepts,
   * the engine's turn is held: when it fails to, the local model goes on from where it stopped
   * (continueLocally) and the reply is local after all. Once it accepted, `release` ends the engine's turn,
   * and a failure of the endpoint is an error (status 502, code cloud_error).
   * @param {{index: number, text: string, result: object, prompt: string, bosToken: string, maxTokens: number,
   *   stop: () => boolean, release: () => void, continueLocally: (text: string) => AsyncGenerator, signal?: AbortSignal}} at
   */
  async* continue({ index, text, result, prompt, bosToken, maxTokens, stop, release, continueLocally, signal }) {
    const parsed = this.#parsed;
    const body = this.#body;
    const remaining = maxTokens - result.generated_tokens;
    const sampling = Object.fromEntries(SAMPLING.filter((k) => body[k] !== undefined && body[k] !== null).map((k) => [k, body[k]]));
    let path;
    let sent;
    if (parsed.kind === 'chat' && this.#cloud.policy.chatHandoff === 'prefill') {
      path = '/chat/completions';
      sent = { messages: [...body.messages, { role: 'assistant', content: text }] };
    } else {
      path = '/completions';
      // A chat as the model's template renders it; the endpoint adds BOS to a completion prompt itself, so a
      // BOS the template wrote as text is left out (it would be read as a second one).
      const start = parsed.kind === 'chat' && bosToken && prompt.startsWith(bosToken) ? prompt.slice(bosToken.length) : prompt;
      sent = { prompt: (parsed.kind === 'chat' ? start : parsed.prompt) + text };
    }
    this.#cloud.setModel(sent);
    Object.assign(sent, { max_tokens: remaining, ...sampling, stream: true, stream_options: { include_usage: true } });
    const { reason, detail } = this.verdict;
    const entry = this.#cloud.record({ action: 'handoff', reason, detail, request: parsed.kind, sent: true, local_tokens: result.generated_tokens,
      endpoint: this.#cloud.endpoint + path, body: sent });
    const cloudNote = { reason, log: entry.id };
    let conn;
    try {
      conn = await this.#cloud.send(path, sent, entry, signal);
    } catch (e) {
      if (!(e instanceof RemoteError)) throw e;
      // The endpoint did not take it: the local model goes on from the text so far (its KV cache holds it).
      this.#cloud.update(entry, { answered_by: 'local' });
      const more = yield* continueLocally(text);
      return {
        ...result,
        finish_reason: more.finish_reason,
        generated_tokens: result.generated_tokens + more.generated_tokens,
        context_shifts: result.context_shifts + more.context_shifts,
        x_cloud: { ...cloudNote, local_tokens: result.generated_tokens + more.generated_tokens, remote: null,
          note: `the hand-off failed: the cloud endpoint failed (${e.message}); the local model went on` },
      };
    }
    release();
    let finish = null;
    let usage = null;
    let pieces = 0;
    let stopped = false;
    // The reader going away or engine.interrupt() end the endpoint's stream too (checked every 50 ms).
    const watch = setInterval(() => {
      if (!stopped && stop()) {
        stopped = true;
        conn.close();
      }
    }, 50);
    watch.unref?.();
    try {
      for await (const chunk of this.#cloud.chunks(conn)) {
        if (isObject(chunk.usage)) usage = counts(chunk.usage);
        const choice = chunk.choices?.[0];
        if (choice) {
          const piece = choice.text ?? choice.delta?.content ?? '';
          if (piece) {
            pieces++;
            yield { index, text: piece, source: 'remote' };
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
        if (stop()) {
          stopped = true;
          break;
        }
      }
    } catch (e) {
      if (signal?.aborted) {
        this.#cloud.update(entry, { status: 'aborted' });
        throw abortError(signal);
      }
      if (!stopped) {
        if (!(e instanceof RemoteError)) throw e;
        this.#cloud.failed(entry, e, false);
        throw new TabllmAPIError(`the cloud endpoint failed after the hand-off (the reply so far: ${result.generated_tokens} local tokens, then ${pieces} chunks from the endpoint): ${e.message}`,
          { status: 502, type: 'server_error', code: 'cloud_error' });
      }
    } finally {
      clearInterval(watch);
      conn.close();
    }
    if (stopped) finish = 'abort';
    // Without the endpoint's usage, its chunks are the count (servers send one token per chunk).
    const remote = { prompt_tokens: usage?.prompt_tokens ?? null, completion_tokens: usage?.completion_tokens ?? pieces };
    this.#cloud.update(entry, { status: stopped ? 'aborted' : 'ok', answered_by: 'remote', usage: remote });
    return {
      ...result,
      finish_reason: finish ?? 'stop',
      generated_tokens: result.generated_tokens + remote.completion_tokens,
      x_cloud: { ...cloudNote, local_tokens: result.generated_tokens, remote },
    };
  }
}

/**
 * Server-sent events of a response body: {event, data} per event (data lines joined by "\n"). `onData` is
 * called for each piece read (the caller's idle timer).
 * @param {ReadableStream<Uint8Array>} body
 * @param {() => void} [onData]
 */
export async function* readSse(body, onData) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let rest = '';
  let type = '';
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      onData?.();
      let text = rest + (done ? decoder.decode() : decoder.decode(value, { stream: true }));
      // A CR at the end may be the first half of a CRLF: kept for the next piece.
      const heldCr = !done && text.endsWith('\r');
      if (heldCr) text = text.slice(0, -1);
      const lines = text.split(/\r\n|\r|\n/);
      rest = done ? '' : lines.pop() + (heldCr ? '\r' : '');
      for (const line of lines) {
        if (line === '') {
          if (data.length) yield { event: type || 'message', data: data.join('\n') };
          type = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;  // a comment (keep-alive)
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const content = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') data.push(content);
        else if (field === 'event') type = content;
      }
      if (done) {
        if (data.length) yield { event: type || 'message', data: data.join('\n') };
        return;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
