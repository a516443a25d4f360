// The model on WebGPU: weights streamed from the file to GPU buffers (js/src/gpu), never into the
// WebAssembly heap, which holds only the header-only model (tokenizer, config) and a session whose
// forward pass this runner carries out: greedy requests take the GPU's argmax (over the tokens the core
// allows, under a response_format), others read the logits back and let the core sample.
import { planLimits } from '../gpu/limits.mjs';
import { GpuModel } from '../gpu/model_runner.mjs';
import { requestWebgpuDevice } from '../capabilities.mjs';
import { startWasm } from '../wasm_module.mjs';
import { runRequest, stepLoop } from './step_loop.mjs';

export class WebgpuRunner {
  /**
   * @param {{size: number, read: (offset: number, length: number) => Promise<Uint8Array>}} source
   * @param {{contextSize?: number, kvType?: 'f16'|'q8_0'|'f32', onProgress?: Function, onLost?: (error: Error) => void,
   *   device?: GPUDevice, limits?: Record<string, number>, maxBatch?: number, powerPreference?: GPUPowerPreference}} options
   *   powerPreference: the adapter asked for when no device is given (the energy profile's)
   */
  static async create(source, { contextSize, kvType = 'f16', onProgress, onLost, device, limits, maxBatch, powerPreference } = {}) {
    const wasm = await startWasm({ variant: 'single' });
    let gpu = null;
    let model = null;
    try {
      model = await wasm.tabllm.loadModelHeader((offset, length) => source.read(offset, length), source.size);
      const info = model.info();
      const context = Math.min(contextSize || Math.min(info.context, 4096), info.context);
      if (!device) ({ device, limits } = await requestWebgpuDevice({ powerPreference }));
      else limits ??= planLimits(device.limits);
      let uploaded = 0;
      const reading = {
        size: source.size,
        read: async (offset, length) => {
          const bytes = await source.read(offset, length);
          uploaded += bytes.length;
          onProgress?.({ phase: 'upload', loaded: Math.min(uploaded, source.size), total: source.size });
          return bytes;
        },
      };
      const options = { limits, context_size: context, kv_type: kvType, onLost };
      if (maxBatch) options.max_batch = maxBatch;
      gpu = await GpuModel.load(model, device, reading, options);
      const session = model.createExternalSession({ contextSize: context });
      return new WebgpuRunner(wasm, model, session, gpu, device, info, context);
    } catch (e) {
      gpu?.destroy();
      model?.free();
      throw e;
    }
  }

  constructor(wasm, model, session, gpu, device, info, contextSize) {
    this.wasm = wasm;
    this.model = model;
    this.session = session;
    this.gpu = gpu;
    this.device = device;
    this.info = info;
    this.contextSize = contextSize;
    this.backend = 'webgpu';
    this.details = {
      adapter: device.adapterInfo?.description || device.adapterInfo?.vendor || null,
      kvType: gpu.plan.kv_type,
      kvBytesPerToken: gpu.plan.kv_bytes_per_token,
    };
  }

  tokenize(text, addBos) {
    return this.model.tokenize(text, addBos);
  }

  /** Generates a request (see runRequest) with core params (tabllm.h); see stepLoop. */
  run(request, params, control) {
    return runRequest(this.model, request, params, (prepared, startParams) => {
      this.session.start(prepared, startParams);
      return this.session.hostCanSample() ? this.runGreedy(this.session, control) : this.runSampled(this.session, control);
    });
  }

  // Sampling with temperature, penalties, bias or logprobs: the core samples from the logits read back.
  runSampled(session, control) {
    const step = async () => {
      const { tokens, pos, shift } = session.pending();
      if (tokens.length === 0) return session.advance(null);
      let out;
      try {
        if (shift) this.gpu.executor.shift(shift);  // the context was full: the core dropped its older half
        this.gpu.pos = pos;  // the core reuses the cached prefix: run from where it says
        out = await this.gpu.feed(Array.from(tokens), { readLogits: true });
      } catch (e) {
        session.abort();
        throw e;
      }
      return session.advance(out.all);
    };
    return stepLoop(session, step, control);
  }

  // Greedy: the argmax on the GPU (under a response_format, over the tokens the core allows). The
  // forward pass and the sampling go as separate submissions: once token k is read back, the core
  // takes it and works out the mask for the next sampling while the GPU already runs the forward pass
  // over token k (chained: it reads the token on the GPU). Per step:
  //   mask = allowed tokens → submit masked sampling of the pending logits → submit the next forward pass
  //   → await the sampled token → the core takes it.
  runGreedy(session, control) {
    const executor = this.gpu.executor;
    let ahead = null;  // the position whose forward pass was submitted without its sampling
    const step = async () => {
      const { tokens, pos, shift } = session.pending();
      if (tokens.length === 0) return session.advance(null);
      let out;
      try {
        // A shift comes when the context is full, where nothing was run ahead (next < contextSize below).
        if (shift) executor.shift(shift);
        const mask = session.allowedTokens();
        let result;
        if (ahead === pos && tokens.length === 1) result = executor.submitSample(mask);
        else {
          this.gpu.pos = pos;
          result = this.gpu.feed(Array.from(tokens), { mask });  // submits everything before it returns
        }
        result.catch(() => {});  // seen below, unless submitting the next forward pass fails first
        ahead = null;
        const next = pos + tokens.length;
        if (next < this.contextSize) {
          executor.submitForward(null, next, { chained: true });
          ahead = next;
        }
        out = await result;
      } catch (e) {
        session.abort();
        throw e;
      }
      return session.advanceToken(out.ids[0]);
    };
    // A forward pass run ahead maps nothing, but it still finishes before the generation returns (the
    // caller may destroy the device next).
    async function* settled() {
      try {
        return yield* stepLoop(session, step, control);
      } finally {
        if (ahead !== null) await executor.settle();
      }
    }
    return settled();
  }

  async destroy() {
    this.gpu?.destroy();
    this.session?.free();
    this.model?.free();
    this.gpu = this.session = this.model = null;
  }
}
