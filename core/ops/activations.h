// Element-wise functions of the feed-forward block and of logit capping.
#pragma once
#include <cmath>

namespace tabllm::ops {

// x · sigmoid(x): the gate of SwiGLU feed-forward blocks (llama, qwen, phi3).
inline float silu(float x) { return x / (1.0f + std::exp(-x)); }

// GELU with the tanh approximation: the gate of Gemma's feed-forward blocks.
inline float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}

// cap · tanh(x / cap): bounds attention scores and final logits (Gemma 2) to (-cap, cap). cap <= 0: x.
inline float soft_cap(float x, float cap) { return cap > 0.0f ? cap * std::tanh(x / cap) : x; }

}  // namespace tabllm::ops
