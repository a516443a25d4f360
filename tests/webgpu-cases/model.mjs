// Whole models on WebGPU, planned by the core and run by the executor (js/src/gpu), host-neutral:
// tests/js/webgpu-model.test.mjs runs these cases in Node (Dawn), tests/browser/webgpu.test.mjs in a Chromium
// page. Each case is {name, run(ctx)}; ctx gives what differs between hosts:
//   abi (DevAbi of js/src/core/dev.mjs), module (the development module), device, limits (plan limits of the device),
//   openModel(name) → a file reader {size, read(offset, size), close()} for build/models/NAME.gguf, or null,
//   modelBytes(name) → the whole file (Uint8Array) or null, reference() → greedy_reference.jsonl rows,
//   requestDevice() → a fresh {device, limits} (device-loss case), note(line).
import * as assert from './assert.mjs';
import { bindTabllm } from '../../js/src/core/wasm.mjs';
import { GpuModel } from '../../js/src/gpu/model_runner.mjs';
import { planFeatures } from '../../js/src/gpu/limits.mjs';
import { WebgpuRunner } from '../../js/src/runners/webgpu_runner.mjs';

class MissingInput extends Error {}
/** Thrown when a case's model is not built: hosts turn it into a skip (or a failure under TABLLM_TEST_STRICT). */
export { MissingInput };

// The core's header-only model of build/models/NAME.gguf and its GpuModel, planned from that header.
async function loadOnGpu(ctx, name, options = {}, device = ctx.device, limits = ctx.limits) {
  const file = await ctx.openModel(name);
  if (!file) throw new MissingInput(`build/models/${name}.gguf is missing: run scripts/setup.sh`);
  let header = null;
  try {
    header = await bindTabllm(ctx.module).loadModelHeader((offset, size) => file.read(offset, size), file.size);
    const gpu = await GpuModel.load(header, device, file, { max_batch: 16, context_size: 256, ...options, limits: { ...limits, ...options.limits } });
    return { gpu, header };
  } catch (e) {
    header?.free();
    throw e;
  } finally {
    await file.close?.();
  }
}

export async function loadGpuModel(ctx, name, options = {}, device = ctx.device, limits = ctx.limits) {
  const { gpu, header } = await loadOnGpu(ctx, name, options, device, limits);
  header.free();
  return gpu;
}

/**
 * Greedy stories260K of `type` for `count` tokens equal to the reference's first prompt. With `dot8`, every
 * product the whole-unit kernel can take runs it over 8-bit x (matvec_min_units 0), where WGSL offers it,
 * and a verify call over the reference's first 9 tokens (its products through matvec TOKENS, x rounded once
 * by quantize_x) gives the reference's next token at each of them.
 */
export function storiesGreedyCase(type, count, { dot8 = false } = {}) {
  return {
    name: `stories260K ${type}: greedy ${count} tokens on WebGPU equal the reference${dot8 ? ' (8-bit x in every whole-unit product)' : ''}`,
    async run(ctx) {
      const model = await loadGpuModel(ctx, `stories260K-${type}`, dot8 ? { matvec_min_units: 0, verify_batch: 9 } : {});
      try {
        if (dot8) {
          const keys = model.plan.pipelines.map((p) => p.key).filter((k) => k.includes('+dot8'));
          ctx.note(`8-bit x pipelines: ${keys.join(' ') || 'none (no packed_4x8_integer_dot_product here)'}`);
          if (planFeatures(ctx.device).dot8) assert.ok(keys.length >= 3, `8-bit x pipelines: ${keys.join(' ')}`);
        }
        ctx.note(`dispatches per token: decode ${model.executor.dispatchCount('decode')}, prefill ${model.executor.dispatchCount('prefill')}; pipelines ${model.plan.pipelines.length}`);
        const ref = (await ctx.reference())[0];
        const t0 = performance.now();
        const ids = await model.greedy(ref.prompt_ids, count);
        ctx.note(`${count} tokens in ${(performance.now() - t0).toFixed(0)} ms (prefill included)`);
        assert.deepEqual(ids, ref.ids.slice(0, count), `"${ref.prompt}": GPU tokens differ from the reference`);
        if (dot8 && planFeatures(ctx.device).dot8) {
          const keys = model.plan.pipelines.map((p) => p.key);
          assert.ok(keys.some((k) => k.startsWith('matvec+') && k.includes('+tokens')) && keys.some((k) => k.startsWith('quantize_x')), keys.join(' '));
          model.pos = 0;
          await model.feed(ref.prompt_ids);
          const verified = await model.executor.verify(ref.ids.slice(0, 9), ref.prompt_ids.length);
          assert.deepEqual([...verified.ids].slice(0, 8), ref.ids.slice(1, 9), 'the verify call\'s argmax per position differs from the reference');
          ctx.note('verify call of 9 tokens (matvec TOKENS, quantize_x): each position\'s argmax is the reference\'s next token');
        }
        return { prompt: ref.prompt, ids };
      } finally {
        model.destroy();
      }
    },
  };
}

