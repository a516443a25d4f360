// Keys and values of past positions, per layer, in fixed-size pages allocated as positions fill.
// Pages keep memory proportional to the tokens actually used (a 4096-token context costs nothing until
// it is reached), and are the unit a later pager can move to and from storage.
// Rows are stored as f32, f16 (the default) or q8_0 (blocks of 32 along the row, each with an f16
// scale); attention reads them back as floats, so every cache type shares one attention code path.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "quant/quantize.h"
#include "quant/types.h"

namespace tabllm {

class KvCache {
 public:
  static constexpr int64_t kPagePositions = 256;

  // Throws Error for a type the cache cannot hold (q8_0 needs kv_dim to be a multiple of 32).
  KvCache(int64_t n_layers, int64_t kv_dim, int64_t capacity, TensorType type);
  int64_t capacity() const { return capacity_; }
  int64_t kv_dim() const { return kv_dim_; }
  TensorType type() const { return type_; }
  // Bytes one position takes in every layer, keys and values.
  size_t bytes_per_position() const { return static_cast<size_t>(2 * n_layers_) * row_bytes_; }

  // Makes positions [0, n) writable (allocates pages); throws Error past capacity.
  void reserve(int64_t n);
  // Stores kv_dim floats of keys and of values at `pos` (below the reserved size) in the cache's type.
  void store(int64_t layer, int64_t pos, const float* key, const float* value);
  // Floats [offset, offset + n) of the key or value row at `pos`: f32 rows are read in place, other types
  // are decoded into `scratch` (room for n floats).
  const float* key(int64_t layer, int64_t pos, int64_t offset, int64_t n, float* scratch) const {
    return load(row(layer, pos, 0), offset, n, scratch);
  }
  const float* value(int64_t layer, int64_t pos, int64_t offset, int64_t n, float* scratch) const {
    return load(row(layer, pos, 1), offset, n, scratch);
  }
  size_t bytes_allocated() const;
  KvLayout layout() const { return {type_, n_layers_, row_bytes_}; }
  // Positions [start, start + count) as bytes, per layer key rows then value rows (KvLayout); write
  // reserves the positions first.
  void read(int64_t start, int64_t count, uint8_t* out) const;
  void write(int64_t start, int64_t count, const uint8_t* in);
  // A context shift's move in one layer: the key and value rows of [s.keep + s.discard, s.end) go to
  // [s.keep, s.end - s.discard), and `rotate` re-rotates each moved key row (kv_dim floats) in place.
  template <class Rotate>
  void shift_rows(int64_t layer, const KvShift& s, const Rotate& rotate) {
    std::vector<float> k(static_cast<size_t>(kv_dim_)), v(static_cast<size_t>(kv_dim_));
    // Upwards, row by row: a destination row lies below its source, so no source is overwritten early.
    for (int64_t p = s.keep + s.discard; p < s.end; ++p) {
      const float* kp = key(layer, p, 0, kv_dim_, k.data());
      if (kp != k.data()) std::copy_n(kp, kv_dim_, k.data());
      const float* vp = value(layer, p, 0, kv_dim_, v.data());
      rotate(k.data());
      store(layer, p - s.discard, k.data(), vp);
    }
  }
  // Re-rotates the key rows of [start, start + count) in one layer in place (values stay as they are).
  template <class Rotate>
  void rotate_rows(int64_t layer, int64_t start, int64_t count, const Rotate& rotate) {
    std::vector<float> k(static_cast<size_t>(kv_dim_));
    for (int64_t p = start; p < start + count; ++p) {
      const float* kp = key(layer, p, 0, kv_dim_, k.data());
      if (kp != k.data()) std::copy_n(kp, kv_dim_, k.data());
      rotate(k.data());
      quantize_row(type_, k.data(), row(layer, p, 0), kv_dim_);
    }
  }

 private:
  uint8_t* row(int64_t layer, int64_t pos, int kind) const {
    return pages_[static_cast<size_t>(pos / kPagePositions)][static_cast<size_t>(layer)].get() +
           static_cast<size_t>((kind * kPagePositions) + pos % kPagePositions) * row_bytes_;
  }
  const float* load(const uint8_t* row, int64_t offset, int64_t n, float* scratch) const;
  int64_t n_layers_, kv_dim_, capacity_;
  TensorType type_;
  size_t row_bytes_;
  // pages_[page][layer] holds kPagePositions key rows followed by kPagePositions value rows.
  std::vector<std::vector<std::unique_ptr<uint8_t[]>>> pages_;
};

// The cache type named "f32", "f16" or "q8_0"; throws Error naming the choices otherwise.
TensorType kv_cache_type(const std::string& name);
// Throws Error when rows of kv_dim values cannot be kept as `type` (q8_0 needs a multiple of 32); the
// WebGPU plan checks its cache with it too.
void check_kv_cache_type(TensorType type, int64_t kv_dim);

}  // namespace tabllm
