// KV cache types on WebGPU in Node (Dawn; SwiftShader without a GPU), against the CPU with the same type
// (core/backend/cpu/kv_cache.h; the GPU codecs: core/backend/webgpu/wgsl/kv_<type>.wgsl):
// - qkv_post stores the bytes the CPU's KvCache stores (f16 rounded to nearest even; q8_0 scale max|x|/127
//   kept as f16, quants rounded halves away from zero), with q8_0 blocks spanning heads of 8 and cutting
//   through heads of 48; attention (decode split, one pass, tiled prefill) reads them as the CPU decodes them;
// - whole models, stories260K (heads of 8: a q8_0 block spans 4 heads; interleaved RoPE pairs) and tiny-qwen3
//   (heads of 128, q/k norm, RoPE halves): greedy generation driven by the core — a two-chunk prefill (tiled
//   attention), decode steps (split attention), a context shift (decode → rotate → re-encode, on both sides)
//   and steps after it — gives the CPU's tokens and logprobs with the same KV type, and logits far closer to
//   the CPU's than the type's own effect on them;
// - the engine's kvType option reaches both backends (engine.runtime reports it and the bytes a token takes).
// Needs the development module of the WebAssembly build (TABLLM_WASM_DIR, default build-wasm: tabllm-dev.mjs).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { createEngine } from '../../js/src/index.mjs';
import { DevAbi, hasDevExports } from '../../js/src/core/dev.mjs';
import { bindTabllm } from '../../js/src/core/wasm.mjs';
import { PlanExecutor } from '../../js/src/gpu/executor.mjs';
import { GpuModel, nodeFileReader } from '../../js/src/gpu/model_runner.mjs';
import { requestNodeDevice } from '../../js/src/gpu/node_device.mjs';
import { storiesPath } from './api-env.mjs';
import { modelsDir, skipOrFail, storiesModel, synthModel, wasmDir } from './wasm_env.mjs';

const KV_TYPES = ['f32', 'f16', 'q8_0'];
const TYPE_ID = { f32: 0, f16: 1, q8_0: 8 };

let skip = null;
let abi, tabllm, device, limits;
const figures = [];

before(async () => {
  const file = path.join(wasmDir, 'tabllm-dev.mjs');
  if (!fs.existsSync(file)) return void (skip = `${file} is missing: run scripts/build-wasm.sh`);
  const { default: createModule } = await import(pathToFileURL(file));
  const module = await createModule();
  if (!hasDevExports(module) || typeof module._tabllm_ref_quantize !== 'function') {
    return void (skip = `${file} is not the development module of this build: run scripts/build-wasm.sh`);
  }
  abi = new DevAbi(module);
  tabllm = bindTabllm(module);
  try {
    ({ device, limits } = await requestNodeDevice());
  } catch (e) {
    skip = `no WebGPU device: ${e.message}`;
  }
});

after(() => {
  if (figures.length) console.log(`# webgpu-kv figures:\n${figures.map((f) => `#   ${f}`).join('\n')}`);
  device?.destroy();
});

function note(t, line) {
  figures.push(line);
  t.diagnostic(line);
}

let seed = 7;
function random(n, scale = 1) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    a[i] = ((seed >>> 8) / 16777216 * 2 - 1) * scale;
  }
  return a;
}

// Rows of the CPU's cache (quantize_row bytes of `values` floats each) in the GPU's layout: f32 and f16 the
// same bytes; q8_0 blocks of 34 bytes (f16 scale, 32 quants) as 36 (the scale as an f32, then the quants).
function gpuLayout(type, cpuBytes) {
  if (type !== 'q8_0') return cpuBytes;
  const blocks = cpuBytes.length / 34;
  const out = new Uint8Array(blocks * 36);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    view.setFloat32(b * 36, abi.dequantize(TYPE_ID.f16, cpuBytes.subarray(b * 34, b * 34 + 2), 1)[0], true);
    out.set(cpuBytes.subarray(b * 34 + 2, b * 34 + 34), b * 36 + 4);
  }
  return out;
}

const gpuRowBytes = (type, values) => ({ f32: 4 * values, f16: 2 * values, q8_0: (values / 32) * 36 })[type];

async function runOp(spec, inputs, outputs, pos) {
  const { plan, blob } = abi.planOp(spec);
  const ex = await PlanExecutor.create(device, plan, blob);
  try {
    for (const [name, data] of Object.entries(inputs)) ex.writeBuffer(name, data);
    await ex.run(new Array(spec.n_tokens).fill(0), pos);
    const out = {};
    for (const name of outputs) out[name] = new Uint8Array(await ex.readBuffer(name));
    return out;
  } finally {
    ex.destroy();
  }
}

