// Deterministic random weights: the same bytes on every platform and for any thread count, because each
// row of each tensor draws from its own generator seeded by (seed, tensor name, row), and only integer
// arithmetic and exactly rounded float operations are involved.
#pragma once
#include <cstdint>
#include <string_view>

namespace tabllm::tools {

// splitmix64: small, fast and good enough for weights.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// The generator of one row of one tensor.
SplitMix64 row_generator(uint64_t seed, std::string_view tensor_name, uint64_t row);

// dst[0..n) = mean + bell-shaped noise of standard deviation sigma (the sum of four uniforms, an
// Irwin-Hall approximation of the normal distribution that is bounded at ±3.46 sigma).
void fill_bell(SplitMix64& rng, float mean, float sigma, float* dst, int64_t n);

}  // namespace tabllm::tools
