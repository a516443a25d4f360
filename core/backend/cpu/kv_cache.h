// Keys and values of past positions, per layer, in fixed-size pages allocated as positions fill.
// Pages keep memory proportional to the tokens actually used (a 4096-token context costs nothing until
// it is reached), and are the unit a later pager can move to and from storage.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.h"

namespace tabllm {

class KvCache {
 public:
  static constexpr int64_t kPagePositions = 256;

  KvCache(int64_t n_layers, int64_t kv_dim, int64_t capacity);
  int64_t capacity() const { return capacity_; }
  int64_t kv_dim() const { return kv_dim_; }

  // Makes positions [0, n) writable (allocates pages); throws Error past capacity.
  void reserve(int64_t n);
  // Rows of kv_dim floats; `pos` must be below the reserved size.
  float* key(int64_t layer, int64_t pos) { return row(layer, pos, 0); }
  float* value(int64_t layer, int64_t pos) { return row(layer, pos, 1); }
  const float* key(int64_t layer, int64_t pos) const { return const_cast<KvCache*>(this)->row(layer, pos, 0); }
  const float* value(int64_t layer, int64_t pos) const { return const_cast<KvCache*>(this)->row(layer, pos, 1); }
  size_t bytes_allocated() const;
  // A context shift's move in one layer: the key and value rows of [s.keep + s.discard, s.end) go to
  // [s.keep, s.end - s.discard), as they are (the caller re-rotates the keys).
  void move_rows(int64_t layer, const KvShift& s);

 private:
  float* row(int64_t layer, int64_t pos, int kind) {
    return pages_[static_cast<size_t>(pos / kPagePositions)][static_cast<size_t>(layer)].get() +
           ((kind * kPagePositions) + pos % kPagePositions) * kv_dim_;
  }
  int64_t n_layers_, kv_dim_, capacity_;
  // pages_[page][layer] holds kPagePositions key rows followed by kPagePositions value rows.
  std::vector<std::vector<std::unique_ptr<float[]>>> pages_;
};

}  // namespace tabllm
