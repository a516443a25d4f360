// Per-op parity of the WebGPU kernels (core/backend/webgpu/wgsl) against the scalar C++ reference compiled
// to WebAssembly (wasm/abi_reference.cpp), on random inputs, through the same plan executor the models use.
// Host-neutral: tests/js/webgpu-ops.test.mjs runs these cases in Node (Dawn), tests/browser/webgpu.test.mjs
// in a Chromium page. Each case is {name, run(ctx)} with ctx = {abi: WebgpuAbi, device: GPUDevice,
// note(line)}; run throws when a result is out of bounds.
//
// Error measure: max |gpu - ref| / max |ref| over each output. The kernels decode exactly the values the
// reference decodes; only f32 summation order differs, so every bound below is a few ulps of the
// accumulated magnitude.
import * as assert from './assert.mjs';
import { PlanExecutor } from '../../js/src/gpu/executor.mjs';
import { planFeatures } from '../../js/src/gpu/limits.mjs';

// GGUF type ids and the relative error bound of a matrix product with each.
export const TYPES = {
  f32: { id: 0, bound: 2e-6 },
  f16: { id: 1, bound: 2e-6 },
  bf16: { id: 30, bound: 2e-6 },
  q8_0: { id: 8, bound: 2e-6 },
  q4_0: { id: 2, bound: 2e-6 },
  q4_1: { id: 3, bound: 2e-6 },
  q5_0: { id: 6, bound: 2e-6 },
  q5_1: { id: 7, bound: 2e-6 },
  iq4_nl: { id: 20, bound: 2e-6 },
  q2_k: { id: 10, bound: 2e-6 },
  q3_k: { id: 11, bound: 2e-6 },
  q4_k: { id: 12, bound: 2e-6 },
  q5_k: { id: 13, bound: 2e-6 },
  q6_k: { id: 14, bound: 2e-6 },
  iq4_xs: { id: 23, bound: 2e-6 },
};
// Types with 256-value super-blocks.
const K_QUANTS = new Set(['q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'iq4_xs']);
export const NORM_BOUND = 1e-5;   // fused RMSNorm: the reference sums squares in double
export const ROPE_BOUND = 1e-5;   // q/k post-processing (bias, q/k norm, RoPE from the core's table)
export const ATTN_BOUND = 1e-5;   // online softmax vs. two-pass softmax
const EPS = 1e-5;

let seed = 1;
function random(n, scale = 1) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    a[i] = ((seed >>> 8) / 16777216 * 2 - 1) * scale;
  }
  return a;
}

function relError(gpu, ref) {
  assert.equal(gpu.length, ref.length, 'output length');
  let diff = 0;
  let max = 0;
  for (let i = 0; i < ref.length; i++) {
    assert.ok(Number.isFinite(gpu[i]), `gpu[${i}] = ${gpu[i]}`);
    diff = Math.max(diff, Math.abs(gpu[i] - ref[i]));
    max = Math.max(max, Math.abs(ref[i]));
  }
  return diff / Math.max(max, 1e-30);
}

function check(ctx, name, gpu, ref, bound) {
  const err = relError(gpu, ref);
  ctx.note(`${name}: ${err.toExponential(2)} (bound ${bound})`);
  assert.ok(err <= bound, `${name}: relative error ${err} above ${bound}`);
}

async function runOp(ctx, spec, inputs, outputs, { tokens = null, pos = 0 } = {}) {
  const { plan, blob } = ctx.abi.planOp(spec);
  const ex = await PlanExecutor.create(ctx.device, plan, blob);
  try {
    for (const [name, data] of Object.entries(inputs)) ex.writeBuffer(name, data);
    const n = spec.n_tokens ?? 1;
    await ex.run(tokens ?? new Array(n).fill(0), pos);
    const out = {};
    for (const [name, floats] of Object.entries(outputs)) out[name] = new Float32Array(await ex.readBuffer(name)).slice(0, floats);
    return out;
  } finally {
    ex.destroy();
  }
}

const silu = (v) => v / (1 + Math.exp(-v));

// The types matvec.wgsl decodes whole units of (plan.cpp's matvec_weight_type).
const MATVEC_TYPES = new Set(['q4_0', 'q8_0', 'q4_k', 'q5_k', 'q6_k']);

// x as matvec.wgsl's DOT8 takes it: each unit of 32 values (times g under NORM) rounded to 8-bit integers
// on a scale of max |v| / 127, in the same f32 steps; the result is those integers times the scale, times
// the RMSNorm factor under NORM, so the reference then differs from the kernel by f32 summation only.
function dot8Input(x, g, cols, nTokens, norm) {
  const out = new Float32Array(x.length);
  for (let t = 0; t < nTokens; t++) {
    const row = x.subarray(t * cols, (t + 1) * cols);
    let ss = 0;
    for (const v of row) ss += v * v;
    const scale = norm ? 1 / Math.sqrt(ss / cols + EPS) : 1;
    for (let u = 0; u < cols; u += 32) {
      const v = Array.from({ length: 32 }, (_, i) => (norm ? Math.fround(row[u + i] * g[u + i]) : row[u + i]));
      const m = Math.max(...v.map(Math.abs));
      const inv = m > 0 ? Math.fround(127 / m) : 0;
      const dx = Math.fround(m / 127);
      for (let i = 0; i < 32; i++) out[t * cols + u + i] = roundEven(Math.fround(v[i] * inv)) * dx * scale;
    }
  }
  return out;
}
const roundEven = (v) => (Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v));

