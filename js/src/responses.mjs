// OpenAI response objects: chat.completion, chat.completion.chunk, text_completion, and their usage
// and logprobs parts, from what the core reports.

const decoder = new TextDecoder();

export function requestId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

const tokenText = (t) => decoder.decode(new Uint8Array(t.bytes));

/** Chat logprobs entries ({token, logprob, bytes, top_logprobs}) of core tokens. */
export function chatLogprobs(tokens) {
  return tokens.map((t) => ({
    token: tokenText(t),
    logprob: t.logprob,
    bytes: t.bytes,
    top_logprobs: (t.top_logprobs ?? []).map((a) => ({ token: tokenText(a), logprob: a.logprob, bytes: a.bytes })),
  }));
}

/** Completions logprobs ({tokens, token_logprobs, top_logprobs, text_offset}); offsets start at `offset`. */
export function completionLogprobs(tokens, offset = 0) {
  const out = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  for (const t of tokens) {
    const text = tokenText(t);
    out.tokens.push(text);
    out.token_logprobs.push(t.logprob);
    out.top_logprobs.push(Object.fromEntries((t.top_logprobs ?? []).map((a) => [tokenText(a), a.logprob])));
    out.text_offset.push(offset);
    offset += text.length;
  }
  return out;
}

/**
 * usage with OpenAI's counts and, as extensions, the timings of the request:
 * `timings: {ttft_ms, prefill_ms, decode_ms, prefill_tokens_per_s, decode_tokens_per_s, prompt_tokens_reused}`,
 * `context_shifts` (times a reply filled the context and its older half was dropped), and what truncation
 * "auto" dropped: `truncated_messages` (chat) or `truncated_prompt_tokens` (completions, from the front).
 * Under a kvBudget, `kv_pages: {pages_out, pages_in, bytes_out, bytes_in, page_out_ms, rehydrate_ms, failures}`.
 * With speculative decoding, `speculative: {method, drafted, accepted, acceptance_rate, forward_passes, draft_passes}`,
 * and where WebGPU's measured fallback ran the rest plain, `fallback`, `speedup` and `fallback_after`.
 * With n > 1, the counts add up over the choices and the timings are the first choice's.
 */
function speculativeUsage(results) {
  const sum = (key) => results.reduce((total, r) => total + r.speculative[key], 0);
  const drafted = sum('drafted');
  const accepted = sum('accepted');
  const fell = results.find((r) => r.speculative.fallback);  // the first choice that went plain (WebGPU)
  return { method: results[0].speculative.method, drafted, accepted, acceptance_rate: drafted > 0 ? accepted / drafted : 0,
    forward_passes: sum('forward_passes'), draft_passes: sum('draft_passes'),
    ...(fell ? { fallback: fell.speculative.fallback, speedup: fell.speculative.speedup, fallback_after: fell.speculative.fallback_after } : {}) };
}

export function usage(results, kind, truncatedMessages) {
  const first = results[0];
  const completion = results.reduce((sum, r) => sum + r.generated_tokens, 0);
  return {
    prompt_tokens: first.prompt_tokens,
    completion_tokens: completion,
    total_tokens: first.prompt_tokens + completion,
    ...(kind === 'chat' ? { truncated_messages: truncatedMessages } : { truncated_prompt_tokens: first.truncated_prompt_tokens }),
    context_shifts: results.reduce((sum, r) => sum + r.context_shifts, 0),
    ...(first.speculative ? { speculative: speculativeUsage(results) } : {}),
    ...(first.kv_pages ? { kv_pages: Object.fromEntries(Object.keys(first.kv_pages).map((k) => [k, results.reduce((sum, r) => sum + r.kv_pages[k], 0)])) } : {}),
    timings: {
      ttft_ms: first.ttft_ms,
      prefill_ms: first.prefill_ms,
      decode_ms: first.decode_ms,
      prefill_tokens_per_s: first.prefill_tokens_per_s,
      decode_tokens_per_s: first.decode_tokens_per_s,
      prompt_tokens_reused: first.prompt_tokens_reused,
    },
  };
}