// Values whose rounding each codec must get exactly right, spread over a row: f16 ties (to even, also among
// subnormals), q8_0 blocks whose quants are exact halves (d = 1), an all-zero block and one whose scale is an
// f16 subnormal; the rest random over magnitudes 2^-20 .. 2^8.
function trickyRow(n) {
  const row = random(n);
  for (let i = 0; i < n; i++) row[i] *= 2 ** ((i * 7) % 29 - 20);
  const special = [1 + 2 ** -11, 1 + 3 * 2 ** -11, -(2 + 2 ** -10), 2 ** -25, 3 * 2 ** -25, 65519, 6.1e-5, -1e-7];
  for (let i = 0; i < special.length && i < n; i++) row[i] = special[i];
  if (n >= 96) {
    const halves = [127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -3.5, 4.5];
    for (let i = 0; i < 32; i++) row[32 + i] = i < halves.length ? halves[i] : (i % 5) - 2;
    for (let i = 0; i < 32; i++) row[64 + i] = 0;
  }
  if (n >= 128) for (let i = 0; i < 32; i++) row[96 + i] = ((i % 9) - 4) * 2.5e-4;
  return row;
}

test('qkv_post stores each KV type bit for bit as the CPU cache does; q8_0 blocks across and through heads', async (t) => {
  if (skip) return skipOrFail(t, skip);
  // Heads of 8 (stories260K: a q8_0 block holds four), of 48 (blocks cut through heads), of 128.
  const shapes = [{ nHeads: 8, nKv: 4, hd: 8 }, { nHeads: 4, nKv: 2, hd: 48 }, { nHeads: 2, nKv: 1, hd: 128 }];
  const nTokens = 3;
  const pos = 2;
  for (const { nHeads, nKv, hd } of shapes) {
    const kvDim = nKv * hd;
    const qkvDim = (nHeads + 2 * nKv) * hd;
    const context = pos + nTokens + 1;
    const qkv = random(nTokens * qkvDim, 3);
    const rows = [];  // [token][k, v]
    for (let tt = 0; tt < nTokens; tt++) {
      const k = trickyRow(kvDim);
      const v = trickyRow(kvDim).map((x) => -x * 0.75);
      qkv.set(k, tt * qkvDim + nHeads * hd);
      qkv.set(v, tt * qkvDim + nHeads * hd + kvDim);
      rows.push([k, v]);
    }
    for (const type of KV_TYPES) {
      // rope_dims 0: no rotation, so the cache gets exactly the values of the qkv rows.
      const spec = { op: 'qkv_post', n_heads: nHeads, n_kv_heads: nKv, head_dim: hd, rope_dims: 0, halves: false, n_tokens: nTokens, context, flags: [], kv_type: type };
      const out = await runOp(spec, { qkv }, ['k', 'v'], pos);
      const rowBytes = gpuRowBytes(type, kvDim);
      for (let tt = 0; tt < nTokens; tt++) {
        for (const [which, name] of [[0, 'k'], [1, 'v']]) {
          const want = gpuLayout(type, abi.quantize(TYPE_ID[type], rows[tt][which]));
          const got = out[name].subarray((pos + tt) * rowBytes, (pos + tt + 1) * rowBytes);
          const first = got.findIndex((b, i) => b !== want[i]);
          assert.equal(first, -1, `${type} hd=${hd} token ${tt} ${name}: byte ${first} is ${got[first]}, the CPU's ${want[first]}`);
        }
      }
      // Untouched positions stay zero.
      assert.ok(out.k.subarray(0, pos * rowBytes).every((b) => b === 0), `${type} hd=${hd}: rows before pos untouched`);
    }
  }
});

