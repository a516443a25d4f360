// An embedding model (bert, nomic-bert, Qwen3-Embedding) on WebGPU: the weights go from the file to GPU buffers
// (gpu/encoder.mjs), the WebAssembly heap holds only the header-only model (tokenizer, config).
import { planLimits } from '../gpu/limits.mjs';
import { GpuEncoder } from '../gpu/encoder.mjs';
import { requestWebgpuDevice } from '../capabilities.mjs';
import { startWasm } from '../wasm_module.mjs';
import { uploadReader } from './upload_reader.mjs';

export class WebgpuEmbedRunner {
  /**
   * @param {{size: number, read: (offset: number, length: number) => Promise<Uint8Array>}} source
   * @param {{onProgress?: Function, onLost?: (error: Error) => void, device?: GPUDevice, limits?: Record<string, number>,
   *   maxBatch?: number, powerPreference?: GPUPowerPreference, wasm?: object}} options
   *   maxBatch: tokens per forward pass (2048 unless given); wasm: a lease on a started module
   *   (models/shared.mjs), released when the runner is destroyed
   */
  static async create(source, { onProgress, onLost, device, limits, maxBatch, powerPreference, wasm } = {}) {
    wasm ??= await startWasm({ variant: 'single' });
    let model = null;
    try {
      const heapBefore = wasm.tabllm.heapStats().in_use_bytes;
      model = await wasm.tabllm.loadModelHeader((offset, length) => source.read(offset, length), source.size);
      const info = model.info();
      if (!device) ({ device, limits } = await requestWebgpuDevice({ powerPreference }));
      else limits ??= planLimits(device.limits);
      const reading = uploadReader(source, onProgress);
      const gpu = await GpuEncoder.load(model, device, reading, { limits, onLost, ...(maxBatch ? { max_batch: maxBatch } : {}) });
      const runner = new WebgpuEmbedRunner(wasm, model, gpu, device, info);
      runner.memory = { heap: wasm.tabllm.heapStats().in_use_bytes - heapBefore, gpu: runner.gpuBuffers().reduce((sum, b) => sum + b.size, 0) };
      return runner;
    } catch (e) {
      model?.free();
      wasm.release();
      throw e;
    }
  }

  constructor(wasm, model, gpu, device, info) {
    this.wasm = wasm;
    this.model = model;
    this.gpu = gpu;
    this.device = device;
    this.info = info;
    this.contextSize = info.context;
    this.backend = 'webgpu';
    this.details = { adapter: device.adapterInfo?.description || device.adapterInfo?.vendor || null, maxBatchTokens: gpu.plan.max_batch };
  }

  /** The GPU buffers the model holds; all destroyed by destroy(). */
  gpuBuffers() {
    return this.gpu?.buffers ?? [];
  }

  /** Unit-length embeddings of token-id arrays (GpuEncoder.embed). */
  embed(inputs) {
    return this.gpu.embed(inputs);
  }

  embedTokenize(text) {
    return this.model.embedTokenize(text);
  }

  async destroy() {
    await this.gpu?.queue;  // a call in flight finishes before its buffers go
    this.gpu?.destroy();
    this.model?.free();
    this.gpu = this.model = null;
    this.wasm.release();
  }
}
