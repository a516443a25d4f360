#include "backend/cpu/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "quant/block_formats.h"
#include "quant/quantize.h"

namespace tabllm {
namespace {

// f16 → f32 without branches, so the row loop vectorizes: moving exponent and mantissa up by 13 bits and
// multiplying by 2^112 rebiases normal and subnormal halves exactly; inf and nan keep an all-ones exponent.
inline float half_to_float(uint16_t h) {
  const uint32_t magnitude = static_cast<uint32_t>(h & 0x7fffu) << 13;
  float f;
  std::memcpy(&f, &magnitude, 4);
  f *= 0x1p112f;
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits |= (h & 0x7c00u) == 0x7c00u ? 0x7f800000u : 0u;
  bits |= static_cast<uint32_t>(h & 0x8000u) << 16;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

KvCache::KvCache(int64_t n_layers, int64_t kv_dim, int64_t capacity, TensorType type)
    : n_layers_(n_layers), kv_dim_(kv_dim), capacity_(capacity), type_(type) {
  check_kv_cache_type(type, kv_dim);
  row_bytes_ = type_row_bytes(type, kv_dim);
}

void KvCache::reserve(int64_t n) {
  if (n > capacity_)
    throw Error("context is full: " + std::to_string(n) + " positions needed, the context holds " + std::to_string(capacity_) +
                " (shorten the prompt or the number of tokens to generate)");
  const size_t pages_needed = static_cast<size_t>((n + kPagePositions - 1) / kPagePositions);
  while (pages_.size() < pages_needed) {
    std::vector<std::unique_ptr<uint8_t[]>> page;
    for (int64_t l = 0; l < n_layers_; ++l) page.push_back(std::make_unique<uint8_t[]>(2 * kPagePositions * row_bytes_));
    pages_.push_back(std::move(page));
  }
}

void KvCache::store(int64_t layer, int64_t pos, const float* key, const float* value) {
  quantize_row(type_, key, row(layer, pos, 0), kv_dim_);
  quantize_row(type_, value, row(layer, pos, 1), kv_dim_);
}

const float* KvCache::load(const uint8_t* row, int64_t offset, int64_t n, float* scratch) const {
  switch (type_) {
    case TensorType::F32:
      return reinterpret_cast<const float*>(row) + offset;
    case TensorType::F16: {
      const auto* h = reinterpret_cast<const uint16_t*>(row) + offset;
      for (int64_t i = 0; i < n; ++i) scratch[i] = half_to_float(h[i]);
      return scratch;
    }
    default: {  // q8_0: a head's slice may start inside a block (head_dim below 32) or span several
      const auto* q = reinterpret_cast<const blocks::Q8_0*>(row);
      float* out = scratch;
      for (int64_t i = offset, end = offset + n; i < end;) {
        const blocks::Q8_0& b = q[i / 32];
        const float d = half_to_float(b.d);
        for (const int64_t stop = std::min(end, (i / 32 + 1) * 32); i < stop; ++i) *out++ = d * static_cast<float>(b.qs[i % 32]);
      }
      return scratch;
    }
  }
}

void KvCache::read(int64_t start, int64_t count, uint8_t* out) const {
  for (int64_t l = 0; l < n_layers_; ++l)
    for (int kind = 0; kind < 2; ++kind)
      for (int64_t p = start; p < start + count; ++p, out += row_bytes_) std::memcpy(out, row(l, p, kind), row_bytes_);
}

void KvCache::write(int64_t start, int64_t count, const uint8_t* in) {
  reserve(start + count);
  for (int64_t l = 0; l < n_layers_; ++l)
    for (int kind = 0; kind < 2; ++kind)
      for (int64_t p = start; p < start + count; ++p, in += row_bytes_) std::memcpy(row(l, p, kind), in, row_bytes_);
}

size_t KvCache::bytes_allocated() const {
  return pages_.size() * static_cast<size_t>(n_layers_ * 2 * kPagePositions) * row_bytes_;
}

void check_kv_cache_type(TensorType type, int64_t kv_dim) {
  if (type != TensorType::F32 && type != TensorType::F16 && type != TensorType::Q8_0)
    throw Error(std::string("the KV cache holds f32, f16 or q8_0, not ") + type_traits(type).name);
  if (type == TensorType::Q8_0 && kv_dim % 32 != 0)
    throw Error("a q8_0 KV cache needs key/value rows of a multiple of 32 values; this model's have " + std::to_string(kv_dim) +
                " (use kv type f16)");
}

TensorType kv_cache_type(const std::string& name) {
  if (name == "f32") return TensorType::F32;
  if (name == "f16") return TensorType::F16;
  if (name == "q8_0") return TensorType::Q8_0;
  throw Error("unknown KV cache type \"" + name + "\" (f32, f16, q8_0)");
}

}  // namespace tabllm
