// What a session needs from a native compute backend: run the model over new tokens and produce logits.
// The CPU forward pass (backend/cpu/forward.h) implements it. WebGPU does not: its forward pass runs in
// JavaScript from a plan (backend/webgpu/plan.h) and hands logits or tokens to a Generation.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/error.h"
#include "quant/types.h"

namespace tabllm {

// How a backend's KV cache lays out one position, for copies of it as bytes (runtime/kv_pages.h).
struct KvLayout {
  TensorType type = TensorType::F32;
  int64_t n_layers = 0;  // 0: the cache is not the backend's to copy (the host keeps it)
  size_t row_bytes = 0;  // one key (or value) row of one layer
  size_t bytes_per_position() const { return static_cast<size_t>(2 * n_layers) * row_bytes; }
  bool operator==(const KvLayout&) const = default;
};

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
  // Self-speculation's draft (runtime/speculative.h): like forward() with Logits::Last, through the first
  // `n_layers` layers only, then the output norm and head; writes those layers' KV rows, which the model's
  // own pass over the same positions overwrites. draft_layers_max() is 0 where a backend cannot.
  virtual int64_t draft_layers_max() const { return 0; }
  virtual void forward_draft(std::span<const int32_t> tokens, int64_t pos, int64_t n_layers, float* logits);
  // Shifts the KV cache as `shift` says; positions from shift.end - shift.discard on are free afterwards.
  virtual void shift(const KvShift& shift) = 0;
  virtual int64_t context_size() const = 0;
  // The KV cache as bytes: positions [start, start + count), per layer their key rows then their value
  // rows, copied out or in. Throw where kv_layout().n_layers is 0.
  virtual KvLayout kv_layout() const = 0;
  virtual void read_kv(int64_t start, int64_t count, uint8_t* out) const = 0;
  // True where read_kv answers only for rows the host has handed over since (a host-driven backend's cache
  // is on the GPU, read back asynchronously): a KvPager then waits for the rows a shift drops
  // (KvPager::awaiting, complete_page_out) instead of reading them at the shift.
  virtual bool kv_rows_on_host() const { return false; }
  virtual void write_kv(int64_t start, int64_t count, const uint8_t* in) = 0;
  // Rotates the keys of positions [start, start + count) by `distance` positions in place, so that rows
  // computed at p read as computed at p + distance (a paged-out row placed elsewhere when it comes back,
  // runtime/kv_pager.h). Throw where kv_layout().n_layers is 0.
  virtual void rotate_kv(int64_t start, int64_t count, int64_t distance) = 0;
};

inline void Backend::forward_draft(std::span<const int32_t>, int64_t, int64_t, float*) {
  throw Error("this backend cannot run its first layers as a draft: use speculative method \"prompt-lookup\"");
}

}  // namespace tabllm