async function matmulCase(ctx, { types, rows, cols, nTokens, flags = [], tok = 1, lastOnly = false, softCap = 0, matvecRows = 1, subgroups = false, blocks = false, dot8 = false, pairs = false, severalRows = 0 }) {
  const { abi } = ctx;
  const weights = types.map((ty, i) => abi.randomWeights(TYPES[ty].id, rows[i], cols, 1000 + i * 7 + rows[i]));
  const x = random(nTokens * cols);
  if (dot8) x.fill(0, 0, 32);  // a unit of zeros: scale 0
  const g = random(cols, 1.5);
  const gated = flags.includes('GATED');
  const outRows = gated ? rows[0] : rows.reduce((a, b) => a + b, 0);
  const yTokens = lastOnly ? 1 : nTokens;
  const y0 = random(yTokens * outRows);
  const quantizedX = dot8 && blocks && (tok === 1 || lastOnly || severalRows > 1) && cols % 32 === 0 && types.every((ty) => MATVEC_TYPES.has(ty));
  const xin = quantizedX ? dot8Input(x, g, cols, nTokens, flags.includes('NORM')) : flags.includes('NORM') ? abi.rmsnorm(x, g, cols, nTokens, EPS) : x;
  const parts = types.map((ty, i) => abi.matmul(TYPES[ty].id, weights[i], rows[i], cols, xin, nTokens));
  const gate = flags.includes('GELU') ? abi.geluTanh(parts[0]) : parts[0].map(silu);
  const ref = new Float32Array(yTokens * outRows);
  const t0 = lastOnly ? nTokens - 1 : 0;
  for (let tt = 0; tt < yTokens; tt++) {
    for (let r = 0; r < outRows; r++) {
      let v;
      if (gated) v = gate[(t0 + tt) * rows[0] + r] * parts[1][(t0 + tt) * rows[1] + r];
      else {
        let i = 0;
        let rr = r;
        while (rr >= rows[i]) rr -= rows[i++];
        v = parts[i][(t0 + tt) * rows[i] + rr];
      }
      ref[tt * outRows + r] = (flags.includes('RESIDUAL') ? y0[tt * outRows + r] : 0) + v;
    }
  }
  const want = flags.includes('SOFTCAP') ? abi.softCap(ref, softCap) : ref;
  const inputs = { x, g, y: y0 };
  weights.forEach((w, i) => { inputs[`w${i}`] = w; });
  const spec = { op: 'matmul', types, rows, cols, n_tokens: nTokens, flags, tok, last_only: lastOnly, eps: EPS, soft_cap: softCap, matvec_rows: matvecRows, subgroups, matvec_blocks: blocks, dot8, matvec_pairs: pairs, several_rows: severalRows };
  const { y } = await runOp(ctx, spec, inputs, { y: yTokens * outRows });
  // f32 summation error grows like sqrt(cols): the bounds hold for rows up to 128 values and scale beyond.
  const bound = Math.max(...types.map((ty) => TYPES[ty].bound)) * (flags.includes('NORM') || gated ? NORM_BOUND / TYPES.f32.bound : 1) *
    Math.max(1, Math.sqrt(cols / 128));
  const variant = `${matvecRows > 1 ? ` rows/wg=${matvecRows}` : ''}${severalRows > 1 ? ` several=${severalRows}` : ''}${subgroups ? ' subgroups' : ''}${blocks ? ' blocks' : ''}${pairs ? ' pairs' : ''}${dot8 ? ' dot8' : ''}`;
  check(ctx, `matmul ${types.join('+')} ${rows.join('+')}x${cols} n=${nTokens} tok=${tok} ${flags.join('+') || 'plain'}${lastOnly ? ' last' : ''}${variant}`, y, want, bound);
}

// qkv_post by the scalar reference: tokens pos.. of `qkv` (bias, q/k norms, RoPE), their q heads in place and
// their k and v rows written into copies of the caches kIn, vIn (f32).
function qkvPostRef(abi, { nHeads, nKv, hd, ropeDims, halves, flags, nTokens, pos, factors = null, base = 10000, scale = 1, attnFactor = 1 }, { qkv, bias, qknorm, kIn, vIn }) {
  const qkvDim = (nHeads + 2 * nKv) * hd;
  const kvDim = nKv * hd;
  const q = new Float32Array(qkv);
  const k = new Float32Array(kIn);
  const v = new Float32Array(vIn);
  for (let tt = 0; tt < nTokens; tt++) {
    for (let s = 0; s < nHeads + 2 * nKv; s++) {
      let head = qkv.slice(tt * qkvDim + s * hd, tt * qkvDim + (s + 1) * hd);
      if (flags.includes('BIAS')) head = head.map((x, i) => x + bias[s * hd + i]);
      if (s < nHeads + nKv) {
        if (flags.includes('QKNORM')) head = abi.rmsnorm(head, qknorm.subarray(s < nHeads ? 0 : hd, s < nHeads ? hd : 2 * hd), hd, 1, EPS);
        head = abi.rope(head, 1, hd, ropeDims, halves, pos + tt, base, factors, scale, attnFactor);
      }
      if (s < nHeads) q.set(head, tt * qkvDim + s * hd);
      else if (s < nHeads + nKv) k.set(head, (pos + tt) * kvDim + (s - nHeads) * hd);
      else v.set(head, (pos + tt) * kvDim + (s - nHeads - nKv) * hd);
    }
  }
  return { q, k, v };
}

