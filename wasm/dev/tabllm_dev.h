/* The development module's exports (build-wasm/tabllm-dev.mjs): everything of tabllm.h, plus what only
 * tests and benchmarks call. The package never loads this module. Conventions as in tabllm.h: failures
 * return NULL or -1 and tabllm_last_error() says why. Sizes are int (wasm32). */
#ifndef TABLLM_DEV_H
#define TABLLM_DEV_H
#include <stddef.h>
#include <stdint.h>

#include "tabllm.h"
#include "tabllm_grammar.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- WebGPU parity tests (tests/webgpu-cases/ops.mjs) ---- */

/* The plan of one kernel (core/backend/webgpu/plan.h build_op_plan), read and freed as a model's plan. */
TABLLM_API tabllm_webgpu_plan* tabllm_webgpu_plan_op(const char* spec_json);
/* The WGSL of one kernel variant: {"kernel": "matmul", "flags": [...], "weights": ["q4_0"], "constants":
 * {"WG": 64, "TOK": 1}}. Owned by the library until the next call. */
TABLLM_API const char* tabllm_webgpu_kernel(const char* spec_json);
/* The RoPE table the model plans upload: out[positions * rope_dims] = (cos, sin) per position and pair,
 * each times attn_factor; `factors` (rope_dims / 2 floats) may be NULL. Returns 0, or -1. */
TABLLM_API int tabllm_webgpu_rope_table(int positions, int rope_dims, float base, const float* factors, float linear_scale,
                                        float attn_factor, float* out);

/* ---- the scalar reference every backend is checked against (dev/abi_reference.cpp) ---- */

/* Bytes of one row of `cols` elements of GGUF type id `type`. */
TABLLM_API int tabllm_ref_row_bytes(int type, int cols);
/* rows x cols valid random weight blocks of `type` (xorshift32 from `seed`) into `out`. */
TABLLM_API int tabllm_ref_random_weights(int type, int rows, int cols, unsigned seed, uint8_t* out);
/* `n` elements of type `type` at `src` as floats. */
TABLLM_API int tabllm_ref_dequantize(int type, const void* src, int n, float* dst);
/* `n` floats at `src` encoded as `type` (f32, f16, bf16, q8_0, q4_0, ...; n a multiple of its block) into `dst`. */
TABLLM_API int tabllm_ref_quantize(int type, const float* src, int n, void* dst);
/* y[t][r] = sum_c W[r][c] x[t][c] with the scalar CPU kernel. */
TABLLM_API int tabllm_ref_matmul(int type, const void* W, int rows, int cols, const float* x, int n_tokens, float* y);
/* The same product with this build's SIMD kernels (dev/abi_kernels.cpp), for their parity tests. */
TABLLM_API int tabllm_simd_matmul(int type, const void* W, int rows, int cols, const float* x, int n_tokens, float* y);
/* The SIMD levels this engine runs, comma-separated, best last ("scalar,wasm-simd128[,wasm-relaxed-simd]"). */
TABLLM_API const char* tabllm_simd_levels(void);
/* Every CPU product of the module from now on uses the named level (one of tabllm_simd_levels). */
TABLLM_API int tabllm_simd_use(const char* level);
TABLLM_API int tabllm_ref_rmsnorm(const float* x, const float* weight, int n, int n_tokens, float eps, float* out);
/* RoPE of n_heads heads of head_dim at position `pos`, in place; `halves`: NeoX pairing (i, i + dims/2);
 * cos and sin times attn_factor (LongRoPE). */
TABLLM_API int tabllm_ref_rope(float* heads, int n_heads, int head_dim, int rope_dims, int halves, int pos, float base,
                               const float* factors, float linear_scale, float attn_factor);
/* out[i] = gelu_tanh(x[i]), soft_cap(x[i], cap): the element-wise ops of core/ops/activations.h. */
TABLLM_API int tabllm_ref_gelu_tanh(const float* x, int n, float* out);
TABLLM_API int tabllm_ref_soft_cap(const float* x, int n, float cap, float* out);
/* Causal attention of n_tokens queries at positions pos.. over the cache k, v (pos + n_tokens rows): scores
 * q·k · scale, soft-capped when soft_cap > 0, over the last `window` positions when window > 0. */
TABLLM_API int tabllm_ref_attention(const float* q, int q_stride, int n_tokens, int n_heads, int n_kv_heads, int head_dim,
                                    const float* k, const float* v, int pos, float scale, float soft_cap, int window, float* out);

#ifdef __cplusplus
}
#endif
#endif
