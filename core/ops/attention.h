// Attention of one query head over a span of cached positions, written once for the CPU forward pass and
// the reference exports. The cache layout and the dot/axpy kernels are the caller's (paged KV cache with
// SIMD kernels, or flat arrays with the scalar ones), so this reads the same whatever the storage.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops/activations.h"

namespace tabllm::ops {

struct AttentionShape {
  int64_t head_dim = 0;
  float scale = 1.0f;     // multiplies q·k (1/sqrt(head_dim) unless the model says otherwise)
  float soft_cap = 0.0f;  // > 0: scores are soft-capped after scaling (Gemma 2)
};

// The first cached position a query at `query_pos` sees: 0, or with a sliding window of `window`
// positions the ones with query_pos - p < window.
inline int64_t attention_window_start(int64_t query_pos, int64_t window) {
  return window > 0 ? std::max<int64_t>(0, query_pos - window + 1) : 0;
}

// out[0..head_dim) = Σ_p softmax_p(cap(scale · q·k_p)) v_p over positions [first, end).
// key(p) / value(p) return the head's rows at position p; dot(a, b, n) and axpy(alpha, x, y, n) are the
// float kernels to use; scores has room for `end` floats.
template <class Key, class Value, class Dot, class Axpy>
void attend(const float* q, const AttentionShape& s, int64_t first, int64_t end, const Key& key, const Value& value,
            const Dot& dot, const Axpy& axpy, float* scores, float* out) {
  float max_score = -INFINITY;
  for (int64_t p = first; p < end; ++p) {
    scores[p] = soft_cap(dot(q, key(p), s.head_dim) * s.scale, s.soft_cap);
    max_score = std::max(max_score, scores[p]);
  }
  float sum = 0.0f;
  for (int64_t p = first; p < end; ++p) {
    scores[p] = std::exp(scores[p] - max_score);
    sum += scores[p];
  }
  std::fill_n(out, s.head_dim, 0.0f);
  for (int64_t p = first; p < end; ++p) axpy(scores[p] / sum, value(p), out, s.head_dim);
}

}  // namespace tabllm::ops