async function qkvPostCase(ctx, shape) {
  const { abi } = ctx;
  const { nHeads, nKv, hd, ropeDims, halves, flags, nTokens, pos, factors = null, base = 10000, scale = 1, attnFactor = 1 } = shape;
  const context = pos + nTokens + 3;
  const qkvDim = (nHeads + 2 * nKv) * hd;
  const kvDim = nKv * hd;
  const qkv = random(nTokens * qkvDim, 2);
  const bias = random(qkvDim, 0.5);
  const qknorm = random(2 * hd, 1.5);
  const rope = abi.ropeTable(context, ropeDims, base, factors, scale, attnFactor);
  const kIn = random(context * kvDim);
  const vIn = random(context * kvDim);
  const ref = qkvPostRef(abi, shape, { qkv, bias, qknorm, kIn, vIn });
  const spec = { op: 'qkv_post', n_heads: nHeads, n_kv_heads: nKv, head_dim: hd, rope_dims: ropeDims, halves, n_tokens: nTokens, context, flags, eps: EPS };
  const out = await runOp(ctx, spec, { qkv, bias, qknorm, rope, k: kIn, v: vIn }, { qkv: qkv.length, k: kIn.length, v: vIn.length }, { pos });
  const name = `qkv_post h=${nHeads}/${nKv} hd=${hd} rope=${ropeDims}${halves ? ' halves' : ' pairs'}${factors ? ' factors' : ''}${attnFactor !== 1 ? ` attn_factor=${attnFactor}` : ''} ${flags.join('+') || 'plain'}`;
  check(ctx, `${name} q`, out.qkv, ref.q, ROPE_BOUND);
  check(ctx, `${name} k`, out.k, ref.k, ROPE_BOUND);
  check(ctx, `${name} v`, out.v, ref.v, ROPE_BOUND);
}

// The reductions a kernel with a SUBGROUPS variant is checked with: the workgroup tree, and subgroup
// operations where the device has them.
const reductions = (ctx) => (ctx.device.features.has('subgroups') ? [false, true] : [false]);

// Decode attention doing qkv_post's work (attention_split's POST) against qkv_post's reference, then attention's.
async function postAttentionCase(ctx, shape) {
  const { abi } = ctx;
  const { nHeads, nKv, hd, ropeDims, halves, flags, pos, splits, minSlice = 1, window = 0, base = 10000 } = shape;
  const context = pos + 3;
  const qkvDim = (nHeads + 2 * nKv) * hd;
  const kvDim = nKv * hd;
  const qkv = random(qkvDim, 2);
  const bias = random(qkvDim, 0.5);
  const qknorm = random(2 * hd, 1.5);
  const rope = abi.ropeTable(context, ropeDims, base, null, 1, 1);
  const kIn = random(context * kvDim);
  const vIn = random(context * kvDim);
  const ref = qkvPostRef(abi, { ...shape, nTokens: 1 }, { qkv, bias, qknorm, kIn, vIn });
  const scale = Math.fround(1 / Math.sqrt(hd));
  const refOut = abi.attention(ref.q, qkvDim, 1, nHeads, nKv, hd, ref.k, ref.v, pos, { scale, window });
  const spec = { op: 'attention', post: true, n_heads: nHeads, n_kv_heads: nKv, head_dim: hd, rope_dims: ropeDims, halves, n_tokens: 1, context, attn_min_slice: minSlice,
                 flags, eps: EPS, tq: 1, splits, scale, window };
  for (const subgroups of reductions(ctx)) {
    const out = await runOp(ctx, { ...spec, subgroups }, { qkv, bias, qknorm, rope, k: kIn, v: vIn }, { out: refOut.length, k: kIn.length, v: vIn.length }, { pos });
    const name = `attention+qkv_post h=${nHeads}/${nKv} hd=${hd} pos=${pos} splits=${splits}${minSlice > 1 ? ` min_slice=${minSlice}` : ''}${halves ? ' halves' : ' pairs'} ${flags.join('+') || 'plain'}${window ? ` window=${window}` : ''}${subgroups ? ' subgroups' : ''}`;
    check(ctx, `${name} out`, out.out, refOut, ATTN_BOUND);
    check(ctx, `${name} k`, out.k, ref.k, ROPE_BOUND);
    check(ctx, `${name} v`, out.v, ref.v, ROPE_BOUND);
  }
}

async function attentionCase(ctx, { nHeads, nKv, hd, nTokens, pos, tq, splits = 0, minSlice = 1, scale = Math.fround(1 / Math.sqrt(hd)), softCap = 0, window = 0 }) {
  const context = pos + nTokens + 2;
  const qkvDim = (nHeads + 2 * nKv) * hd;
  const kvDim = nKv * hd;
  // Soft-capping only bites on large scores: larger queries then.
  const qkv = random(nTokens * qkvDim, softCap > 0 ? 8 : 1);
  const k = random(context * kvDim, 1);
  const v = random(context * kvDim, 1);
  const ref = ctx.abi.attention(qkv, qkvDim, nTokens, nHeads, nKv, hd, k, v, pos, { scale, softCap, window });
  const spec = { op: 'attention', n_heads: nHeads, n_kv_heads: nKv, head_dim: hd, n_tokens: nTokens, context, tq, splits, attn_min_slice: minSlice, scale, soft_cap: softCap, window };
  // Decode over slices reduces with subgroup operations where the device has them, and without.
  for (const subgroups of splits > 0 ? reductions(ctx) : [false]) {
    const { out } = await runOp(ctx, { ...spec, subgroups }, { qkv, k, v }, { out: ref.length }, { pos });
    const extra = `${splits ? ` splits=${splits}` : ''}${minSlice > 1 ? ` min_slice=${minSlice}` : ''}${softCap ? ` cap=${softCap}` : ''}${window ? ` window=${window}` : ''}`;
    check(ctx, `attention h=${nHeads}/${nKv} hd=${hd} n=${nTokens} pos=${pos} tq=${tq} scale=${scale.toPrecision(3)}${extra}${subgroups ? ' subgroups' : ''}`, out, ref, ATTN_BOUND);
  }
}

