// What a session needs from a native compute backend: run the model over new tokens and produce logits.
// The CPU forward pass (backend/cpu/forward.h) implements it. WebGPU does not: its forward pass runs in
// JavaScript from a plan (backend/webgpu/plan.h) and hands logits or tokens to a Generation.
#pragma once
#include <cstdint>
#include <span>

namespace tabllm {

enum class Logits { Last, All };

// A context shift of the KV cache (docs/long-context.md): the rows of positions [keep, keep + discard) are
// dropped, those of [keep + discard, end) move down to [keep, end - discard) and their keys are rotated by
// -discard, so they read as computed at their new positions (RoPE angles are linear in the position).
// discard >= moved(): no row lands where a row still to be moved lies, so a backend may move all of them
// at once (runtime/context_shift.h plans shifts that way).
struct KvShift {
  int64_t keep = 0;
  int64_t discard = 0;
  int64_t end = 0;
  int64_t moved() const { return end - keep - discard; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Processes `tokens` at positions [pos, pos + tokens.size()), appending to the KV cache.
  // Writes n_vocab logits for the last token (Logits::Last) or for every token (Logits::All, row-major).
  virtual void forward(std::span<const int32_t> tokens, int64_t pos, Logits which, float* logits) = 0;
  // Shifts the KV cache as `shift` says; positions from shift.end - shift.discard on are free afterwards.
  virtual void shift(const KvShift& shift) = 0;
  virtual int64_t context_size() const = 0;
};

}  // namespace tabllm
