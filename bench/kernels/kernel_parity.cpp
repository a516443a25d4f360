// Kernel parity without GoogleTest, for targets where the test suite does not run (WebAssembly under
// Node): every SIMD level this build and CPU offer against exact products of the dequantized weights,
// with the error bounds of tests/cpp/test_kernels.cpp. Prints one line per level and type, exits 1 on
// any failure.
//   emcc -O2 -msimd128 -std=c++20 -Icore bench/kernels/kernel_parity.cpp core/quant/*.cpp
//        core/backend/cpu/*.cpp -sALLOW_MEMORY_GROWTH=1 -o /tmp/parity.js
//   node --no-experimental-fetch /tmp/parity.js
// (Node 20's fetch trips the loader of Emscripten 3.1.6, hence the flag.) Natively: link tabllm_core.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/simd_dispatch.h"
#include "quant/quantize.h"

using namespace tabllm;
using namespace tabllm::cpu;

namespace {

constexpr TensorType kTypes[] = {TensorType::F32,  TensorType::F16,    TensorType::BF16, TensorType::Q4_0,
                                 TensorType::Q4_1, TensorType::Q5_0,   TensorType::Q5_1, TensorType::Q8_0,
                                 TensorType::Q2_K, TensorType::Q3_K,   TensorType::Q4_K, TensorType::Q5_K,
                                 TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS};

// Where a block keeps its f16 scale and min (-1: none), and the scale's size (the quants' range differs).
struct ScaleFields {
  int d_at, min_at;
  float d;
};
ScaleFields scale_fields(TensorType t) {
  switch (t) {
    case TensorType::Q4_1:
    case TensorType::Q5_1:
    case TensorType::Q4_K:
    case TensorType::Q5_K: return {0, 2, 0.02f};
    case TensorType::Q2_K: return {80, 82, 0.02f};
    case TensorType::Q3_K: return {108, -1, 0.001f};
    case TensorType::Q6_K: return {208, -1, 0.001f};
    case TensorType::IQ4_NL: return {0, -1, 0.002f};
    case TensorType::IQ4_XS: return {0, -1, 0.0001f};
    default: return {0, -1, 0.02f};
  }
}

bool is_float(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

std::vector<uint8_t> random_weights(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const size_t row_bytes = type_row_bytes(type, cols);
  std::vector<uint8_t> w(row_bytes * rows);
  if (is_float(type)) {
    std::vector<float> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (float& v : row) v = uniform(rng);
      quantize_row(type, row.data(), &w[r * row_bytes], cols);
    }
    return w;
  }
  for (uint8_t& b : w) b = static_cast<uint8_t>(rng());
  const TypeTraits traits = type_traits(type);
  const ScaleFields fields = scale_fields(type);
  for (size_t at = 0; at < w.size(); at += traits.type_size) {
    const uint16_t d = f32_to_f16(fields.d * (1.0f + 0.5f * uniform(rng)));
    const uint16_t m = f32_to_f16(0.05f * uniform(rng));
    std::memcpy(&w[at + fields.d_at], &d, 2);
    if (fields.min_at >= 0) std::memcpy(&w[at + fields.min_at], &m, 2);
  }
  return w;
}

// Worst |error| / bound over all outputs (bounds as in test_kernels.cpp).
double worst_error_ratio(TensorType type, int64_t rows, int64_t cols, int64_t n_tokens, ThreadPool& pool, std::mt19937& rng) {
  const std::vector<uint8_t> w = random_weights(type, rows, cols, rng);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(cols * n_tokens), y(rows * n_tokens), wrow(cols);
  for (float& v : x) v = normal(rng);
  Scratch scratch;
  matmul(type, w.data(), rows, cols, x.data(), n_tokens, y.data(), pool, scratch, Path::Simd);
  double worst = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(type, &w[r * type_row_bytes(type, cols)], wrow.data(), cols);
    for (int64_t t = 0; t < n_tokens; ++t) {
      double exact = 0.0, magnitude = 0.0, act_bound = 0.0;
      for (int64_t b = 0; b * 32 < cols; ++b) {
        double amax = 0.0, wsum = 0.0;
        for (int64_t k = b * 32; k < std::min(cols, b * 32 + 32); ++k) {
          const double p = static_cast<double>(wrow[k]) * x[t * cols + k];
          exact += p;
          magnitude += std::fabs(p);
          amax = std::max(amax, static_cast<double>(std::fabs(x[t * cols + k])));
          wsum += std::fabs(wrow[k]);
        }
        act_bound += amax / 254.0 * wsum;
      }
      const double bound = (is_float(type) ? 0.0 : 1.01 * act_bound) + 1e-5 * magnitude + 1e-30;
      worst = std::max(worst, std::fabs(y[t * rows + r] - exact) / bound);
    }
  }
  return worst;
}

// Every half through the F16 weight path (4 columns, so the vector conversion runs): y = w[0] exactly.
bool f16_weights_exact(ThreadPool& pool) {
  Scratch scratch;
  const float x[4] = {1.0f, 0.0f, 0.0f, 0.0f};
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t w[4] = {static_cast<uint16_t>(h), 0, 0, 0};
    float y = 0.0f;
    matmul(TensorType::F16, w, 1, 4, x, 1, &y, pool, scratch, Path::Simd);
    const float want = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(want) ? !std::isnan(y) : y != want) {
      std::printf("f16 0x%04x: got %g, want %g\n", h, y, want);
      return false;
    }
  }
  return true;
}

}  // namespace

int main() {
  std::mt19937 rng(2024);
  ThreadPool pool(1);
  int failures = 0;
  for (SimdLevel level : supported_simd_levels()) {
    set_simd_level_for_testing(level);
    for (TensorType type : kTypes) {
      double worst = 0.0;
      const int64_t cols = type_traits(type).block_size == 256 ? 768 : (is_float(type) ? 1000 : 288);
      for (int64_t n_tokens : {1, 3, 17, 64}) worst = std::max(worst, worst_error_ratio(type, 37, cols, n_tokens, pool, rng));
      const bool ok = worst <= 1.0;
      failures += ok ? 0 : 1;
      std::printf("%-13s %-6s worst error / bound %.3f %s\n", simd_level_name(level), type_traits(type).name, worst, ok ? "ok" : "FAIL");
    }
    const bool f16_ok = f16_weights_exact(pool);
    failures += f16_ok ? 0 : 1;
    std::printf("%-13s f16 weights exact for all 65536 halves: %s\n", simd_level_name(level), f16_ok ? "ok" : "FAIL");
  }
  std::printf("%s\n", failures == 0 ? "all kernels within bounds" : "FAILURES");
  return failures == 0 ? 0 : 1;
}
