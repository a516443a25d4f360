// The rolling window of finished requests: one sample per request, made of what the core measured
// (usage.timings: the request's own clock, not when its chunks arrived) and where it ran. Only figures are
// kept, never text.
import { summarize } from './percentiles.mjs';

export const DEFAULT_WINDOW = 500;

/**
 * A sample of one request from the core's results (one per choice; the timings are the first choice's,
 * as in usage). Figures the core gives as 0 for lack of tokens (no decode after a 1-token reply) are null.
 */
export function sampleOf(results, { model, backend, profile, at = Date.now() }) {
  const first = results[0];
  const positive = (v) => (Number.isFinite(v) && v > 0 ? v : null);
  const drafted = results.reduce((s, r) => s + (r.speculative?.drafted ?? 0), 0);
  const accepted = results.reduce((s, r) => s + (r.speculative?.accepted ?? 0), 0);
  return {
    at, model, backend, profile,
    prompt_tokens: first.prompt_tokens,
    prompt_tokens_reused: first.prompt_tokens_reused ?? 0,
    completion_tokens: results.reduce((s, r) => s + r.generated_tokens, 0),
    ttft_ms: positive(first.ttft_ms),
    decode_ms: first.decode_ms,
    decode_tokens: first.generated_tokens,
    prefill_tokens_per_s: positive(first.prefill_tokens_per_s),
    decode_tokens_per_s: positive(first.decode_tokens_per_s),
    speculative: first.speculative ? { drafted, accepted } : null,
  };
}

export class Recorder {
  /** @param {{window?: number, samples?: object[]}} [options] samples: a history to start from (history_store.mjs) */
  constructor({ window = DEFAULT_WINDOW, samples = [] } = {}) {
    this.window = window;
    this.samples = samples.slice(-window);
  }

  add(sample) {
    this.samples.push(sample);
    if (this.samples.length > this.window) this.samples.splice(0, this.samples.length - this.window);
  }

  clear() {
    this.samples.length = 0;
  }

  /** The window's percentiles, overall and per model and backend, and its speculative acceptance. */
  summary() {
    const groups = new Map();
    for (const s of this.samples) {
      const key = `${s.model}\u0000${s.backend}`;
      if (!groups.has(key)) groups.set(key, { model: s.model, backend: s.backend, samples: [] });
      groups.get(key).samples.push(s);
    }
    return {
      ...figures(this.samples),
      by_model: [...groups.values()].map(({ model, backend, samples }) => ({ model, backend, ...figures(samples) })),
    };
  }
}

function figures(samples) {
  const pick = (key) => summarize(samples.map((s) => s[key]).filter((v) => v !== null));
  const spec = samples.filter((s) => s.speculative);
  const drafted = spec.reduce((t, s) => t + s.speculative.drafted, 0);
  const accepted = spec.reduce((t, s) => t + s.speculative.accepted, 0);
  return {
    requests: samples.length,
    ttft_ms: pick('ttft_ms'),
    decode_tokens_per_s: pick('decode_tokens_per_s'),
    prefill_tokens_per_s: pick('prefill_tokens_per_s'),
    speculative: spec.length ? { requests: spec.length, drafted, accepted, acceptance_rate: drafted ? accepted / drafted : 0 } : null,
  };
}