/** @type {{name: string, run: (ctx: {abi: any, device: GPUDevice, note: (line: string) => void}) => Promise<void>}[]} */
export const opCases = [];

for (const type of Object.keys(TYPES)) {
  opCases.push({
    name: `matmul ${type}: matrix-vector and matrix-matrix products, fused norm/residual/gate`,
    async run(ctx) {
      const cols = K_QUANTS.has(type) ? 512 : 96;   // 96: three 32-blocks (partial 64-thread stride)
      await matmulCase(ctx, { types: [type], rows: [37], cols, nTokens: 1 });
      await matmulCase(ctx, { types: [type], rows: [37], cols, nTokens: 11, tok: 8 });            // partial token tile
      await matmulCase(ctx, { types: [type], rows: [21], cols, nTokens: 3, tok: 8, flags: ['NORM', 'RESIDUAL'] });
      await matmulCase(ctx, { types: [type, type], rows: [19, 19], cols, nTokens: 2, tok: 8, flags: ['NORM', 'GATED'] });
      // The tiled prefill kernel: partial row and token tiles (64 x 64), fused variants.
      await matmulCase(ctx, { types: [type], rows: [70], cols, nTokens: 67, tok: 64 });
      await matmulCase(ctx, { types: [type], rows: [21], cols, nTokens: 5, tok: 64, flags: ['NORM', 'RESIDUAL'] });
      await matmulCase(ctx, { types: [type, type], rows: [19, 19], cols, nTokens: 9, tok: 64, flags: ['NORM', 'GATED'] });
      if (!K_QUANTS.has(type)) await matmulCase(ctx, { types: [type], rows: [5], cols: 2048 + 32, nTokens: 1 });  // long rows
      if (['f32', 'f16', 'bf16'].includes(type)) {  // cols % 8 == 4 (stories260K's ffn_dim 172)
        await matmulCase(ctx, { types: [type], rows: [9], cols: 172, nTokens: 3, tok: 8, flags: ['RESIDUAL'] });
        await matmulCase(ctx, { types: [type], rows: [9], cols: 172, nTokens: 3, tok: 64, flags: ['RESIDUAL'] });
        await matmulCase(ctx, { types: [type, type], rows: [6, 6], cols: 44, nTokens: 1, flags: ['NORM', 'GATED'] });
      }
    },
  });
}

opCases.push({
  name: 'matmul: Q, K, V of different types as one product; logits of the last token only',
  async run(ctx) {
    await matmulCase(ctx, { types: ['q4_k', 'q6_k', 'q8_0'], rows: [24, 8, 8], cols: 256, nTokens: 5, tok: 8, flags: ['NORM', 'MULTI'] });
    await matmulCase(ctx, { types: ['q4_k', 'q6_k', 'q8_0'], rows: [64, 8, 8], cols: 256, nTokens: 5, tok: 64, flags: ['NORM', 'MULTI'] });
    await matmulCase(ctx, { types: ['q4_0', 'f16', 'bf16'], rows: [16, 8, 8], cols: 64, nTokens: 1, flags: ['MULTI'] });
    // Quantized weights in fused products of one token, blocks at both word alignments.
    await matmulCase(ctx, { types: ['q4_0', 'q8_0', 'q4_0'], rows: [16, 8, 8], cols: 96, nTokens: 1, flags: ['NORM', 'MULTI'] });
    await matmulCase(ctx, { types: ['q8_0', 'q8_0'], rows: [13, 13], cols: 160, nTokens: 1, flags: ['NORM', 'GATED'] });
    await matmulCase(ctx, { types: ['q4_0'], rows: [7], cols: 224, nTokens: 3, flags: ['RESIDUAL'], lastOnly: true });
    await matmulCase(ctx, { types: ['q6_k'], rows: [70], cols: 256, nTokens: 4, flags: ['NORM'], lastOnly: true });
    // Blocks of 18, 22 and 110 bytes (2-byte aligned) beside word-aligned ones in one product.
    await matmulCase(ctx, { types: ['q5_0', 'q3_k', 'iq4_nl'], rows: [16, 8, 8], cols: 256, nTokens: 1, flags: ['NORM', 'MULTI'] });
    await matmulCase(ctx, { types: ['q2_k', 'iq4_xs', 'q5_1'], rows: [16, 8, 8], cols: 256, nTokens: 3, tok: 8, flags: ['NORM', 'MULTI'] });
  },
});