export const splitCase = {
  name: 'stories260K f32 under a 32 KiB binding limit: split output, embedding and FFN matrices give the same tokens',
  async run(ctx) {
    const model = await loadGpuModel(ctx, 'stories260K-f32', { limits: { maxStorageBufferBindingSize: 32768 }, context_size: 128 });
    try {
      const decode = model.plan.decode.map((d) => d.label);
      assert.ok(decode.some((l) => /^output\[1\]/.test(l)), 'the output matrix is split');
      assert.ok(decode.some((l) => /^embed\[1\]/.test(l)), 'the embedding is split');
      assert.ok(decode.some((l) => /gate_up\[1\]/.test(l)), 'the gate/up matrices are split');
      ctx.note(`dispatches per token with splits: ${decode.length}`);
      const ref = (await ctx.reference())[1];
      const ids = await model.greedy(ref.prompt_ids, 24);
      assert.deepEqual(ids, ref.ids.slice(0, 24));
    } finally {
      model.destroy();
    }
  },
};

export const cannotFitCase = {
  name: 'a model that cannot fit is refused before any upload, saying what it needs',
  async run(ctx) {
    const bytes = await ctx.modelBytes('stories260K-f32');
    if (!bytes) throw new MissingInput('build/models/stories260K-f32.gguf is missing: run scripts/setup.sh');
    const header = await bindTabllm(ctx.module).loadModelHeader(async (offset, size) => bytes.subarray(offset, offset + size), bytes.length);
    try {
      assert.throws(() => header.planWebgpu({ limits: { ...ctx.limits, maxStorageBufferBindingSize: 1024, maxBufferSize: 1024 } }), /needs .*bytes.*this device allows/);
    } finally {
      header.free();
    }
  },
};

// Greedy tokens of the WebAssembly CPU engine (scalar kernels): the argmax of the last position's logits.
function cpuGreedy(module, bytes, prompt, count) {
  const tabllm = bindTabllm(module);
  const m = tabllm.loadModel(bytes);
  const session = m.createSession({ kernels: 'scalar', threads: 1 });
  try {
    const ids = [...prompt];
    for (let i = 0; i < count; i++) {
      const logits = session.logits(ids);
      const last = logits.subarray(logits.length - logits.length / ids.length);
      let best = 0;
      for (let j = 1; j < last.length; j++) if (last[j] > last[best]) best = j;
      ids.push(best);
    }
    return ids.slice(prompt.length);
  } finally {
    session.free();
    m.free();
  }
}

// Counts the GPU objects `fn` creates on `device`.
async function countCreated(device, fn) {
  const counts = { createBuffer: 0, createBindGroup: 0, createComputePipeline: 0, createShaderModule: 0, createBindGroupLayout: 0 };
  const saved = {};
  for (const name of Object.keys(counts)) {
    saved[name] = device[name];
    device[name] = function counted(...args) { counts[name]++; return saved[name].apply(this, args); };
  }
  try {
    await fn();
  } finally {
    for (const name of Object.keys(counts)) device[name] = saved[name];
  }
  return counts;
}

// Steps counted each way for "nothing is created per token": four times the executor's readback slots (4),
// so a creation per token, per slot reuse or per chained step shows (a token costs about a second on
// SwiftShader).
const COUNTED_STEPS = 16;

/**
 * tiny-ARCH of `type` (f32 unless given; the CPU's scalar path decodes the same values the GPU does): 32 greedy
 * tokens equal the CPU's; with countObjects, no GPU object is created per token.
 */
