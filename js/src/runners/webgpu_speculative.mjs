// Speculative decoding on WebGPU (docs/speculative.md): per step the core drafts after the pending token
// (Session.draft: prompt lookup; for method "draft", the tokens a draft model on the same device proposes
// greedily: DraftGpuModel), the plan's verify list runs the pending token and its drafts in one
// forward call, and the core keeps the drafts the model agrees with and the model's token after them. The
// GPU hands over each position's argmax when the request is greedy with nothing else to apply (k + 1 token
// ids read back), otherwise the positions' logits rows (sampling, penalties, logprobs, a response_format:
// the core applies them as on the CPU). A step with nothing drafted (the prompt, no n-gram match, no room)
// is a plain step. Rejected drafts leave KV rows the next call overwrites: rollback is the core's
// bookkeeping.
//
// Measured fallback: on a GPU where a verify call of k + 1 tokens costs several decode steps, speculation
// can be slower than plain decoding. Unless the request's speculative.min_speedup is 0, its first decode
// steps run the plain loop (timed), then the speculative steps (timed); after DECIDE_CALLS verify calls,
// a speculative rate below min_speedup (default 1) times the plain rate sends the rest of the request to
// the plain loop. The measured ratio is remembered per method (SpeculationMemory): while it is below a
// request's min_speedup, requests start plain and every REPROBE_EVERY-th one measures again.

const PLAIN_PROBE_STEPS = 3;  // one-token plain steps timed before speculating
const DECIDE_CALLS = 4;  // verify calls before deciding (the first is not timed)
const REPROBE_EVERY = 8;  // requests a remembered "slower" sends plain before one measures again
const FALLBACK = 'slower than plain';

/** The speculative method a request's steps draft with on this model (it has a verify list), or null. */
export function speculativeMethod(gpu, prepared, startParams) {
  const method = startParams.speculative?.method ?? prepared.speculative;
  return method !== undefined && method !== 'off' && (gpu.plan.verify_batch ?? 0) > 1 ? method : null;
}

/** The last measured ratio of speculative to plain decoding per method, on one model and device. */
export class SpeculationMemory {
  #byMethod = new Map();

  /** The remembered speedup when a request asking for minSpeedup should start plain (counted), else null. */
  startPlain(method, minSpeedup) {
    const known = this.#byMethod.get(method);
    if (!known || minSpeedup === 0 || known.speedup >= minSpeedup || known.plainSince >= REPROBE_EVERY - 1) return null;
    known.plainSince++;
    return known.speedup;
  }

  record(method, speedup) {
    this.#byMethod.set(method, { speedup, plainSince: 0 });
  }
}

/**
 * The step of a speculative request (see stepLoop): per step the host drafts, verifies and advances, timing
 * itself against the plain loop's steps (`plain`: {step, settle}, settle waiting for a pass it ran ahead).
 * @param {object} session the core's Session, started
 * @param {import('../gpu/model_runner.mjs').GpuModel} gpu
 * @param {(shift: {keep: number, discard: number, end: number}) => Promise<void>} shift runs a context shift
 * @param {{step: () => Promise<string|null>, settle: () => Promise<void>}} plain the plain loop's steps
 * @param {{method: string, draft: DraftGpuModel | null, minSpeedup: number, memory: SpeculationMemory}} options
 */
export class SpeculativeSteps {
  constructor(session, gpu, shift, plain, { method, draft, minSpeedup, memory }) {
    Object.assign(this, { session, gpu, shift, plain, method, draft, minSpeedup, memory });
    this.argmax = session.hostCanSample();
    // Under a response_format each verified position needs the constraint's state after the drafts before
    // it: the core applies it to the rows.
    this.rowsNeeded = !this.argmax || session.allowedTokens() !== null;
    this.measuring = minSpeedup > 0;
    this.plainSteps = this.plainMs = 0;  // the timed one-token plain steps
    this.calls = this.specTokens = this.specMs = 0;  // the speculative phase: verify calls, tokens, time
    this.fallback = null;  // {speedup, after}: the rest of the request runs plain
    const remembered = memory.startPlain(method, minSpeedup);
    if (remembered !== null) this.fallback = { speedup: remembered, after: 0 };
  }

