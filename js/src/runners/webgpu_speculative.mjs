// Speculative decoding on WebGPU (docs/speculative.md): per step the core drafts after the pending token
// (Session.draft: prompt lookup; for method "draft", the tokens a draft model on the same device proposes
// greedily: DraftGpuModel), the plan's verify list runs the pending token and its drafts in one
// forward call, and the core keeps the drafts the model agrees with and the model's token after them. The
// GPU hands over each position's argmax when the request is greedy with nothing else to apply (k + 1 token
// ids read back), otherwise the positions' logits rows (sampling, penalties, logprobs, a response_format:
// the core applies them as on the CPU). A step with nothing drafted (the prompt, no n-gram match, no room)
// is a plain step. Rejected drafts leave KV rows the next call overwrites: rollback is the core's
// bookkeeping.
import { stepLoop } from './step_loop.mjs';

/** The speculative method a request's steps draft with on this model (it has a verify list), or null. */
export function speculativeMethod(gpu, prepared, startParams) {
  const method = startParams.speculative?.method ?? prepared.speculative;
  return method !== undefined && method !== 'off' && (gpu.plan.verify_batch ?? 0) > 1 ? method : null;
}

/**
 * The step loop of a speculative request (see stepLoop).
 * @param {object} session the core's Session, started
 * @param {import('../gpu/model_runner.mjs').GpuModel} gpu
 * @param {(shift: {keep: number, discard: number, end: number}) => Promise<void>} shift runs a context shift
 * @param {object} control stepLoop's
 * @param {DraftGpuModel | null} draft the draft model of method "draft"
 */
export function runSpeculative(session, gpu, shift, control, draft = null) {
  const executor = gpu.executor;
  const most = gpu.plan.verify_batch - 1;  // drafts a verify call takes beside the pending token
  const argmax = session.hostCanSample();
  // Under a response_format each verified position needs the constraint's state after the drafts before
  // it: the core applies it to the rows.
  const rowsNeeded = !argmax || session.allowedTokens() !== null;
  const step = async () => {
    const { tokens, pos, shift: pendingShift } = session.pending();  // a shift is handed out once: taken here
    if (tokens.length === 0) return session.advance(null);
    let verified, out;
    try {
      if (pendingShift) await shift(pendingShift);
      const proposed = draft ? await draft.propose(session, tokens, most) : [];
      if (session.draft(most, proposed)) {
        verified = await executor.verify(Array.from(session.pending().tokens), pos, { readLogits: rowsNeeded });
      } else {
        const mask = argmax ? session.allowedTokens() : null;
        gpu.pos = pos;
        out = await gpu.feed(Array.from(tokens), argmax ? { mask } : { readLogits: true });
      }
    } catch (e) {
      session.abort();
      throw e;
    }
    if (verified) return verified.ids ? session.advanceVerifiedTokens(verified.ids) : session.advanceVerified(verified.rows);
    return argmax ? session.advanceToken(out.ids[0]) : session.advance(out.all);
  };
  return stepLoop(session, step, control);
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