export function cpuParityCase(arch, { countObjects = false, type = 'f32' } = {}) {
  return {
    name: `tiny-${arch} ${type}: 32 greedy tokens on WebGPU equal the CPU's${countObjects ? '; nothing is created per token' : ''}`,
    async run(ctx) {
      const bytes = await ctx.modelBytes(`tiny-${arch}-${type}`);
      if (!bytes) throw new MissingInput('synthetic models missing: run scripts/setup.sh');
      const prompt = [1, 17, 42, 7, 99];
      const cpu = cpuGreedy(ctx.module, bytes, prompt, 32);
      const model = await loadGpuModel(ctx, `tiny-${arch}-${type}`);
      try {
        const gpu = await model.greedy(prompt, 32);
        assert.deepEqual(gpu, cpu);
        if (!countObjects) return;
        const counts = await countCreated(ctx.device, async () => {
          // Steps read back one by one, then chained steps (each submitted before the last is read): each
          // way, every readback slot is taken and given back several times over.
          let next = gpu[gpu.length - 1];
          for (let i = 0; i < COUNTED_STEPS; i++) next = (await model.feed([next])).ids[0];
          let chained = 0;
          for await (const token of model.greedyStream([next])) if (++chained === COUNTED_STEPS) break;
        });
        ctx.note(`objects created over ${2 * COUNTED_STEPS} tokens: ${JSON.stringify(counts)}; dispatches per token ${model.executor.dispatchCount('decode')}`);
        assert.deepEqual(Object.values(counts), [0, 0, 0, 0, 0], 'GPU objects created per token');
      } finally {
        model.destroy();
      }
    },
  };
}

/**
 * tiny-ARCH f32 with an f32 KV cache of `context` positions on both sides (LongRoPE picks its factors by it):
 * after a 20-token prompt (two prefill chunks of the plan's 16), `count` greedy tokens on WebGPU equal the
 * CPU's (scalar kernels) and every step's logits are close to the CPU's. The tiny gemma2/gemma3 windows are
 * 8 positions, so they slide in prefill and in decode.
 */
export function archParityCase(arch, { context = 256, count = 6, what = '' } = {}) {
  return {
    name: `tiny-${arch} f32${what}: ${count} greedy tokens and their logits on WebGPU equal the CPU's`,
    async run(ctx) {
      const name = `tiny-${arch}-f32`;
      const bytes = await ctx.modelBytes(name);
      if (!bytes) throw new MissingInput('synthetic models missing: run scripts/setup.sh');
      const prompt = Array.from({ length: 20 }, (_, i) => (i === 0 ? 1 : 3 + ((i * 37) % 400)));
      const model = await loadGpuModel(ctx, name, { context_size: context, kv_type: 'f32' });
      const gpuIds = [];
      const gpuLogits = [];
      try {
        let out = await model.feed(prompt, { readLogits: true });
        for (;;) {
          gpuIds.push(out.ids[0]);
          gpuLogits.push(out.all);
          if (gpuIds.length === count) break;
          out = await model.feed([out.ids[0]], { readLogits: true });
        }
      } finally {
        model.destroy();
      }
      // The CPU's logits of every position of the same sequence, in one call: row prompt.length - 1 + i is
      // what the CPU samples step i from, given the same earlier tokens.
      const tabllm = bindTabllm(ctx.module);
      const m = tabllm.loadModel(bytes);
      const session = m.createSession({ kernels: 'scalar', threads: 1, contextSize: context, kvType: 'f32' });
      let cpu;
      try {
        cpu = session.logits([...prompt, ...gpuIds.slice(0, -1)]);
      } finally {
        session.free();
        m.free();
      }
      const vocab = gpuLogits[0].length;
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < count; i++) {
        const row = cpu.subarray((prompt.length - 1 + i) * vocab, (prompt.length + i) * vocab);
        let best = 0;
        for (let j = 0; j < vocab; j++) {
          if (row[j] > row[best]) best = j;
          diff = Math.max(diff, Math.abs(gpuLogits[i][j] - row[j]));
          scale = Math.max(scale, Math.abs(row[j]));
        }
        assert.equal(gpuIds[i], best, `step ${i}: the GPU took ${gpuIds[i]}, the CPU ${best}`);
      }
      ctx.note(`${name}${what}: max |gpu - cpu| logit ${diff.toExponential(2)} (largest |logit| ${scale.toFixed(2)}, relative ${(diff / scale).toExponential(2)})`);
      assert.ok(diff / scale < 1e-4, `logits differ by ${diff} (largest ${scale})`);
    },
  };
}

