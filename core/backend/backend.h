// What a session needs from a native compute backend: run the model over new tokens and produce logits.
// The CPU forward pass (backend/cpu/forward.h) implements it. WebGPU does not: its forward pass runs in
// JavaScript from a plan (backend/webgpu/plan.h) and hands logits or tokens to a Generation.
#pragma once
#include <cstdint>
#include <span>

namespace tabllm {

enum class Logits { Last, All };

class Backend {
 public:
  virtual ~Backend() = default;
  // Processes `tokens` at positions [pos, pos + tokens.size()), appending to the KV cache.
  // Writes n_vocab logits for the last token (Logits::Last) or for every token (Logits::All, row-major).
  virtual void forward(std::span<const int32_t> tokens, int64_t pos, Logits which, float* logits) = 0;
  virtual int64_t context_size() const = 0;
};

}  // namespace tabllm