test('decode attention doing qkv_post\'s work (POST) stores the bytes qkv_post stores and gives the output of the two dispatches', async (t) => {
  if (skip) return skipOrFail(t, skip);
  // Each KV type, GQA, RoPE pairs and halves, bias and q/k norms, the new position in a middle slice and
  // in the first (most slices empty), a sliding window.
  const cases = [
    { nHeads: 4, nKv: 2, hd: 64, pos: 70, splits: 4, halves: false, flags: [] },
    { nHeads: 8, nKv: 2, hd: 128, pos: 3, splits: 32, halves: true, flags: ['BIAS'] },
    { nHeads: 4, nKv: 1, hd: 64, pos: 40, splits: 8, halves: true, flags: ['QKNORM'], window: 16 },
  ];
  for (const type of KV_TYPES) {
    for (const { nHeads, nKv, hd, pos, splits, halves, flags, window = 0 } of cases) {
      const context = pos + 3;
      const kvDim = nKv * hd;
      const qkvDim = (nHeads + 2 * nKv) * hd;
      const qkv = random(qkvDim, 2);
      const bias = random(qkvDim, 0.5);
      const qknorm = random(2 * hd, 1.5);
      const rope = abi.ropeTable(context, hd, 10000, null, 1, 1);
      const k = gpuLayout(type, abi.quantize(TYPE_ID[type], random(context * kvDim, 1)));
      const v = gpuLayout(type, abi.quantize(TYPE_ID[type], random(context * kvDim, 1)));
      const shape = { n_heads: nHeads, n_kv_heads: nKv, head_dim: hd, rope_dims: hd, halves, n_tokens: 1, context, flags, kv_type: type };
      const attention = { ...shape, op: 'attention', tq: 1, splits, window };
      const two = await runOp({ ...shape, op: 'qkv_post' }, { qkv, bias, qknorm, rope, k, v }, ['qkv', 'k', 'v'], pos);
      const want = await runOp(attention, { qkv: two.qkv, k: two.k, v: two.v }, ['out'], pos);
      const got = await runOp({ ...attention, post: true }, { qkv, bias, qknorm, rope, k, v }, ['out', 'k', 'v'], pos);
      const name = `${type} h=${nHeads}/${nKv} hd=${hd} pos=${pos} splits=${splits}${halves ? ' halves' : ''} ${flags.join('+')}${window ? ` window=${window}` : ''}`;
      for (const which of ['k', 'v']) {
        const first = got[which].findIndex((b, i) => b !== two[which][i]);
        assert.equal(first, -1, `${name}: ${which} cache byte ${first} is ${got[which][first]}, qkv_post's ${two[which][first]}`);
      }
      const a = new Float32Array(got.out.buffer, 0, nHeads * hd), b = new Float32Array(want.out.buffer, 0, nHeads * hd);
      const first = a.findIndex((x, i) => x !== b[i]);
      assert.equal(first, -1, `${name}: output ${first} is ${a[first]}, the two dispatches' ${b[first]}`);
    }
  }
});

test('attention reads f16 and q8_0 caches as the CPU decodes them: decode (split and one pass) and tiled prefill', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const cases = [
    { nHeads: 8, nKv: 4, hd: 8, nTokens: 1, pos: 40, tq: 1, splits: 4 },   // stories260K's shape
    { nHeads: 4, nKv: 2, hd: 48, nTokens: 1, pos: 70, tq: 1, splits: 0 },
    { nHeads: 4, nKv: 2, hd: 64, nTokens: 7, pos: 60, tq: 4, splits: 0 },  // a partial query tile across a chunk edge
    { nHeads: 2, nKv: 1, hd: 128, nTokens: 5, pos: 3, tq: 4, splits: 0 },
  ];
  for (const type of ['f16', 'q8_0']) {
    for (const { nHeads, nKv, hd, nTokens, pos, tq, splits } of cases) {
      const context = pos + nTokens + 2;
      const kvDim = nKv * hd;
      const qkvDim = (nHeads + 2 * nKv) * hd;
      const qkv = random(nTokens * qkvDim, 1);
      const kBytes = abi.quantize(TYPE_ID[type], random(context * kvDim, 1));
      const vBytes = abi.quantize(TYPE_ID[type], random(context * kvDim, 1));
      const k = abi.dequantize(TYPE_ID[type], kBytes, context * kvDim);
      const v = abi.dequantize(TYPE_ID[type], vBytes, context * kvDim);
      const scale = Math.fround(1 / Math.sqrt(hd));
      const ref = abi.attention(qkv, qkvDim, nTokens, nHeads, nKv, hd, k, v, pos, { scale });
      const spec = { op: 'attention', n_heads: nHeads, n_kv_heads: nKv, head_dim: hd, n_tokens: nTokens, context, tq, splits, scale, kv_type: type };
      const out = await runOp(spec, { qkv, k: gpuLayout(type, kBytes), v: gpuLayout(type, vBytes) }, ['out'], pos);
      const gpu = new Float32Array(out.out.buffer, 0, ref.length);
      let diff = 0;
      let max = 0;
      for (let i = 0; i < ref.length; i++) {
        diff = Math.max(diff, Math.abs(gpu[i] - ref[i]));
        max = Math.max(max, Math.abs(ref[i]));
      }
      const name = `attention ${type} h=${nHeads}/${nKv} hd=${hd} n=${nTokens} pos=${pos} tq=${tq}${splits ? ` splits=${splits}` : ''}`;
      note(t, `${name}: ${(diff / max).toExponential(2)}`);
      assert.ok(diff / max < 1e-5, `${name}: relative error ${diff / max}`);
    }
  }
});