// The decode kernels: several rows per workgroup (row counts that leave the last workgroup partial), with
// the workgroup-memory reduction and, where the device has the feature, with subgroupAdd.
opCases.push({
  name: 'matmul: several rows per workgroup, subgroup reductions (the decode variants)',
  async run(ctx) {
    const reductions = ctx.device.features.has('subgroups') ? [false, true] : [false];
    if (reductions.length === 1) ctx.note('matmul: this device has no subgroups feature; the subgroupAdd variant was not run');
    for (const subgroups of reductions) {
      for (const matvecRows of [1, 2, 4, 8]) {
        const v = { matvecRows, subgroups };
        await matmulCase(ctx, { types: ['q4_0'], rows: [37], cols: 96, nTokens: 1, flags: ['RESIDUAL'], ...v });
        await matmulCase(ctx, { types: ['q4_k', 'q4_k'], rows: [19, 19], cols: 512, nTokens: 1, flags: ['NORM', 'GATED'], ...v });
        await matmulCase(ctx, { types: ['q6_k'], rows: [29], cols: 256, nTokens: 3, flags: ['NORM', 'SOFTCAP'], lastOnly: true, softCap: 0.5, ...v });
        await matmulCase(ctx, { types: ['f16'], rows: [13], cols: 2048 + 32, nTokens: 1, ...v });
      }
      const v = { matvecRows: 2, subgroups };
      await matmulCase(ctx, { types: ['q4_k', 'q6_k', 'q8_0'], rows: [24, 8, 5], cols: 256, nTokens: 1, flags: ['NORM', 'MULTI'], ...v });
      await matmulCase(ctx, { types: ['f32', 'f32'], rows: [6, 6], cols: 44, nTokens: 1, flags: ['NORM', 'GATED', 'GELU'], ...v });
      // Several tokens per workgroup (one row each) with the same reduction.
      await matmulCase(ctx, { types: ['q8_0', 'q8_0'], rows: [19, 19], cols: 160, nTokens: 11, tok: 8, flags: ['NORM', 'GATED'], subgroups });
    }
  },
});

// The whole-block one-token kernel (matvec.wgsl) for every type it decodes: rows of blocks at both word
// alignments (Q4_0, Q8_0 and Q6_K blocks are 2-byte aligned), row counts that leave the last workgroup
// partial, rows of more units than threads, tokens of a step as workgroups; `variant` picks the reduction
// and f32 or 8-bit x.
async function matvecCases(ctx, variant) {
  for (const matvecRows of [1, 4]) {
    const v = { matvecRows, blocks: true, ...variant };
    await matmulCase(ctx, { types: ['q4_0'], rows: [37], cols: 96, nTokens: 1, flags: ['RESIDUAL'], ...v });
    await matmulCase(ctx, { types: ['q8_0', 'q8_0'], rows: [19, 19], cols: 160, nTokens: 1, flags: ['NORM', 'GATED'], ...v });
    await matmulCase(ctx, { types: ['q6_k'], rows: [29], cols: 256, nTokens: 3, flags: ['NORM', 'SOFTCAP'], lastOnly: true, softCap: 0.5, ...v });
    // Q4_K and Q5_K by single units and by pairs (PAIRS; the Q6_K and Q8_0 rows beside them by two units).
    for (const pairs of [false, true]) {
      await matmulCase(ctx, { types: ['q4_k', 'q4_k'], rows: [19, 19], cols: 512, nTokens: 1, flags: ['NORM', 'GATED'], pairs, ...v });
      await matmulCase(ctx, { types: ['q4_k', 'q6_k', 'q8_0'], rows: [24, 8, 5], cols: 256, nTokens: 1, flags: ['NORM', 'MULTI'], pairs, ...v });
      await matmulCase(ctx, { types: ['q5_k'], rows: [11], cols: 512, nTokens: 1, flags: ['RESIDUAL'], pairs, ...v });
    }
    await matmulCase(ctx, { types: ['q4_0'], rows: [5], cols: 2048 + 32, nTokens: 1, ...v });
  }
  const v = { matvecRows: 2, blocks: true, ...variant };
  await matmulCase(ctx, { types: ['q8_0'], rows: [13], cols: 96, nTokens: 3, flags: ['NORM', 'RESIDUAL'], ...v });
  // Several tokens a workgroup (TOKENS, the verify list's products): token counts below, at and past the
  // tile, so the last tile is partial; the head over every token; every type.
  for (const [nTokens, tok] of [[3, 9], [9, 9], [11, 4]]) {
    const s = { severalRows: 4, tok, blocks: true, ...variant };
    await matmulCase(ctx, { types: ['q4_0'], rows: [37], cols: 96, nTokens, flags: ['RESIDUAL'], ...s });
    await matmulCase(ctx, { types: ['q4_k', 'q4_k'], rows: [19, 19], cols: 512, nTokens, flags: ['NORM', 'GATED'], pairs: true, ...s });
    await matmulCase(ctx, { types: ['q4_k', 'q6_k', 'q8_0'], rows: [24, 8, 5], cols: 256, nTokens, flags: ['NORM', 'MULTI'], ...s });
    await matmulCase(ctx, { types: ['q5_k'], rows: [11], cols: 512, nTokens, flags: ['NORM', 'SOFTCAP'], softCap: 0.5, ...s });
  }
  // 16 rows a workgroup (the plans' verify_rows): fewer threads a row, the last workgroup's rows partial.
  const s16 = { severalRows: 16, tok: 9, blocks: true, ...variant };
  await matmulCase(ctx, { types: ['q4_0'], rows: [37], cols: 256, nTokens: 7, flags: ['RESIDUAL'], ...s16 });
  await matmulCase(ctx, { types: ['q6_k', 'q6_k'], rows: [19, 19], cols: 512, nTokens: 9, flags: ['NORM', 'GATED'], ...s16 });
  // A product with a type the kernel has no decoder for runs matmul.wgsl (and f32 x).
  await matmulCase(ctx, { types: ['q4_0', 'f16', 'q4_0'], rows: [16, 8, 8], cols: 64, nTokens: 1, flags: ['MULTI'], ...v });
}

