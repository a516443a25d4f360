#include "sampling/token_mask.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace tabllm {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
}

void mask_logits(const float* logits, std::span<const uint32_t> allowed, int32_t n, float* out) {
  for (int32_t base = 0; base < n; base += 32) {
    const uint32_t m = allowed[static_cast<size_t>(base / 32)];
    const int32_t count = std::min(32, n - base);
    if (m == 0) std::fill(out + base, out + base + count, kNegInf);
    else if (m == ~0u) std::memcpy(out + base, logits + base, sizeof(float) * static_cast<size_t>(count));
    else
      for (int32_t j = 0; j < count; ++j) out[base + j] = m >> j & 1u ? logits[base + j] : kNegInf;
  }
}

int32_t argmax_allowed(const float* logits, std::span<const uint32_t> allowed, int32_t n) {
  int32_t best = -1;
  float best_logit = kNegInf;
  for (int32_t base = 0; base < n; base += 32) {
    const uint32_t m = allowed[static_cast<size_t>(base / 32)];
    if (m == 0) continue;
    const int32_t count = std::min(32, n - base);
    // The word's best allowed value without branches, then its first id only when it beats the best so
    // far (strict: ties keep the lowest id; a NaN never compares above).
    float word_max = kNegInf;
    for (int32_t j = 0; j < count; ++j) {
      const float v = m >> j & 1u ? logits[base + j] : kNegInf;
      word_max = v > word_max ? v : word_max;
    }
    if (!(word_max > best_logit)) continue;
    for (int32_t j = 0; j < count; ++j) {
      if (m >> j & 1u && logits[base + j] == word_max) {
        best = base + j;
        break;
      }
    }
    best_logit = word_max;
  }
  return best;
}

}  // namespace tabllm
