// A model on WebGPU, driven from JavaScript: the core plans (WebgpuAbi.planModel), the executor runs the
// plan, and this class steps generation — prefill in chunks of the plan's batch, then one token per step,
// sampling greedily on the GPU (or reading back top-k candidates). The WebAssembly engine stays the owner
// of tokenizing and of any sampling that needs the logits (see docs/webgpu.md).
import { PlanExecutor } from './executor.mjs';

export class GpuModel {
  /**
   * @param {import('./abi.mjs').WebgpuAbi} abi
   * @param {GPUDevice} device
   * @param {{size: number, read: (offset: number, size: number) => Promise<Uint8Array>}} file the GGUF file
   * @param {object} options plan options (limits, context_size, max_batch, top_k)
   */
  static async load(abi, device, file, options = {}) {
    let prefix = await file.read(0, Math.min(file.size, 1 << 20));
    for (;;) {
      const needed = abi.prefixNeeded(prefix);
      if (needed >= 0 && needed <= prefix.byteLength) break;
      const want = needed >= 0 ? needed : Math.min(file.size, prefix.byteLength * 4);
      if (want <= prefix.byteLength) throw new Error('the GGUF header is truncated');
      prefix = await file.read(0, want);
    }
    const { plan, blob } = abi.planModel(prefix, options);
    const executor = await PlanExecutor.create(device, plan, blob, { onLost: options.onLost });
    await executor.uploadWeights((offset, size) => file.read(offset, size));
    return new GpuModel(executor);
  }

  constructor(executor) {
    this.executor = executor;
    this.plan = executor.plan;
    this.pos = 0;
  }

  /** Processes `tokens` after what the cache holds; returns the last token's candidates. */
  async feed(tokens, { readLogits = false } = {}) {
    let out = null;
    const B = this.plan.max_batch;
    for (let i = 0; i < tokens.length; i += B) {
      const chunk = tokens.slice(i, i + B);
      const last = i + B >= tokens.length;
      // Only the last chunk's result matters; earlier chunks are submitted without waiting.
      if (last) out = await this.executor.forward(chunk, this.pos, { readLogits });
      else this.executor.encode(chunk, this.pos);
      this.pos += chunk.length;
    }
    return out;
  }

  /** Greedy generation: `count` tokens after `prompt` (ids), starting from an empty cache. */
  async greedy(prompt, count, { eos = -1 } = {}) {
    this.pos = 0;
    const out = [];
    let next = (await this.feed(prompt)).ids[0];
    for (let i = 0; i < count; i++) {
      out.push(next);
      if (next === eos || i + 1 === count) break;
      next = (await this.feed([next])).ids[0];
    }
    return out;
  }

  destroy() {
    this.executor.destroy();
  }
}

/** A file on disk as the reader GpuModel.load takes (Node). */
export async function nodeFileReader(path) {
  const fs = await import('node:fs/promises');
  const handle = await fs.open(path, 'r');
  const { size } = await handle.stat();
  return {
    size,
    async read(offset, length) {
      const bytes = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(bytes, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return bytes.subarray(0, done);
    },
    close: () => handle.close(),
  };
}
