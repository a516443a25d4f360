#include "ops/rope.h"

#include <cmath>

namespace tabllm::ops {

std::vector<float> rope_inverse_frequencies(int64_t rope_dims, float base, const float* factors, float linear_scale) {
  const int64_t pairs = rope_dims / 2;
  std::vector<float> inv_freq(static_cast<size_t>(pairs));
  for (int64_t i = 0; i < pairs; ++i) {
    double f = std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(rope_dims));
    if (factors) f /= factors[i];
    inv_freq[static_cast<size_t>(i)] = static_cast<float>(f / linear_scale);
  }
  return inv_freq;
}

void rope_cos_sin(int64_t position, const std::vector<float>& inv_freq, float attn_factor, float* cos, float* sin) {
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const double angle = static_cast<double>(position) * inv_freq[i];
    cos[i] = static_cast<float>(std::cos(angle)) * attn_factor;
    sin[i] = static_cast<float>(std::sin(angle)) * attn_factor;
  }
}

void rope_shift_cos_sin(int64_t distance, const std::vector<float>& inv_freq, float* cos, float* sin) {
  rope_cos_sin(-distance, inv_freq, 1.0f, cos, sin);
}

void rope_rotate(float* head, const float* cos, const float* sin, int64_t rope_dims, RopePairing pairing) {
  const int64_t half = rope_dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    const int64_t a = pairing == RopePairing::Interleaved ? 2 * i : i;
    const int64_t b = pairing == RopePairing::Interleaved ? 2 * i + 1 : i + half;
    const float x0 = head[a], x1 = head[b];
    head[a] = x0 * cos[i] - x1 * sin[i];
    head[b] = x0 * sin[i] + x1 * cos[i];
  }
}

}  // namespace tabllm::ops
