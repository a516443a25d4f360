// RMSNorm and LayerNorm, written once: the CPU forward passes, the reference exports and the GPU parity
// tests use them.
#pragma once
#include <cstdint>

namespace tabllm::ops {

// out[i] = x[i] / sqrt(mean(x²) + eps) * weight[i]; the sum of squares in double. out may alias x.
// GGUF files store the weight a model multiplies by (Gemma's "1 + w" is folded in by the converters).
void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps);

// out[i] = (x[i] - mean(x)) / sqrt(var(x) + eps) * weight[i] + bias[i] (BERT's LayerNorm); mean and
// variance in double. out may alias x.
void layernorm(float* out, const float* x, const float* weight, const float* bias, int64_t n, float eps);

}  // namespace tabllm::ops
