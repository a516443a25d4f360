// The model on the CPU: the whole model in the WebAssembly heap (streamed from the file into its pieces),
// a session with threads where the host allows them.
import { startWasm } from '../wasm_module.mjs';
import { runRequest, stepLoop } from './step_loop.mjs';

const LOAD_CHUNK = 8 << 20;

export class WasmRunner {
  /**
   * @param {{size: number, read: (offset: number, length: number) => Promise<Uint8Array>}} source
   * @param {{threads?: number, contextSize?: number, kvType?: 'f16'|'q8_0'|'f32', onProgress?: Function, wasmVariant?: string}} options
   */
  static async create(source, { threads, contextSize, kvType = 'f16', onProgress, wasmVariant } = {}) {
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
      const context = Math.min(contextSize || Math.min(info.context, 4096), info.context);
      const session = model.createSession({ threads: wasm.threads, contextSize: context, kvType });
      return new WasmRunner(wasm, model, session, info, context);
    } catch (e) {
      wasm.tabllm.shutdown();
      throw e;
    }
  }

  constructor(wasm, model, session, info, contextSize) {
    this.wasm = wasm;
    this.model = model;
    this.session = session;
    this.info = info;
    this.contextSize = contextSize;
    this.backend = 'wasm';
    this.details = { variant: wasm.variant, threads: wasm.threads, ...this.kvInfo() };
  }

  tokenize(text, addBos) {
    return this.model.tokenize(text, addBos);
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
    return out;
  }

  /** {kv_type, kv_bytes_per_token} of the session's KV cache. */
  kvInfo() {
    const { kv_type, kv_bytes_per_token } = this.session.info();
    return { kvType: kv_type, kvBytesPerToken: kv_bytes_per_token };
  }

  async destroy() {
    this.session?.free();
    this.model?.free();
    this.session = this.model = null;
    this.wasm.tabllm.shutdown();
  }
}
