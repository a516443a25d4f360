// Reference ops for the WebGPU parity tests, exported to JavaScript: the scalar C++ kernels every backend
// is checked against (cpu::matmul on Path::Scalar, dequantize_row) and the forward pass's rmsnorm, RoPE
// and attention (core/ops, on the scalar kernels), plus a generator of valid random weight
// blocks of every type. Sizes are int (wasm32); failures return -1 and tabllm_last_error() says why.
// Development module only (build-wasm/tabllm-dev.mjs): the package does not ship these.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/thread_pool.h"
#include "common/error.h"
#include "ops/activations.h"
#include "ops/attention.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "quant/quantize.h"
#include "quant/types.h"
#include "abi_guard.h"
#include "tabllm_dev.h"

namespace {

using tabllm::wasm::guarded;

tabllm::TensorType type_of(int type) { return static_cast<tabllm::TensorType>(type); }

// xorshift32: deterministic across hosts.
struct Rng {
  uint32_t s;
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
  float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>(next() >> 8) / 16777216.0f; }
};

void put_half(uint8_t* p, float v) {
  const uint16_t h = tabllm::f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

}  // namespace

extern "C" {

// Bytes of one row of `cols` elements of `type` (GGUF type id).
TABLLM_API int tabllm_ref_row_bytes(int type, int cols) {
  return guarded([&] { return static_cast<int>(tabllm::type_row_bytes(type_of(type), static_cast<uint64_t>(cols))); });
}

// Fills out[rows * row_bytes] with valid random blocks: values in about [-1, 1] quantized where the type has a
// quantizer, random quants with sane scales for the K-quants (which tabllm reads but does not write).
TABLLM_API int tabllm_ref_random_weights(int type, int rows, int cols, unsigned seed, uint8_t* out) {
  return guarded([&] {
    const tabllm::TensorType t = type_of(type);
    const size_t row_bytes = tabllm::type_row_bytes(t, static_cast<uint64_t>(cols));
    Rng rng{seed ? seed : 1u};
    if (tabllm::can_quantize(t)) {
      std::vector<float> row(static_cast<size_t>(cols));
      for (int r = 0; r < rows; ++r) {
        for (float& v : row) v = rng.uniform(-1.0f, 1.0f);
        tabllm::quantize_row(t, row.data(), out + static_cast<size_t>(r) * row_bytes, cols);
      }
      return 0;
    }
    const size_t total = row_bytes * static_cast<size_t>(rows);
    for (size_t i = 0; i < total; ++i) out[i] = static_cast<uint8_t>(rng.next() >> 24);
    const size_t block = tabllm::type_traits(t).type_size, n_blocks = total / block;
    for (size_t b = 0; b < n_blocks; ++b) {
      uint8_t* p = out + b * block;
      switch (t) {
        case tabllm::TensorType::Q4_K:
        case tabllm::TensorType::Q5_K:
          put_half(p, rng.uniform(0.002f, 0.02f));      // d
          put_half(p + 2, rng.uniform(0.002f, 0.02f));  // dmin
          break;
        case tabllm::TensorType::Q6_K:
          put_half(p + 208, rng.uniform(0.0005f, 0.002f));
          break;
        default:
          throw tabllm::Error(std::string("no random generator for type ") + tabllm::type_traits(t).name);
      }
    }
    return 0;
  });
}

// dst[0..n) = the values src encodes.
TABLLM_API int tabllm_ref_dequantize(int type, const void* src, int n, float* dst) {
  return guarded([&] {
    tabllm::dequantize_row(type_of(type), src, dst, n);
    return 0;
  });
}

// dst = the n floats at src encoded as `type` (quantize_row: what the CPU's KV cache stores of a row).
TABLLM_API int tabllm_ref_quantize(int type, const float* src, int n, void* dst) {
  return guarded([&] {
    tabllm::quantize_row(type_of(type), src, dst, n);
    return 0;
  });
}

// y[t][r] = sum_c W[r][c] x[t][c] on the scalar reference path (cpu::matmul, Path::Scalar, one thread).
TABLLM_API int tabllm_ref_matmul(int type, const void* W, int rows, int cols, const float* x, int n_tokens, float* y) {
  return guarded([&] {
    tabllm::cpu::ThreadPool pool(1);
    tabllm::cpu::Scratch scratch;
    tabllm::cpu::matmul(type_of(type), W, rows, cols, x, n_tokens, y, pool, scratch, tabllm::cpu::Path::Scalar);
    return 0;
  });
}

// out[t] = x[t] / rms(x[t]) * weight for n_tokens rows of n (the forward pass's rmsnorm: double sum).
TABLLM_API int tabllm_ref_rmsnorm(const float* x, const float* weight, int n, int n_tokens, float eps, float* out) {
  return guarded([&] {
    for (int t = 0; t < n_tokens; ++t)
      tabllm::ops::rmsnorm(out + static_cast<size_t>(t) * n, x + static_cast<size_t>(t) * n, weight, n, eps);
    return 0;
  });
}

// Rotates n_heads heads of head_dim (in place) at position pos, as the forward pass does: float inverse
// frequencies base^(-2i/rope_dims) / factors[i] (factors may be NULL) / linear_scale, double angles, cos and
// sin times attn_factor; pairs (2i, 2i+1) or, with halves, (i, i + rope_dims/2) (ops/rope.h).
TABLLM_API int tabllm_ref_rope(float* heads, int n_heads, int head_dim, int rope_dims, int halves, int pos, float base,
                               const float* factors, float linear_scale, float attn_factor) {
  return guarded([&] {
    const std::vector<float> inv_freq = tabllm::ops::rope_inverse_frequencies(rope_dims, base, factors, linear_scale);
    std::vector<float> c(inv_freq.size()), s(inv_freq.size());
    tabllm::ops::rope_cos_sin(pos, inv_freq, attn_factor, c.data(), s.data());
    const auto pairing = halves ? tabllm::ops::RopePairing::Halves : tabllm::ops::RopePairing::Interleaved;
    for (int h = 0; h < n_heads; ++h) tabllm::ops::rope_rotate(heads + static_cast<size_t>(h) * head_dim, c.data(), s.data(), rope_dims, pairing);
    return 0;
  });
}

// out[i] = ops::gelu_tanh(x[i]).
TABLLM_API int tabllm_ref_gelu_tanh(const float* x, int n, float* out) {
  return guarded([&] {
    for (int i = 0; i < n; ++i) out[i] = tabllm::ops::gelu_tanh(x[i]);
    return 0;
  });
}

// out[i] = ops::soft_cap(x[i], cap).
TABLLM_API int tabllm_ref_soft_cap(const float* x, int n, float cap, float* out) {
  return guarded([&] {
    for (int i = 0; i < n; ++i) out[i] = tabllm::ops::soft_cap(x[i], cap);
    return 0;
  });
}

// Causal attention of n_tokens queries at positions pos.. over caches of kv_dim = n_kv_heads * head_dim
// floats per position: out[t][h] = softmax(cap(scale · q·k)) v over positions [window start, pos + t]
// (ops::attend, ops::attention_window_start). q is [n_tokens][n_heads * head_dim] with q_stride floats
// between tokens.
TABLLM_API int tabllm_ref_attention(const float* q, int q_stride, int n_tokens, int n_heads, int n_kv_heads, int head_dim,
                                    const float* k, const float* v, int pos, float scale, float soft_cap, int window, float* out) {
  return guarded([&] {
    const int kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
    const tabllm::ops::AttentionShape shape{head_dim, scale, soft_cap};
    const auto dot = [](const float* a, const float* b, int64_t n) { return tabllm::cpu::dot_f32(a, b, n, tabllm::cpu::Path::Scalar); };
    const auto axpy = [](float alpha, const float* x, float* y, int64_t n) { tabllm::cpu::axpy_f32(alpha, x, y, n, tabllm::cpu::Path::Scalar); };
    std::vector<float> scores(static_cast<size_t>(pos + n_tokens));
    for (int t = 0; t < n_tokens; ++t)
      for (int h = 0; h < n_heads; ++h) {
        const size_t off = static_cast<size_t>((h / group) * head_dim);
        tabllm::ops::attend(
            q + static_cast<size_t>(t) * q_stride + static_cast<size_t>(h) * head_dim, shape,
            tabllm::ops::attention_window_start(pos + t, window), pos + t + 1,
            [&](int64_t p) { return k + static_cast<size_t>(p) * kv_dim + off; }, [&](int64_t p) { return v + static_cast<size_t>(p) * kv_dim + off; },
            dot, axpy, scores.data(), out + (static_cast<size_t>(t) * n_heads + h) * head_dim);
      }
    return 0;
  });
}

}  // extern "C"
