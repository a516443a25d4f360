// The steps of the resume benchmarks (bench/prefix-cache.mjs in Node, bench/prefix-cache-browser.mjs in
// Chromium, where a page imports this file from the served repository): a long prompt of story text, one
// timed turn, and the JSON that compares a prefilled turn with a restored one.

const SENTENCE = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ';

/** A prompt of about `want` tokens: the sentence repeated (it tokenizes alike each time: one and two are counted). */
export async function storyPrompt(engine, want) {
  const count = async (n) => (await engine.completions.create({ prompt: SENTENCE.repeat(n), max_tokens: 1, temperature: 0 })).usage.prompt_tokens;
  const one = await count(1);
  const each = (await count(2)) - one;
  return SENTENCE.repeat(1 + Math.max(0, Math.floor((want - one) / each)));
}

/** One greedy turn, streamed: TTFT as a page sees it, from the call to the first text (a restore included). */
export async function timedTurn(engine, { prompt, maxTokens }) {
  const start = performance.now();
  let ttft = null;
  let text = '';
  let usage = null;
  const stream = await engine.completions.create({ prompt, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } });
  for await (const chunk of stream) {
    if (chunk.choices?.[0]?.text && ttft === null) ttft = performance.now() - start;
    text += chunk.choices?.[0]?.text ?? '';
    usage = chunk.usage ?? usage;
  }
  return { ttft, text, usage };
}

/**
 * The benchmark's figures: TTFT prefilled and restored, the speed-up, and where the restored TTFT went — the
 * prefix cache's steps (engine.prefixCacheStats() of the restoring engine), then the prefill of the
 * positions the pages lack and the first token — and whether both answers are the same text.
 */
export function summary({ prefilled, restored, stats }) {
  const ms = (x) => +x.toFixed(1);
  return {
    prompt_tokens: restored.usage.prompt_tokens, ttft_prefill_ms: ms(prefilled.ttft), ttft_restored_ms: ms(restored.ttft),
    speedup: +(prefilled.ttft / restored.ttft).toFixed(1),
    restored_parts_ms: { index_at_load: ms(stats.open_ms), lookup: ms(stats.lookup_ms), read: ms(stats.read_ms), import: ms(stats.import_ms),
      prefill_rest: ms(restored.usage.timings.prefill_ms), prefill_rest_tokens: restored.usage.prompt_tokens - restored.usage.timings.prompt_tokens_reused },
    tokens_restored: restored.usage.timings.prompt_tokens_reused, pages_read: stats.pages_read, bytes_read: stats.bytes_read,
    same_text: prefilled.text === restored.text,
  };
}
