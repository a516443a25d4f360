// What a loaded model holds now: GPU buffer bytes (the plan's buffers, weights included), the WebAssembly
// heap (its size: it only grows), and the KV cache hot (positions held in the heap or on the GPU) and cold
// (pages the KV pager moved to storage, js/src/kv_pager.mjs).

/** @param {object|null} runner a WasmRunner or WebgpuRunner */
export function resources(runner) {
  if (!runner) return { gpu_buffer_bytes: 0, wasm_heap_bytes: 0, kv_hot_bytes: 0, kv_cold_bytes: 0 };
  const { cached_tokens } = runner.session.info();  // the tokens whose KV rows are held
  return {
    gpu_buffer_bytes: runner.gpu ? runner.gpu.plan.total_bytes : 0,
    wasm_heap_bytes: runner.wasm.tabllm.heapStats().heap_bytes,
    kv_hot_bytes: cached_tokens.length * (runner.details.kvBytesPerToken ?? 0),
    kv_cold_bytes: runner.kvPages?.spill.stats.bytesHeld ?? 0,
  };
}

/** Hit rates: the weights store (model loads served from storage), the prefix cache (lookups that restored
 * pages), the KV pager (recalls that found their pages) and the session's KV reuse (prompt tokens whose
 * rows were already cached). Each {hits, of, rate}; rate null when nothing was counted. */
export function cacheRates({ loads, loadsFromStore }, runner, samples) {
  const rate = (hits, of) => ({ hits, of, rate: of ? hits / of : null });
  const prefix = runner?.prefixCache?.stats;
  const pager = runner?.kvPagerStats?.();
  return {
    weights_store: rate(loadsFromStore, loads),
    prefix_cache: prefix ? rate(prefix.restores, prefix.lookups) : null,
    kv_pages: pager ? rate(pager.pagesIn, pager.pagesIn + pager.failures) : null,
    kv_reuse: rate(samples.reduce((s, x) => s + x.prompt_tokens_reused, 0), samples.reduce((s, x) => s + x.prompt_tokens, 0)),
  };
}
