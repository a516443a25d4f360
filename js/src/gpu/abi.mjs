// The WebGPU exports of the WebAssembly engine (wasm/abi_webgpu.cpp, wasm/abi_reference.cpp) as JavaScript
// functions: heap copies in and out, errors as exceptions. Works with either module (tabllm.mjs or
// tabllm-st.mjs) once it includes those files.

/** Whether `module` (an instantiated Emscripten module) carries the WebGPU exports. */
export function hasWebgpuAbi(module) {
  return typeof module._tabllm_webgpu_plan_model === 'function' && typeof module._tabllm_ref_matmul === 'function';
}

export class WebgpuAbi {
  /** @param {any} module an instantiated tabllm Emscripten module */
  constructor(module) {
    if (!hasWebgpuAbi(module)) {
      throw new Error('this tabllm module lacks the WebGPU exports (wasm/abi_webgpu.cpp, wasm/abi_reference.cpp): rebuild it with them');
    }
    this.m = module;
  }

  /** @returns {Uint8Array} a fresh view of the heap (memory growth replaces the buffer) */
  heap() {
    return new Uint8Array((this.m.wasmMemory ?? this.m.HEAPU8).buffer);
  }

  alloc(size) {
    const ptr = this.m._malloc(Math.max(size, 1));
    if (!ptr) throw new Error(`out of WebAssembly memory allocating ${size} bytes`);
    return ptr;
  }

  /** Copies `bytes` (any typed array) into a new heap block; the caller frees it. */
  copyIn(bytes) {
    const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const ptr = this.alloc(u8.byteLength);
    this.heap().set(u8, ptr);
    return ptr;
  }

  /** Runs fn(...pointers) with strings/typed arrays copied in; frees them afterwards. */
  with(args, fn) {
    const ptrs = [];
    try {
      for (const a of args) {
        if (a === null || a === undefined) ptrs.push(0);
        else if (typeof a === 'string') {
          const n = this.m.lengthBytesUTF8(a) + 1;
          const p = this.alloc(n);
          this.m.stringToUTF8(a, p, n);
          ptrs.push(p);
        } else ptrs.push(this.copyIn(a));
      }
      return fn(...ptrs);
    } finally {
      for (const p of ptrs) if (p) this.m._free(p);
    }
  }

  gpuError() {
    return this.m.UTF8ToString(this.m._tabllm_webgpu_last_error());
  }

  refError() {
    return this.m.UTF8ToString(this.m._tabllm_ref_last_error());
  }

  // ---- plans ----

  /** Leading bytes of the GGUF file the planner needs; -1: the prefix does not hold the whole header. */
  prefixNeeded(prefix) {
    const n = this.with([prefix], (p) => this.m._tabllm_webgpu_prefix_needed(p, prefix.byteLength));
    if (n === -2) throw new Error(this.gpuError());
    return n;
  }

  /** @returns {{plan: object, blob: Uint8Array}} the plan of a model from a prefix of its GGUF file */
  planModel(prefix, options = {}) {
    return this.takePlan(this.with([prefix, JSON.stringify(options)], (p, o) => this.m._tabllm_webgpu_plan_model(p, prefix.byteLength, o)));
  }

  /** @returns {{plan: object, blob: Uint8Array}} the plan of one kernel (see plan.h build_op_plan) */
  planOp(spec) {
    return this.takePlan(this.with([JSON.stringify(spec)], (s) => this.m._tabllm_webgpu_plan_op(s)));
  }

  takePlan(handle) {
    if (!handle) throw new Error(this.gpuError());
    try {
      const plan = JSON.parse(this.m.UTF8ToString(this.m._tabllm_webgpu_plan_json(handle)));
      const ptr = this.m._tabllm_webgpu_plan_blob(handle);
      const size = this.m._tabllm_webgpu_plan_blob_size(handle);
      const blob = this.heap().slice(ptr, ptr + size);
      return { plan, blob };
    } finally {
      this.m._tabllm_webgpu_plan_free(handle);
    }
  }

  // ---- the scalar reference (wasm/abi_reference.cpp) ----

  checkRef(status) {
    if (status !== 0) throw new Error(this.refError());
  }

  rowBytes(type, cols) {
    const n = this.m._tabllm_ref_row_bytes(type, cols);
    if (n < 0) throw new Error(this.refError());
    return n;
  }

  /** @returns {Uint8Array} rows × cols random weights of GGUF type id `type`, valid blocks */
  randomWeights(type, rows, cols, seed) {
    const size = this.rowBytes(type, cols) * rows;
    const ptr = this.alloc(size);
    try {
      this.checkRef(this.m._tabllm_ref_random_weights(type, rows, cols, seed >>> 0, ptr));
      return this.heap().slice(ptr, ptr + size);
    } finally {
      this.m._free(ptr);
    }
  }

  /** Calls a reference op whose last pointer argument is a float output of `outFloats`. */
  refOut(outFloats, inputs, call, init = null) {
    const out = this.alloc(outFloats * 4);
    try {
      if (init) this.heap().set(new Uint8Array(init.buffer, init.byteOffset, init.byteLength), out);
      this.with(inputs, (...ptrs) => this.checkRef(call(...ptrs, out)));
      return new Float32Array(this.heap().buffer.slice(out, out + outFloats * 4));
    } finally {
      this.m._free(out);
    }
  }

  dequantize(type, bytes, n) {
    return this.refOut(n, [bytes], (src, out) => this.m._tabllm_ref_dequantize(type, src, n, out));
  }

  /** y[t][r] = sum_c W[r][c] x[t][c] (cpu::matmul, Path::Scalar) */
  matmul(type, weights, rows, cols, x, nTokens) {
    return this.refOut(rows * nTokens, [weights, x], (w, xp, out) => this.m._tabllm_ref_matmul(type, w, rows, cols, xp, nTokens, out));
  }

  rmsnorm(x, weight, n, nTokens, eps) {
    return this.refOut(n * nTokens, [x, weight], (xp, wp, out) => this.m._tabllm_ref_rmsnorm(xp, wp, n, nTokens, eps, out));
  }

  /** RoPE of nHeads heads in place (returns the rotated copy). */
  rope(heads, nHeads, headDim, ropeDims, halves, pos, base, factors, linearScale) {
    const n = nHeads * headDim;
    return this.refOut(n, [factors], (f, out) => this.m._tabllm_ref_rope(out, nHeads, headDim, ropeDims, halves ? 1 : 0, pos, base, f, linearScale), heads);
  }

  attention(q, qStride, nTokens, nHeads, nKvHeads, headDim, k, v, pos) {
    return this.refOut(nTokens * nHeads * headDim, [q, k, v], (qp, kp, vp, out) =>
      this.m._tabllm_ref_attention(qp, qStride, nTokens, nHeads, nKvHeads, headDim, kp, vp, pos, out));
  }
}

/** The RoPE table of the plans: [position][pair] (cos, sin), computed by the core. */
WebgpuAbi.prototype.ropeTable = function ropeTable(positions, ropeDims, base, factors, linearScale) {
  return this.refOut(positions * ropeDims, [factors], (f, out) => {
    const status = this.m._tabllm_webgpu_rope_table(positions, ropeDims, base, f, linearScale, out);
    if (status !== 0) throw new Error(this.gpuError());
    return 0;
  });
};