/**
 * Device loss: the device is destroyed while a token is being computed; the pending step and every later one
 * fail saying the device was lost, onLost hears of it, and loading again on a new device generates correctly.
 */
export const deviceLossCase = {
  name: 'device loss mid-generation: the error says so, and a reload on a new device generates correctly',
  async run(ctx) {
    const ref = (await ctx.reference())[0];
    const count = 8;
    const { device, limits } = await ctx.requestDevice();
    let heard = null;
    const model = await loadGpuModel(ctx, 'stories260K-q8_0', { onLost: (error) => { heard = error; } }, device, limits);
    let next = (await model.feed(ref.prompt_ids)).ids[0];
    assert.equal(next, ref.ids[0], 'first token before the loss');
    next = (await model.feed([next])).ids[0];
    const pending = model.feed([next]);
    device.destroy();
    // The step in flight fails; its message depends on whether the mapping or device.lost settles first
    // (Dawn in Node: "device was lost"; Chromium: "Buffer was unmapped before mapping was resolved").
    const error = await assert.rejects(() => pending, /./, 'the step in flight');
    ctx.note(`in flight: ${error.message}`);
    await device.lost;
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.ok(heard && /device was lost/.test(heard.message), `onLost was told: ${heard?.message}`);
    ctx.note(`onLost: ${heard.message}`);
    await assert.rejects(() => model.feed([next]), /device was lost/, 'a step after the loss');
    model.destroy();

    const fresh = await ctx.requestDevice();
    const again = await loadGpuModel(ctx, 'stories260K-q8_0', {}, fresh.device, fresh.limits);
    try {
      assert.deepEqual(await again.greedy(ref.prompt_ids, count), ref.ids.slice(0, count), 'tokens after reloading on a new device');
    } finally {
      again.destroy();
      fresh.device.destroy();
    }
  },
};

/** Whether the engine can run a session whose forward pass the host drives (text from GPU-chosen tokens). */
export function hasHostDrivenSession(module) {
  return typeof module._tabllm_session_create_external === 'function' && typeof module._tabllm_model_load_header === 'function';
}

/**
 * Greedy text on WebGPU: the engine's host-driven session tokenizes, detokenizes and decides when to stop;
 * the GPU runs every forward pass and picks the argmax. Returns {text, ids}.
 */
export async function gpuGreedyText(ctx, name, gpu, prompt, maxTokens) {
  const file = await ctx.openModel(name);
  const tabllm = bindTabllm(ctx.module);
  let header;
  try {
    header = await tabllm.loadModelHeader((offset, size) => file.read(offset, size), file.size);
  } finally {
    await file.close?.();
  }
  const session = header.createExternalSession({ contextSize: gpu.plan.context_size });
  try {
    session.begin(prompt, { max_tokens: maxTokens, temperature: 0 });
    let text = '';
    const ids = [];
    for (;;) {
      const { tokens, pos } = session.pending();
      let chunk;
      if (tokens.length === 0) chunk = session.advance(null);
      else {
        gpu.pos = pos;
        const { ids: best } = await gpu.feed(Array.from(tokens));
        ids.push(best[0]);
        chunk = session.advanceToken(best[0]);
      }
      if (chunk === null) break;
      text += chunk;
    }
    return { text, ids };
  } finally {
    session.free();
    header.free();
  }
}

// Structured output on stories260K: formats greedy decoding completes in a few dozen tokens, and how to
// check what came out.
const PET_SCHEMA = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer', minimum: 1, maximum: 12 }, happy: { type: 'boolean' } },
  required: ['name', 'age', 'happy'],
  additionalProperties: false,
};
const SENTENCE = '[A-Z][a-z]+ (saw|had|liked) a [a-z]+\\.';
export const constrainedFormats = {
  json_schema: {
    prompt: 'Once upon a time',
    format: { type: 'json_schema', json_schema: { name: 'pet', schema: PET_SCHEMA } },
    check(text) {
      const value = JSON.parse(text);
      assert.deepEqual(Object.keys(value), ['name', 'age', 'happy'], 'properties in the schema\'s order');
      assert.ok(typeof value.name === 'string' && [...value.name].length <= 12, `name ${JSON.stringify(value.name)}`);
      assert.ok(Number.isInteger(value.age) && value.age >= 1 && value.age <= 12, `age ${value.age}`);
      assert.equal(typeof value.happy, 'boolean', 'happy');
    },
  },
  regex: {
    prompt: 'Once upon a time, there was a little girl named Lily. She loved to play outside.',  // > one prefill batch
    format: { type: 'regex', pattern: SENTENCE },
    check(text) {
      assert.ok(new RegExp(`^(?:${SENTENCE})$`).test(text), `${JSON.stringify(text)} matches ${SENTENCE}`);
    },
  },
};