// The core's header-only model of build/models/NAME.gguf on the GPU with a KV cache of `kvType`.
async function loadGpu(name, options) {
  const file = await nodeFileReader(path.join(modelsDir, `${name}.gguf`));
  const header = await tabllm.loadModelHeader((offset, size) => file.read(offset, size), file.size);
  try {
    const gpu = await GpuModel.load(header, device, file, { limits, ...options });
    return { gpu, header };
  } catch (e) {
    header.free();
    throw e;
  } finally {
    await file.close();
  }
}

const MODELS = {
  stories260K: () => ({ name: 'stories260K-f32', bytes: storiesModel('f32') }),
  'tiny-qwen3': () => ({ name: 'tiny-qwen3-f32', bytes: synthModel('tiny-qwen3', 'f32') }),
};

// Max |a - b| and the largest |b|.
function logitDiff(a, b) {
  let diff = 0;
  let max = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    max = Math.max(max, Math.abs(b[i]));
  }
  return { diff, max };
}

// Greedy with logprobs through the host-driven session on the GPU, as the WebgpuRunner's sampled step runs it: the
// core plans every shift, the GPU runs it (kv_shift.wgsl) before the next forward call. Returns the core's
// result and the logits of every step before the first shift.
async function gpuGenerate(gpu, header, prompt, params) {
  const session = header.createExternalSession({ contextSize: gpu.plan.context_size });
  const rows = [];
  let shifted = false;
  try {
    session.begin(prompt, params);
    for (;;) {
      const { tokens, pos, shift } = session.pending();
      let chunk;
      if (tokens.length === 0) chunk = session.advance(null);
      else {
        if (shift) {
          gpu.executor.shift(shift);
          shifted = true;
        }
        gpu.pos = pos;
        const { all } = await gpu.feed(Array.from(tokens), { readLogits: true });
        if (!shifted) rows.push(all);
        chunk = session.advance(all);
      }
      if (chunk === null) break;
    }
    return { result: session.result(), rows };
  } finally {
    session.free();
  }
}

// GPU logits against the CPU's with the same type, relative to the largest: a rounded cache may round a value
// the other way where the two sides' values differ by their float noise.
const PARITY_BOUND = { f16: 1e-3, q8_0: 1e-3 };

