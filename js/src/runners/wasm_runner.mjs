// The model on the CPU: the whole model in the WebAssembly heap (streamed from the file into its pieces),
// a session with threads where the host allows them.
import { startWasm } from '../wasm_module.mjs';
import { runRequest, stepLoop } from './step_loop.mjs';
import { openKvPageSpill } from '../kv_pager.mjs';

const LOAD_CHUNK = 8 << 20;

export class WasmRunner {
  /**
   * @param {{size: number, read: (offset: number, length: number) => Promise<Uint8Array>}} source
   * @param {{threads?: number, contextSize?: number, kvType?: 'f16'|'q8_0'|'f32', kvBudget?: number, kvRecall?: boolean, onProgress?: Function, wasmVariant?: string}} options
   *   kvBudget: bytes of the heap the KV cache may take; older pages go to files (Node) or memory (kv_pager.mjs).
   *   encryptPages: the pages paged out are sealed on their way to a file (kv_pager.mjs).
   */
  static async create(source, { threads, contextSize, kvType = 'f16', kvBudget, kvRecall = false, encryptPages = false, onProgress, wasmVariant } = {}) {
    const wasm = await startWasm({ threads, variant: wasmVariant });
    try {
      let loaded = 0;
      const model = await wasm.tabllm.loadModelStreaming(source.size, async (write) => {
        while (loaded < source.size) {
          const bytes = await source.read(loaded, Math.min(LOAD_CHUNK, source.size - loaded));
          if (bytes.length === 0) throw new Error(`the model file ended after ${loaded} of ${source.size} bytes`);
          write(bytes);
          loaded += bytes.length;
          onProgress?.({ phase: 'load', loaded, total: source.size });
        }
      });
      const info = model.info();
      if (info.kind === 'embedding') return new WasmRunner(wasm, model, null, info, info.context, null, model.createEmbedder({ threads: wasm.threads }));
      const context = Math.min(contextSize || Math.min(info.context, 4096), info.context);
      const pages = kvBudget ? await openKvPageSpill({ encrypt: encryptPages, readBack: kvRecall }) : null;
      try {
        // recallPositions -1: half the window (tabllm.h).
        const session = model.createSession({ threads: wasm.threads, contextSize: context, kvType, kvBudget, kvPageStore: pages?.spill, recallPositions: kvRecall ? -1 : 0 });
        return new WasmRunner(wasm, model, session, info, context, pages);
      } catch (e) {
        await pages?.close();
        throw e;
      }
    } catch (e) {
      wasm.tabllm.shutdown();
      throw e;
    }
  }

  // An embedding model has an embedder and no session.
  constructor(wasm, model, session, info, contextSize, kvPages = null, embedder = null) {
    this.wasm = wasm;
    this.kvPages = kvPages;
    // What the core reported of its paging, summed over requests (engine.kvPagerStats()).
    this.kvPageCounts = { pages_out: 0, pages_in: 0, bytes_out: 0, bytes_in: 0, page_out_ms: 0, rehydrate_ms: 0, failures: 0 };
    this.model = model;
    this.session = session;
    this.embedder = embedder;
    this.info = info;
    this.contextSize = contextSize;
    this.backend = 'wasm';
    this.details = { variant: wasm.variant, threads: wasm.threads, ...(session ? this.kvInfo() : {}) };
    if (kvPages) this.details.kvPageStore = kvPages.spill.store.kind;
  }

  tokenize(text, addBos) {
    return this.model.tokenize(text, addBos);
  }

  /** Unit-length embeddings of token-id arrays, in one call (tabllm_embed). */
  embed(inputs) {
    return this.embedder.embed(inputs);
  }

  embedTokenize(text) {
    return this.model.embedTokenize(text);
  }

  /** Generates a request (see runRequest) with core params (tabllm.h); see stepLoop. */
  run(request, params, control) {
    return runRequest(this.model, request, params, (prepared, startParams) => this.#generate(prepared, startParams, control));
  }

  // With a prefix cache (prefix_cache.mjs), the prompt's stored KV pages are restored first and the new
  // ones stored after.
  async *#generate(prepared, startParams, control) {
    if (this.prefixCache) await this.prefixCache.restore(this.session, prepared);
    this.session.start(prepared, startParams);
    const out = yield* stepLoop(this.session, async () => this.session.next(), control);
    this.prefixCache?.save(this.session);
    const paged = out.result.kv_pages;
    if (paged) for (const key of Object.keys(this.kvPageCounts)) this.kvPageCounts[key] += paged[key];
    for (const warning of out.result.warnings ?? []) console.warn(`tabllm: ${warning}`);
    return out;
  }

  /** {kv_type, kv_bytes_per_token, kv_window} of the session's KV cache. */
  kvInfo() {
    const { kv_type, kv_bytes_per_token, kv_window } = this.session.info();
    return { kvType: kv_type, kvBytesPerToken: kv_bytes_per_token, kvWindow: kv_window };
  }

  /** The paging's counts: the core's (pages out and in, bytes, times, failures) and the store's writes. */
  kvPagerStats() {
    if (!this.kvPages) return null;
    const { pages_out, pages_in, bytes_out, bytes_in, page_out_ms, rehydrate_ms, failures } = this.kvPageCounts;
    return { window: this.details.kvWindow, pagesOut: pages_out, pagesIn: pages_in, bytesOut: bytes_out, bytesIn: bytes_in,
      pageOutMs: page_out_ms, rehydrateMs: rehydrate_ms, failures, store: { ...this.kvPages.spill.stats } };
  }

  async destroy() {
    this.session?.free();
    this.embedder?.free();
    await this.kvPages?.close();
    this.model?.free();
    this.session = this.embedder = this.model = null;
    this.wasm.tabllm.shutdown();
  }
}