opCases.push({
  name: 'matvec: whole-block one-token products of Q4_0, Q8_0, Q4_K, Q5_K and Q6_K weights',
  async run(ctx) {
    if (reductions(ctx).length === 1) ctx.note('matvec: this device has no subgroups feature; the subgroupAdd variant was not run');
    for (const subgroups of reductions(ctx)) await matvecCases(ctx, { subgroups });
  },
});

// The same kernel over x as 8-bit integers (DOT8, where WGSL offers packed_4x8_integer_dot_product), against
// the reference on x rounded as the kernel rounds it (dot8Input), so each type's integer decoding is checked
// to f32 summation; a unit of zeros (scale 0) among them.
opCases.push({
  name: 'matvec: one-token products over 8-bit x (dot4I8Packed) of Q4_0, Q8_0, Q4_K, Q5_K and Q6_K weights',
  async run(ctx) {
    if (!planFeatures(ctx.device).dot8) {
      ctx.note('matvec dot8: WGSL here has no packed_4x8_integer_dot_product; the 8-bit variant was not run');
      return;
    }
    await matvecCases(ctx, { subgroups: ctx.device.features.has('subgroups'), dot8: true });
  },
});

opCases.push({
  name: 'matmul: GELU-tanh gate (Gemma) in the row and tiled kernels; soft-capped logits (Gemma 2)',
  async run(ctx) {
    await matmulCase(ctx, { types: ['q8_0', 'q8_0'], rows: [19, 19], cols: 96, nTokens: 1, flags: ['NORM', 'GATED', 'GELU'] });
    await matmulCase(ctx, { types: ['f32', 'f32'], rows: [70, 70], cols: 96, nTokens: 9, tok: 64, flags: ['NORM', 'GATED', 'GELU'] });
    // Logits of the last token around and far past the cap.
    await matmulCase(ctx, { types: ['f32'], rows: [50], cols: 96, nTokens: 3, flags: ['NORM', 'SOFTCAP'], lastOnly: true, softCap: 0.5 });
  },
});

opCases.push({
  name: 'embedding lookup of every type',
  async run(ctx) {
    const { abi } = ctx;
    for (const [type, { id }] of Object.entries(TYPES)) {
      const rows = 13;
      const cols = K_QUANTS.has(type) ? 256 : 64;
      const w = abi.randomWeights(id, rows, cols, 77);
      const tokens = [3, 0, 12, 7, 3];
      const rowBytes = abi.rowBytes(id, cols);
      const ref = new Float32Array(tokens.length * cols);
      tokens.forEach((tok, i) => ref.set(abi.dequantize(id, w.subarray(tok * rowBytes, (tok + 1) * rowBytes), cols), i * cols));
      const { y } = await runOp(ctx, { op: 'embed', type, rows, cols, n_tokens: tokens.length }, { w0: w }, { y: ref.length }, { tokens });
      check(ctx, `embed ${type}`, y, ref, 0);
    }
    // Gemma's embedding times sqrt(dim): one f32 product per value, as the CPU does.
    const id = TYPES.q8_0.id;
    const scale = Math.fround(Math.sqrt(2304));
    const w = abi.randomWeights(id, 5, 64, 78);
    const ref = abi.dequantize(id, w.subarray(3 * abi.rowBytes(id, 64), 4 * abi.rowBytes(id, 64)), 64).map((v) => v * scale);
    const { y } = await runOp(ctx, { op: 'embed', type: 'q8_0', rows: 5, cols: 64, n_tokens: 1, scale }, { w0: w }, { y: 64 }, { tokens: [3] });
    check(ctx, `embed q8_0 scale=${scale}`, y, ref, 0);
  },
});

opCases.push({
  name: 'qkv_post: bias, q/k RMSNorm, RoPE (llama pairs, qwen halves, llama3 factors, phi3 partial halves with LongRoPE), KV cache append',
  async run(ctx) {
    await qkvPostCase(ctx, { nHeads: 4, nKv: 2, hd: 16, ropeDims: 16, halves: false, flags: [], nTokens: 3, pos: 5 });
    await qkvPostCase(ctx, { nHeads: 4, nKv: 2, hd: 16, ropeDims: 8, halves: false, flags: [], nTokens: 1, pos: 9 });  // partial RoPE
    await qkvPostCase(ctx, { nHeads: 2, nKv: 1, hd: 128, ropeDims: 128, halves: true, flags: ['BIAS'], nTokens: 2, pos: 40 });
    await qkvPostCase(ctx, { nHeads: 4, nKv: 2, hd: 64, ropeDims: 64, halves: true, flags: ['QKNORM'], nTokens: 3, pos: 7 });
    const factors = Float32Array.from({ length: 8 }, (_, i) => 1 + i * 0.75);
    await qkvPostCase(ctx, { nHeads: 2, nKv: 2, hd: 16, ropeDims: 16, halves: false, flags: [], nTokens: 2, pos: 300, factors, base: 500000, scale: 2 });
    // Phi-3: partial rotary with half pairing (48 of 64 dims), LongRoPE factors and attention factor.
    const longrope = Float32Array.from({ length: 24 }, (_, i) => 1 + 39 * (i / 23) ** 2);
    await qkvPostCase(ctx, { nHeads: 4, nKv: 2, hd: 64, ropeDims: 48, halves: true, flags: [], nTokens: 3, pos: 20, factors: longrope, attnFactor: 1.19 });
    // Gemma's heads of 256, q/k norms (Gemma 3).
    await qkvPostCase(ctx, { nHeads: 2, nKv: 1, hd: 256, ropeDims: 256, halves: true, flags: ['QKNORM'], nTokens: 2, pos: 11, base: 1000000 });
  },
});

