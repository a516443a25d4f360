#include "synth/random_weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "quant/quantize.h"

namespace tabllm::tools {
namespace {

// Root mean square of integers drawn uniformly from [lo, hi].
double uniform_rms(int lo, int hi) {
  const double mean = (lo + hi) / 2.0, n = hi - lo + 1;
  return std::sqrt(mean * mean + (n * n - 1) / 12);
}

// Standard deviation of integers drawn uniformly from [0, levels).
double uniform_std(int levels) { return std::sqrt((static_cast<double>(levels) * levels - 1) / 12); }

void fill_random_bytes(SplitMix64& rng, uint8_t* dst, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t r = rng.next();
    std::memcpy(dst + i, &r, std::min<size_t>(8, n - i));
  }
}

void put_f16(uint8_t* dst, float value) {
  const uint16_t h = f32_to_f16(value);
  std::memcpy(dst, &h, 2);
}

// The 12-byte scales field of Q4_K / Q5_K: eight 6-bit scales and eight 6-bit mins. Sub-blocks 0-3 keep
// their low 6 bits in bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 keep their low 4 bits in bytes
// 8-11 and their top 2 bits in the top bits of bytes 0-7.
void pack_k_scales(const uint8_t scale[8], const uint8_t min[8], uint8_t out[12]) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<uint8_t>(scale[j] | ((scale[j + 4] >> 4) << 6));
    out[j + 4] = static_cast<uint8_t>(min[j] | ((min[j + 4] >> 4) << 6));
    out[j + 8] = static_cast<uint8_t>((scale[j + 4] & 0xF) | ((min[j + 4] & 0xF) << 4));
  }
}

// Q4_K (levels 16) and Q5_K (levels 32): value = d * scale * q - dmin * min with q in [0, levels).
// Scales are drawn from [32, 63]; dmin = d * levels / 2 and min ≈ scale * (levels - 1) / levels put each
// sub-block's mean near zero.
void fill_k_block_with_mins(int levels, SplitMix64& rng, float sigma, uint8_t* block, size_t quant_bytes) {
  constexpr int kScaleLow = 32, kScaleHigh = 63;
  const float d = static_cast<float>(sigma / (uniform_rms(kScaleLow, kScaleHigh) * uniform_std(levels)));
  put_f16(block, d);
  put_f16(block + 2, d * static_cast<float>(levels / 2));
  uint8_t scale[8], min[8];
  const uint64_t r = rng.next();
  for (int j = 0; j < 8; ++j) {
    scale[j] = static_cast<uint8_t>(kScaleLow + ((r >> (8 * j)) & 31));
    // round(scale * (levels - 1) / 2 / (levels / 2))
    min[j] = static_cast<uint8_t>((scale[j] * (levels - 1) + levels / 2) / levels);
  }
  pack_k_scales(scale, min, block + 4);
  fill_random_bytes(rng, block + 16, quant_bytes);  // qh (Q5_K) and qs: every bit pattern is valid
}

// Q6_K: ql[128], qh[64], int8 scales[16], f16 d; value = d * scale * (q - 32) with q in [0, 64).
void fill_q6_k_block(SplitMix64& rng, float sigma, uint8_t* block) {
  constexpr int kScaleLow = 64, kScaleHigh = 127;
  fill_random_bytes(rng, block, 192);
  for (int j = 0; j < 16; j += 8) {
    const uint64_t r = rng.next();
    for (int k = 0; k < 8; ++k) block[192 + j + k] = static_cast<uint8_t>(kScaleLow + ((r >> (8 * k)) & 63));
  }
  put_f16(block + 208, static_cast<float>(sigma / (uniform_rms(kScaleLow, kScaleHigh) * uniform_std(64))));
}

}  // namespace

SplitMix64 row_generator(uint64_t seed, std::string_view tensor_name, uint64_t row) {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a of the name
  for (char c : tensor_name) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001B3ull;
  SplitMix64 mix(seed ^ h);
  SplitMix64 mix_row(mix.next() + row * 0xD1B54A32D192ED03ull);
  return SplitMix64(mix_row.next());
}

void fill_bell(SplitMix64& rng, float mean, float sigma, float* dst, int64_t n) {
  // Four 16-bit uniforms sum to mean 131070 and standard deviation ≈ 65536 / sqrt(3).
  const float scale = static_cast<float>(sigma * std::sqrt(3.0) / 65536.0);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = rng.next();
    const int32_t sum = static_cast<int32_t>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48));
    const float centered = static_cast<float>(sum - 131070) * scale;
    dst[i] = mean + centered;  // a separate statement: never fused into an FMA, same bits everywhere
  }
}

bool is_k_quant(TensorType type) {
  return type == TensorType::Q4_K || type == TensorType::Q5_K || type == TensorType::Q6_K;
}

void fill_random_k_blocks(TensorType type, SplitMix64& rng, float sigma, uint8_t* dst, int64_t n_blocks) {
  const size_t block_bytes = type_traits(type).type_size;
  for (int64_t b = 0; b < n_blocks; ++b, dst += block_bytes) {
    switch (type) {
      case TensorType::Q4_K: fill_k_block_with_mins(16, rng, sigma, dst, 128); break;
      case TensorType::Q5_K: fill_k_block_with_mins(32, rng, sigma, dst, 32 + 128); break;
      case TensorType::Q6_K: fill_q6_k_block(rng, sigma, dst); break;
      default: throw Error(std::string("cannot draw random blocks of ") + type_traits(type).name);
    }
  }
}

}  // namespace tabllm::tools