  /** Runs one step: the chunk, or null once finished (stepLoop's step). */
  step = async () => {
    if (this.fallback) return this.plain.step();
    if (this.measuring && this.plainSteps < PLAIN_PROBE_STEPS) return this.#plainProbe();
    const started = performance.now();
    const { chunk, verified } = await this.#speculate();
    // Timed from the second verify call: the first also brings the draft model's cache up to the prompt,
    // once, and the decision is about the rest of the request.
    if (this.measuring && this.calls > 0) {
      this.specMs += performance.now() - started;
      this.specTokens += chunk === null ? 0 : this.session.lastTokens().length;
    }
    if (this.measuring && verified && ++this.calls === DECIDE_CALLS) this.#decide();
    return chunk;
  };

  // The plain loop's step, timed when it takes one token (the prompt's step is not a decode step).
  async #plainProbe() {
    const single = this.session.pending().tokens.length === 1;
    const started = performance.now();
    const chunk = await this.plain.step();
    if (single) {
      this.plainMs += performance.now() - started;
      this.plainSteps++;
    }
    // The plain loop may have run the next pass ahead; the verify call recomputes that position.
    if (this.plainSteps === PLAIN_PROBE_STEPS) await this.plain.settle();
    return chunk;
  }

  #decide() {
    this.measuring = false;
    const speedup = (this.specTokens / this.specMs) / (this.plainSteps / this.plainMs);
    this.memory.record(this.method, speedup);
    if (speedup < this.minSpeedup) this.fallback = { speedup, after: this.calls };
  }

  // Drafts, verifies k + 1 positions in one call and advances; a step with nothing drafted is a plain one.
  async #speculate() {
    const { session, gpu } = this;
    const { tokens, pos, shift: pendingShift } = session.pending();  // a shift is handed out once: taken here
    if (tokens.length === 0) return { chunk: session.advance(null), verified: false };
    const { argmax, rowsNeeded } = this;
    const most = gpu.plan.verify_batch - 1;  // drafts a verify call takes beside the pending token
    let verified, out;
    try {
      if (pendingShift) await this.shift(pendingShift);
      const proposed = this.draft ? await this.draft.propose(session, tokens, most) : [];
      if (session.draft(most, proposed)) {
        verified = await gpu.executor.verify(Array.from(session.pending().tokens), pos, { readLogits: rowsNeeded });
      } else {
        const mask = argmax ? session.allowedTokens() : null;
        gpu.pos = pos;
        out = await gpu.feed(Array.from(tokens), argmax ? { mask } : { readLogits: true });
      }
    } catch (e) {
      session.abort();
      throw e;
    }
    if (verified) return { chunk: verified.ids ? session.advanceVerifiedTokens(verified.ids) : session.advanceVerified(verified.rows), verified: true };
    return { chunk: argmax ? session.advanceToken(out.ids[0]) : session.advance(out.all), verified: false };
  }

  /** The core's speculative counts with the fallback, when there was one. */
  usage(counts) {
    if (!this.fallback) return counts;
    return { ...counts, fallback: FALLBACK, speedup: this.fallback.speedup, fallback_after: this.fallback.after };
  }
}

/**
 * A draft model on the GPU (the runner's `draft` option): before a step, the tokens the target's cache holds
 * and the pending token are the history; the draft's cache runs over it from position 0, catching up on
 * what it lacks (the prompt at first, then the tokens kept since; the rows of rejected drafts are
 * overwritten, as the core's draft model does), then it proposes the step's tokens greedily, chained on
 * the GPU. A history that no longer fits its context gets no proposal: the step is plain.
 */
export class DraftGpuModel {
  constructor(gpu, header, name) {
    this.gpu = gpu;
    this.header = header;  // the draft's header-only model, freed with it
    this.name = name;
    this.cached = [];  // the tokens whose rows the draft's cache holds
  }

  /** Up to the step's draft room of greedy tokens after `pending` (the session's one pending token). */
  async propose(session, pending, most) {
    const room = session.draftRoom(most);
    if (room < 1) return [];
    const history = [...session.info().cached_tokens, ...pending];
    if (history.length + room > this.gpu.plan.context_size) return [];
    let reuse = 0;
    while (reuse < this.cached.length && reuse + 1 < history.length && this.cached[reuse] === history[reuse]) reuse++;
    this.gpu.pos = reuse;
    const out = [];
    for await (const token of this.gpu.greedyStream(history.slice(reuse), { limit: room })) out.push(token);
    this.cached = [...history, ...out.slice(0, -1)];  // the last proposal is not in its cache yet
    return out;
  }

  destroy() {
    this.gpu.destroy();
    this.header.free();
  }
}
