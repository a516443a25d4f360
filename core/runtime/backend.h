// What a session needs from a compute backend: run the model over new tokens and produce logits.
// The CPU backend (cpu_forward.h) is the reference; a GPU backend implements the same interface.
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
