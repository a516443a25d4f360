#include "synth/random_weights.h"

#include <cmath>

namespace tabllm::tools {

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

}  // namespace tabllm::tools