// Few tokens: SwiftShader takes about a second a forward call on a loaded 2-core machine.
for (const model of Object.keys(MODELS)) {
  test(`${model}: greedy on WebGPU with f16 and q8_0 caches, across a context shift, gives the CPU's tokens, logprobs and logits with that type`, async (t) => {
    if (skip) return skipOrFail(t, skip);
    const { name, bytes } = MODELS[model]();
    // A prompt of 5 tokens in two prefill chunks (tiled attention over the first chunk's rows), decode steps
    // (split attention) up to the context of 8, a shift (4 kept, 2 dropped, 2 moved), 2 steps after it.
    const context = 8;
    const prompt = 'Once upon a time';
    const params = { max_tokens: 6, temperature: 0, logit_bias: { 1: -100, 2: -100 }, logprobs: 3 };
    const cpuModel = tabllm.loadModel(bytes);
    try {
      const promptIds = Array.from(cpuModel.tokenize(prompt, true));
      assert.equal(promptIds.length, 5, 'prompt tokens');
      const cpuLogits = (type, ids) => {
        const session = cpuModel.createSession({ kernels: 'scalar', threads: 1, contextSize: context, kvType: type });
        try {
          return session.logits(ids);
        } finally {
          session.free();
        }
      };
      for (const type of ['f16', 'q8_0']) {
        const { gpu, header } = await loadGpu(name, { context_size: context, max_batch: 4, kv_type: type });
        let result, rows;
        try {
          assert.equal(gpu.plan.kv_type, type);
          ({ result, rows } = await gpuGenerate(gpu, header, prompt, params));
        } finally {
          gpu.destroy();
          header.free();
        }
        const session = cpuModel.createSession({ kernels: 'scalar', threads: 1, contextSize: context, kvType: type });
        let cpu;
        try {
          cpu = session.generate(prompt, params);
        } finally {
          session.free();
        }
        const ids = result.tokens.map((x) => x.id);
        assert.equal(result.context_shifts, 1, `${type}: shifts`);
        assert.equal(cpu.context_shifts, 1);
        assert.deepEqual(ids, cpu.tokens.map((x) => x.id), `${type}: tokens`);
        let lp = 0;
        result.tokens.forEach((x, i) => {
          lp = Math.max(lp, Math.abs(x.logprob - cpu.tokens[i].logprob));
          x.top_logprobs.forEach((a, j) => { lp = Math.max(lp, Math.abs(a.logprob - cpu.tokens[i].top_logprobs[j].logprob)); });
        });
        // The logits of the steps before the shift, against the CPU's over the same tokens with this type and with f32.
        const seq = [...promptIds, ...ids.slice(0, rows.length - 1)];
        const vocab = rows[0].length;
        const gpuRows = new Float32Array(rows.length * vocab);
        rows.forEach((r, i) => gpuRows.set(r, i * vocab));
        const from = (promptIds.length - 1) * vocab;
        const same = cpuLogits(type, seq).subarray(from);
        const { diff, max } = logitDiff(gpuRows, same);
        const effect = logitDiff(same, cpuLogits('f32', seq).subarray(from)).diff;
        note(t, `${model} ${type}: ${rows.length} steps before the shift, max |gpu - cpu| logit ${diff.toExponential(2)} (relative ${(diff / max).toExponential(2)}), ` +
          `the type's own effect (cpu ${type} - cpu f32) ${effect.toExponential(2)}; ${ids.length} tokens across the shift, max |logprob gpu - cpu| ${lp.toExponential(2)}; ` +
          `KV ${gpu.plan.kv_bytes_per_token} B/token`);
        assert.ok(diff / max < PARITY_BOUND[type], `${type}: logits differ by ${diff} (largest ${max})`);
        assert.ok(diff < effect / 2, `${type}: GPU vs CPU ${diff} is not well below the type's own effect ${effect}`);
        assert.ok(lp < 1e-2, `${type}: logprobs differ by ${lp}`);
      }
    } finally {
      cpuModel.free();
    }
  });
}

test('kv_type: unknown names and q8_0 rows that are not whole blocks are refused, saying what to use', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const bytes = storiesModel('f32');
  const header = await tabllm.loadModelHeader(async (offset, size) => bytes.subarray(offset, offset + size), bytes.length);
  try {
    assert.throws(() => header.planWebgpu({ kv_type: 'q4_0' }), /unknown KV cache type "q4_0" \(f32, f16, q8_0\)/);
    const sizes = {};
    for (const type of KV_TYPES) {
      const { plan } = header.planWebgpu({ kv_type: type, context_size: 64 });
      assert.equal(plan.kv_type, type);
      sizes[type] = plan.kv_bytes_per_token;
    }
    // stories260K: 5 layers, keys and values of 32 values a position.
    assert.deepEqual(sizes, { f32: 5 * 2 * 32 * 4, f16: 5 * 2 * 32 * 2, q8_0: 5 * 2 * 36 });
    assert.equal(header.planWebgpu({}).plan.kv_type, 'f16', 'the default');
  } finally {
    header.free();
  }
  assert.throws(() => abi.planOp({ op: 'attention', n_heads: 2, n_kv_heads: 1, head_dim: 48, n_tokens: 1, context: 4, kv_type: 'q8_0' }),
    /q8_0 KV cache needs key\/value rows of a multiple of 32 values; this model's have 48 \(use kv type f16\)/);
});

test('the engine\'s kvType reaches both backends: runtime reports the type and its bytes per token', async (t) => {
  if (skip) return skipOrFail(t, skip);
  // stories260K: 5 layers, keys and values of 32 values a position.
  const want = { webgpu: { f16: 640, q8_0: 360 }, wasm: { f16: 640, q8_0: 340 } };
  for (const [backend, kvType] of [['webgpu', 'q8_0'], ['wasm', 'q8_0'], ['wasm', undefined]]) {
    const engine = await createEngine({ model: storiesPath(), backend, wasmVariant: 'single', contextSize: 64, kvType });
    try {
      const { runtime } = engine;
      assert.equal(runtime.backend, backend);
      assert.equal(runtime.kvType, kvType ?? 'f16');
      assert.equal(runtime.kvBytesPerToken, want[backend][kvType ?? 'f16'], `${backend} ${kvType}`);
    } finally {
      await engine.unload();
    }
  }
  await assert.rejects(createEngine({ model: storiesPath(), backend: 'wasm', kvType: 'q4_0' }), /kvType must be "f16", "q8_0" or "f32"/);
});
