#include "backend/cpu/kv_cache.h"

#include <algorithm>

#include "common/error.h"

namespace tabllm {

KvCache::KvCache(int64_t n_layers, int64_t kv_dim, int64_t capacity)
    : n_layers_(n_layers), kv_dim_(kv_dim), capacity_(capacity) {}

void KvCache::reserve(int64_t n) {
  if (n > capacity_)
    throw Error("context is full: " + std::to_string(n) + " positions needed, the context holds " + std::to_string(capacity_) +
                " (shorten the prompt or the number of tokens to generate)");
  const size_t pages_needed = static_cast<size_t>((n + kPagePositions - 1) / kPagePositions);
  while (pages_.size() < pages_needed) {
    std::vector<std::unique_ptr<float[]>> page;
    for (int64_t l = 0; l < n_layers_; ++l)
      page.push_back(std::make_unique<float[]>(static_cast<size_t>(2 * kPagePositions * kv_dim_)));
    pages_.push_back(std::move(page));
  }
}

void KvCache::move_rows(int64_t layer, const KvShift& s) {
  // Upwards, row by row: a destination row lies below its source, so no source is overwritten early.
  for (int64_t p = s.keep + s.discard; p < s.end; ++p) {
    std::copy_n(key(layer, p), kv_dim_, key(layer, p - s.discard));
    std::copy_n(value(layer, p), kv_dim_, value(layer, p - s.discard));
  }
}

size_t KvCache::bytes_allocated() const {
  return pages_.size() * static_cast<size_t>(n_layers_ * 2 * kPagePositions * kv_dim_) * sizeof(float);
}

}  // namespace tabllm
