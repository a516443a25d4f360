// The bias of a product, shared by the decoder and encoder passes.
#pragma once
#include <cstdint>

#include "model/weights.h"

namespace tabllm::cpu {

// Adds `bias` (when the model has it) to each of n_tokens rows of n floats.
inline void add_bias(float* x, const Tensor& bias, int64_t n_tokens, int64_t n) {
  if (!bias.present()) return;
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t i = 0; i < n; ++i) x[t * n + i] += bias.f32()[i];
}

}  // namespace tabllm::cpu