opCases.push({
  name: 'attention: decode (single pass and split over the cache) and tiled prefill over the KV cache with GQA',
  async run(ctx) {
    await attentionCase(ctx, { nHeads: 8, nKv: 4, hd: 8, nTokens: 1, pos: 0, tq: 1 });      // stories260K shape, first token
    await attentionCase(ctx, { nHeads: 4, nKv: 2, hd: 16, nTokens: 1, pos: 150, tq: 1 });   // three chunks, the last partial
    await attentionCase(ctx, { nHeads: 4, nKv: 1, hd: 64, nTokens: 7, pos: 60, tq: 4 });    // partial query tile across a chunk edge
    await attentionCase(ctx, { nHeads: 2, nKv: 2, hd: 128, nTokens: 5, pos: 0, tq: 4 });    // prefill from empty, hd > threads
    // Decode split over the cache (attention_split + attention_combine), as model plans run it.
    await attentionCase(ctx, { nHeads: 8, nKv: 4, hd: 8, nTokens: 1, pos: 0, tq: 1, splits: 16 });    // most slices empty
    await attentionCase(ctx, { nHeads: 4, nKv: 2, hd: 16, nTokens: 1, pos: 150, tq: 1, splits: 4 });  // 38 positions a slice
    await attentionCase(ctx, { nHeads: 2, nKv: 1, hd: 128, nTokens: 1, pos: 300, tq: 1, splits: 3 }); // chunks within a slice, hd > threads
    // Several tokens, each in its own workgroups (the verify list): each sees the positions up to its own.
    await attentionCase(ctx, { nHeads: 4, nKv: 2, hd: 16, nTokens: 9, pos: 60, tq: 1, splits: 4 });
    await attentionCase(ctx, { nHeads: 4, nKv: 2, hd: 64, nTokens: 5, pos: 3, tq: 1, splits: 8, window: 6 });
    await attentionCase(ctx, { nHeads: 4, nKv: 2, hd: 64, nTokens: 1, pos: 150, tq: 1, splits: 32, minSlice: 16 });  // 10 slices of 16, 22 empty
  },
});

opCases.push({
  name: 'attention: decode over slices doing qkv_post\'s work (bias, q/k RMSNorm, RoPE, KV append) in the same dispatch',
  async run(ctx) {
    await postAttentionCase(ctx, { nHeads: 8, nKv: 4, hd: 8, ropeDims: 8, halves: false, flags: [], pos: 0, splits: 16 });  // stories260K, first token
    await postAttentionCase(ctx, { nHeads: 4, nKv: 2, hd: 16, ropeDims: 8, halves: false, flags: [], pos: 150, splits: 4 });  // partial RoPE
    await postAttentionCase(ctx, { nHeads: 2, nKv: 1, hd: 128, ropeDims: 128, halves: true, flags: ['BIAS'], pos: 300, splits: 3 });
    await postAttentionCase(ctx, { nHeads: 4, nKv: 2, hd: 64, ropeDims: 64, halves: true, flags: ['QKNORM'], pos: 70, splits: 8, window: 20 });
    await postAttentionCase(ctx, { nHeads: 4, nKv: 2, hd: 64, ropeDims: 64, halves: true, flags: [], pos: 40, splits: 32, minSlice: 16 });  // 3 slices, 29 empty
    await postAttentionCase(ctx, { nHeads: 2, nKv: 1, hd: 256, ropeDims: 256, halves: true, flags: ['BIAS', 'QKNORM'], pos: 33, splits: 32, base: 1000000 });
  },
});

opCases.push({
  name: 'attention: query scale, score soft-capping (Gemma 2), sliding windows (Gemma 2/3), heads of 256',
  async run(ctx) {
    await attentionCase(ctx, { nHeads: 4, nKv: 2, hd: 64, nTokens: 1, pos: 40, tq: 1, splits: 4, scale: 0.05 });
    await attentionCase(ctx, { nHeads: 4, nKv: 2, hd: 64, nTokens: 5, pos: 30, tq: 4, softCap: 2 });
    await attentionCase(ctx, { nHeads: 4, nKv: 2, hd: 64, nTokens: 1, pos: 70, tq: 1, splits: 4, softCap: 2 });
    // Windows: decode split over the window only, single pass, and prefill tiles whose queries' windows
    // start in different places, across chunk edges and from an empty cache.
    await attentionCase(ctx, { nHeads: 4, nKv: 1, hd: 64, nTokens: 1, pos: 150, tq: 1, splits: 8, window: 20 });
    await attentionCase(ctx, { nHeads: 4, nKv: 1, hd: 64, nTokens: 1, pos: 5, tq: 1, splits: 8, window: 8 });     // window not full yet
    await attentionCase(ctx, { nHeads: 4, nKv: 1, hd: 64, nTokens: 1, pos: 150, tq: 1, window: 100 });
    await attentionCase(ctx, { nHeads: 4, nKv: 2, hd: 64, nTokens: 13, pos: 60, tq: 4, window: 8 });
    await attentionCase(ctx, { nHeads: 4, nKv: 2, hd: 64, nTokens: 22, pos: 0, tq: 4, window: 8, softCap: 2 });
    await attentionCase(ctx, { nHeads: 2, nKv: 2, hd: 32, nTokens: 9, pos: 100, tq: 4, window: 70 });           // windows across a chunk edge
    // Gemma's heads of 256: one pass, split and tiled.
    await attentionCase(ctx, { nHeads: 2, nKv: 1, hd: 256, nTokens: 1, pos: 90, tq: 1, splits: 4, scale: 0.0625 });
    await attentionCase(ctx, { nHeads: 2, nKv: 1, hd: 256, nTokens: 6, pos: 20, tq: 4, window: 16 });
  },
});

