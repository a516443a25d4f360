// The development module's exports (wasm/dev/tabllm_dev.h, build-wasm/tabllm-dev.mjs) as JavaScript: the
// scalar reference ops every backend is checked against, per-kernel WebGPU plans and the RoPE table. For
// tests and benchmarks only: the package never loads the development module.
import { CoreAbi, TabllmError } from './wasm.mjs';

/** Whether `module` is the development module (it carries the reference ops). */
export function hasDevExports(module) {
  return typeof module._tabllm_ref_matmul === 'function' && typeof module._tabllm_webgpu_plan_op === 'function';
}

export class DevAbi {
  /** @param {any} module the instantiated development module (build-wasm/tabllm-dev.mjs) */
  constructor(module) {
    if (!hasDevExports(module)) throw new TabllmError('this is not the development module: load build-wasm/tabllm-dev.mjs (scripts/build-wasm.sh builds it)');
    this.abi = new CoreAbi(module);
  }

  /** @returns {{plan: object, blob: Uint8Array}} the plan of one kernel (see plan.h build_op_plan) */
  planOp(spec) {
    return this.abi.takePlan(this.abi.with([JSON.stringify(spec)], (s) => this.abi.m._tabllm_webgpu_plan_op(s)));
  }

  /** The RoPE table of the plans: [position][pair] (cos, sin) times attnFactor, computed by the core. */
  ropeTable(positions, ropeDims, base, factors, linearScale, attnFactor = 1) {
    return this.refOut(positions * ropeDims, [factors], (f, out) =>
      this.abi.m._tabllm_webgpu_rope_table(positions, ropeDims, base, f, linearScale, attnFactor, out));
  }

  rowBytes(type, cols) {
    return this.abi.checkCount(this.abi.m._tabllm_ref_row_bytes(type, cols));
  }

  /** @returns {Uint8Array} rows × cols random weights of GGUF type id `type`, valid blocks */
  randomWeights(type, rows, cols, seed) {
    const size = this.rowBytes(type, cols) * rows;
    const ptr = this.abi.malloc(size);
    try {
      this.abi.checkStatus(this.abi.m._tabllm_ref_random_weights(type, rows, cols, seed >>> 0, ptr));
      return this.abi.heapU8().slice(ptr, ptr + size);
    } finally {
      this.abi.m._free(ptr);
    }
  }

  /** Calls a status export whose last argument is a float output of `outFloats` (optionally filled from `init`). */
  refOut(outFloats, inputs, call, init = null) {
    return this.abi.floatsOut(outFloats, (out) => this.abi.with(inputs, (...ptrs) => this.abi.checkStatus(call(...ptrs, out))), init);
  }

  dequantize(type, bytes, n) {
    return this.refOut(n, [bytes], (src, out) => this.abi.m._tabllm_ref_dequantize(type, src, n, out));
  }

  /** @returns {Uint8Array} the floats `x` encoded as GGUF type id `type` (quantize_row: what the CPU's KV cache stores) */
  quantize(type, x) {
    const size = this.rowBytes(type, x.length);
    const ptr = this.abi.malloc(size);
    try {
      this.abi.with([x], (src) => this.abi.checkStatus(this.abi.m._tabllm_ref_quantize(type, src, x.length, ptr)));
      return this.abi.heapU8().slice(ptr, ptr + size);
    } finally {
      this.abi.m._free(ptr);
    }
  }

  /** y[t][r] = sum_c W[r][c] x[t][c] (cpu::matmul, Path::Scalar) */
  matmul(type, weights, rows, cols, x, nTokens) {
    return this.refOut(rows * nTokens, [weights, x], (w, xp, out) => this.abi.m._tabllm_ref_matmul(type, w, rows, cols, xp, nTokens, out));
  }

  /** The same product with the module's SIMD128 kernels (cpu::matmul, Path::Simd) */
  /** @returns {string[]} the SIMD levels of this engine, best last (scalar, wasm-simd128, wasm-relaxed-simd) */
  simdLevels() {
    return this.abi.string(this.abi.m._tabllm_simd_levels()).split(',');
  }

  /** Every CPU product of the module from now on runs on `level` (one of simdLevels()). */
  useSimdLevel(level) {
    this.abi.checkStatus(this.abi.with([level], (name) => this.abi.m._tabllm_simd_use(name)));
  }

  simdMatmul(type, weights, rows, cols, x, nTokens) {
    return this.refOut(rows * nTokens, [weights, x], (w, xp, out) => this.abi.m._tabllm_simd_matmul(type, w, rows, cols, xp, nTokens, out));
  }

  rmsnorm(x, weight, n, nTokens, eps) {
    return this.refOut(n * nTokens, [x, weight], (xp, wp, out) => this.abi.m._tabllm_ref_rmsnorm(xp, wp, n, nTokens, eps, out));
  }

  /** RoPE of nHeads heads (returns the rotated copy). */
  rope(heads, nHeads, headDim, ropeDims, halves, pos, base, factors, linearScale, attnFactor = 1) {
    const n = nHeads * headDim;
    return this.refOut(n, [factors], (f, out) =>
      this.abi.m._tabllm_ref_rope(out, nHeads, headDim, ropeDims, halves ? 1 : 0, pos, base, f, linearScale, attnFactor), heads);
  }

  /** ops::gelu_tanh of every element. */
  geluTanh(x) {
    return this.refOut(x.length, [x], (xp, out) => this.abi.m._tabllm_ref_gelu_tanh(xp, x.length, out));
  }

  /** ops::soft_cap of every element. */
  softCap(x, cap) {
    return this.refOut(x.length, [x], (xp, out) => this.abi.m._tabllm_ref_soft_cap(xp, x.length, cap, out));
  }

  /** Attention with scores q·k · scale (default 1/sqrt(headDim)), soft-capped (softCap > 0), over the last `window` positions (> 0). */
  attention(q, qStride, nTokens, nHeads, nKvHeads, headDim, k, v, pos, { scale = 1 / Math.sqrt(headDim), softCap = 0, window = 0 } = {}) {
    return this.refOut(nTokens * nHeads * headDim, [q, k, v], (qp, kp, vp, out) =>
      this.abi.m._tabllm_ref_attention(qp, qStride, nTokens, nHeads, nKvHeads, headDim, kp, vp, pos, Math.fround(scale), softCap, window, out));
  }
}
