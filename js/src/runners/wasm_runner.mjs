// The model on the CPU: the whole model in the WebAssembly heap (streamed from the file into its pieces),
// a session with threads where the host allows them.
import { startWasm } from '../wasm_module.mjs';
import { runRequest, stepLoop } from './step_loop.mjs';

const LOAD_CHUNK = 8 << 20;

// KV cache bytes a position takes on the CPU (KvCache::bytes_per_position): a key and a value row of
// kv_heads * head_dim values per layer; q8_0 keeps 34 bytes (an f16 scale and 32 bytes) per 32 values.
const KV_ROW_BYTES = { f32: (n) => 4 * n, f16: (n) => 2 * n, q8_0: (n) => (n / 32) * 34 };
export function cpuKvBytesPerToken(info, kvType) {
  return 2 * info.layers * KV_ROW_BYTES[kvType](info.kv_heads * info.head_dim);
}

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
      return new WasmRunner(wasm, model, session, info, context, kvType);
    } catch (e) {
      wasm.tabllm.shutdown();
      throw e;
    }
  }

  constructor(wasm, model, session, info, contextSize, kvType = 'f16') {
    this.wasm = wasm;
    this.model = model;
    this.session = session;
    this.info = info;
    this.contextSize = contextSize;
    this.backend = 'wasm';
    this.details = { variant: wasm.variant, threads: wasm.threads, kvType, kvBytesPerToken: cpuKvBytesPerToken(info, kvType) };
  }

  tokenize(text, addBos) {
    return this.model.tokenize(text, addBos);
  }

  /** Generates a request (see runRequest) with core params (tabllm.h); see stepLoop. */
  run(request, params, control) {
    return runRequest(this.model, request, params, (prepared, startParams) => {
      this.session.start(prepared, startParams);
      return stepLoop(this.session, async () => this.session.next(), control);
    });
  }

  async destroy() {
    this.session?.free();
    this.model?.free();
    this.session = this.model = null;
    this.wasm.tabllm.shutdown();
  }
}
