// The model on the CPU: the whole model in the WebAssembly heap (streamed from the file into its pieces),
// a session with threads where the host allows them.
import { startWasm } from '../wasm_module.mjs';
import { runRequest, stepLoop } from './step_loop.mjs';
import { KvPagerCounts, openKvPageSpill } from '../kv_pager.mjs';

const LOAD_CHUNK = 8 << 20;

export class WasmRunner {
  /**
   * @param {{size: number, read: (offset: number, length: number) => Promise<Uint8Array>}} source
   * @param {{threads?: number, contextSize?: number, kvType?: 'f16'|'q8_0'|'f32', kvBudget?: number, kvRecall?: boolean, onProgress?: Function, wasmVariant?: string}} options
   *   kvBudget: bytes of the heap the KV cache may take; older pages go to files (Node) or memory (kv_pager.mjs).
   *   encryptPages: the pages paged out are sealed on their way to a file (kv_pager.mjs).
   *   wasm: a lease on a started module (models/shared.mjs) the model joins, released when it is destroyed;
   *   without it the runner starts a module of its own.
   */
  static async create(source, { threads, contextSize, kvType = 'f16', kvBudget, kvRecall = false, encryptPages = false, onProgress, wasmVariant, wasm } = {}) {
    wasm ??= await startWasm({ threads, variant: wasmVariant });
    try {
      const heapBefore = wasm.tabllm.heapStats().in_use_bytes;
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
      if (info.kind === 'embedding') {
        const runner = new WasmRunner(wasm, model, null, info, info.context, null, model.createEmbedder({ threads: wasm.threads }));
        runner.memory = { heap: wasm.tabllm.heapStats().in_use_bytes - heapBefore, gpu: 0 };
        return runner;
      }
      const context = Math.min(contextSize || Math.min(info.context, 4096), info.context);
      const pages = kvBudget ? await openKvPageSpill({ encrypt: encryptPages, readBack: kvRecall }) : null;
      try {
        // recallPositions -1: half the window (tabllm.h).
        const session = model.createSession({ threads: wasm.threads, contextSize: context, kvType, kvBudget, kvPageStore: pages?.spill, recallPositions: kvRecall ? -1 : 0 });
        const runner = new WasmRunner(wasm, model, session, info, context, pages);
        runner.memory = { heap: wasm.tabllm.heapStats().in_use_bytes - heapBefore, gpu: 0 };
        return runner;
      } catch (e) {
        await pages?.close();
        throw e;
      }
    } catch (e) {
      wasm.release();
      throw e;
    }
  }

  // An embedding model has an embedder and no session.
  constructor(wasm, model, session, info, contextSize, kvPages = null, embedder = null) {
    this.wasm = wasm;
    this.kvPages = kvPages;
    this.model = model;
    this.session = session;
    this.embedder = embedder;
    this.info = info;
    this.contextSize = contextSize;
    this.backend = 'wasm';
    this.details = { variant: wasm.variant, threads: wasm.threads, ...(session ? this.kvInfo() : {}) };
    this.kvCounts = kvPages ? new KvPagerCounts(kvPages.spill, this.details.kvWindow) : null;
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
    this.kvCounts?.add(out.result);
    return out;
  }

  /** {kv_type, kv_bytes_per_token, kv_window} of the session's KV cache. */
  kvInfo() {
    const { kv_type, kv_bytes_per_token, kv_window } = this.session.info();
    return { kvType: kv_type, kvBytesPerToken: kv_bytes_per_token, kvWindow: kv_window };
  }

  /** The paging's counts: the core's (pages out and in, bytes, times, failures) and the store's writes. */
  kvPagerStats() {
    return this.kvCounts?.stats() ?? null;
  }

  async destroy() {
    this.session?.free();
    this.embedder?.free();
    await this.kvPages?.close();
    this.model?.free();
    this.session = this.embedder = this.model = null;
    this.wasm.release();
  }
}