// Drives a runner's generation to its end: {text, ids, finish}.
async function runToEnd(runner, prompt, params) {
  const request = runner.model.prepare(prompt, params);
  let text = '';
  let step;
  try {
    const run = runner.run(request, {}, { wantTokens: false, shouldStop: () => false });
    while (!(step = await run.next()).done) text += step.value.text;
  } finally {
    request.free();
  }
  const { result } = step.value;
  assert.equal(result.text, text, 'streamed text');
  return { text, ids: result.tokens.map((t) => t.id), finish: result.finish_reason };
}

/**
 * Greedy under a response_format (`kind`: a key of constrainedFormats) through the engine's WebGPU runner —
 * the masked argmax on the GPU, the forward pass run ahead of the core's mask — gives exactly the tokens of
 * the WebAssembly CPU engine under the same format, and output the format accepts. With `again`, a second
 * run of the same request (the prompt's cache reused) gives them again, creating no GPU object.
 */
export function constrainedCase(kind, { again = false } = {}) {
  return {
    name: `stories260K f32: greedy under a ${kind} response_format on WebGPU gives the CPU's tokens${again ? '; nothing is created per token' : ''}`,
    async run(ctx) {
      const bytes = await ctx.modelBytes('stories260K-f32');
      if (!bytes) throw new MissingInput('build/models/stories260K-f32.gguf is missing: run scripts/setup.sh');
      if (typeof ctx.module._tabllm_generate_allowed_tokens !== 'function') {
        throw new MissingInput('the WebAssembly build lacks tabllm_generate_allowed_tokens: rebuild it');
      }
      const { prompt, format, check } = constrainedFormats[kind];
      const params = { max_tokens: 64, temperature: 0, response_format: format };
      const tabllm = bindTabllm(ctx.module);
      const cpuModel = tabllm.loadModel(bytes);
      const cpuSession = cpuModel.createSession({ kernels: 'scalar', threads: 1 });
      let cpu;
      try {
        const r = cpuSession.generate(prompt, params);
        cpu = { text: r.text, ids: r.tokens.map((t) => t.id), finish: r.finish_reason };
      } finally {
        cpuSession.free();
        cpuModel.free();
      }
      const runner = await hostRunner(ctx, 'stories260K-f32');
      try {
        const t0 = performance.now();
        const gpu = await runToEnd(runner, prompt, params);
        ctx.note(`${kind}: ${gpu.ids.length} tokens in ${(performance.now() - t0).toFixed(0)} ms: ${JSON.stringify(gpu.text)}`);
        assert.deepEqual(gpu.ids, cpu.ids, 'GPU tokens differ from the CPU engine\'s');
        assert.equal(gpu.finish, 'stop', 'the format completed');
        check(gpu.text);
        if (!again) return;
        let second;
        const counts = await countCreated(ctx.device, async () => { second = await runToEnd(runner, prompt, params); });
        assert.deepEqual(second.ids, gpu.ids, 'the same request again');
        assert.deepEqual(Object.values(counts), [0, 0, 0, 0, 0], `GPU objects created per token: ${JSON.stringify(counts)}`);
      } finally {
        await runner.destroy();
      }
    },
  };
}

// The engine's WebGPU runner over a GpuModel of build/models/NAME.gguf and a host-driven session.
async function hostRunner(ctx, name) {
  const { gpu, header } = await loadOnGpu(ctx, name);
  const context = gpu.plan.context_size;
  const session = header.createExternalSession({ contextSize: context });
  return new WebgpuRunner(null, header, session, gpu, ctx.device, header.info(), context);
}