opCases.push({
  name: 'norm_add: post-attention / post-FFN RMSNorm into the residual stream (Gemma 2/3)',
  async run(ctx) {
    for (const [dim, nTokens] of [[256, 3], [72, 1], [2304, 2]]) {
      const x = random(nTokens * dim, 2);
      const y = random(nTokens * dim, 5);
      const g = random(dim, 1.5);
      const normed = ctx.abi.rmsnorm(y, g, dim, nTokens, EPS);
      const ref = x.map((v, i) => v + normed[i]);
      const out = await runOp(ctx, { op: 'norm_add', dim, n_tokens: nTokens, eps: EPS }, { x, y, g }, { x: x.length });
      check(ctx, `norm_add dim=${dim} n=${nTokens}`, out.x, ref, NORM_BOUND);
    }
  },
});

opCases.push({
  name: 'sample: greedy argmax and ordered top-k on the GPU',
  async run(ctx) {
    const n = 1000;
    const logits = random(n, 10);
    logits[17] = 30;
    logits[400] = 29;
    logits[401] = 29;  // a tie: the lower index ranks first
    logits[999] = 28.5;
    for (const k of [1, 5]) {
      const got = await sampleOnGpu(ctx, logits, k);
      assert.deepEqual(got, sampleReference(logits, k, null), `top-${k}`);
      ctx.note(`sample k=${k}: exact`);
    }
    // Several workgroups' chunks (1,024 logits each) and a partial last one: the best ones in one chunk,
    // ties across chunks (the lower index first), a top-k longer than a chunk's share.
    const wide = random(5000, 10);
    for (const [i, v] of [[4999, 40], [1023, 39], [1024, 39], [3000, 39], [12, 38], [2048, 38], [2049, 37.5]]) wide[i] = v;
    for (const k of [1, 4, 9]) assert.deepEqual(await sampleOnGpu(ctx, wide, k), sampleReference(wide, k, null), `5000 logits, top-${k}`);
    ctx.note('sample over 5 chunks, k = 1, 4, 9: exact');
  },
});

// A bitset of the vocabulary (bit i % 32 of word i / 32), as the core's allowed-token masks.
function maskOf(n, allowed) {
  const words = new Uint32Array(Math.ceil(n / 32));
  for (let i = 0; i < n; i++) if (allowed(i)) words[i >>> 5] |= 1 << (i & 31);
  return words;
}

// The scalar reference: [index, value] of the k best allowed logits, value descending, index ascending.
function sampleReference(logits, k, mask) {
  const ids = [...logits.keys()].filter((i) => !mask || (mask[i >>> 5] >>> (i & 31)) & 1);
  return ids.sort((a, b) => logits[b] - logits[a] || a - b).slice(0, k).map((i) => [i, logits[i]]);
}

async function sampleOnGpu(ctx, logits, k, mask = null) {
  const { plan, blob } = ctx.abi.planOp({ op: 'sample', n: logits.length, k });
  const ex = await PlanExecutor.create(ctx.device, plan, blob);
  try {
    ex.writeBuffer('logits', logits);
    await ex.run([0], 0, 'decode', { mask });
    const words = new Uint32Array(await ex.readBuffer('result'));
    const floats = new Float32Array(words.buffer);
    return Array.from({ length: k }, (_, i) => [words[2 * i], floats[2 * i + 1]]);
  } finally {
    ex.destroy();
  }
}

opCases.push({
  name: 'sample_masked: argmax and top-k over the allowed tokens only (structured output)',
  async run(ctx) {
    const n = 1000;  // not a multiple of 32: the last mask word is partial
    const logits = random(n, 10);
    logits[17] = 30;
    logits[400] = 29;
    logits[401] = 29;
    let s = 7;
    const coin = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 8) % 100;
    const masks = {
      'every token': maskOf(n, () => true),
      'a third, at random': maskOf(n, () => coin() < 33),
      'the best ones barred': maskOf(n, (i) => i !== 17 && i !== 400),
      'a tie left in': maskOf(n, (i) => i === 401 || i === 400 || i === 3),
      'one token': maskOf(n, (i) => i === 999),
      'the last word only': maskOf(n, (i) => i >= 992),
    };
    for (const [what, mask] of Object.entries(masks)) {
      for (const k of [1, 3]) {
        const want = sampleReference(logits, k, mask);
        const got = (await sampleOnGpu(ctx, logits, k, mask)).slice(0, want.length);
        assert.deepEqual(got, want, `${what}, top-${k}`);
      }
    }
    // A llama 3 sized vocabulary with a sparse mask, its winner far from the largest logit.
    const big = random(128256, 10);
    const sparse = maskOf(big.length, (i) => i % 997 === 5 || i === 128255);
    for (const k of [1, 3]) assert.deepEqual(await sampleOnGpu(ctx, big, k, sparse), sampleReference(big, k, sparse), `128256 tokens, top-${k}`);
    // Chunks with no allowed token and with fewer than k: their empty candidates never win.
    const few = maskOf(big.length, (i) => i === 70000 || i === 2 || i === 2050 || i === 2051);
    assert.deepEqual(await sampleOnGpu(ctx, big, 5, few), sampleReference(big, 5, few).concat([[0xffffffff, Math.fround(-3.402823e38)]]), 'fewer allowed than k');
    ctx.note(`sample_masked: exact over ${Object.keys(masks).length} masks x k = 1, 3 and a 128256-token vocabulary`);
  },
});
