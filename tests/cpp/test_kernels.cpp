// CPU kernels: every SIMD level of matmul against exact products within stated error
// bounds; dot / axpy against the scalar reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/simd_dispatch.h"
#include "common/error.h"
#include "quant/quantize.h"

namespace tabllm::cpu {
namespace {

// ----------------------------------------------------------------------------------------------------
// Matmul: random weights of every type, every SIMD level.

constexpr TensorType kAllTypes[] = {TensorType::F32,  TensorType::F16,    TensorType::BF16, TensorType::Q4_0,
                                    TensorType::Q4_1, TensorType::Q5_0,   TensorType::Q5_1, TensorType::Q8_0,
                                    TensorType::Q2_K, TensorType::Q3_K,   TensorType::Q4_K, TensorType::Q5_K,
                                    TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS};

bool is_float_type(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

// Error bounds of Path::Simd against exact products, per output y = sum_k w_k x_k:
//  - float weights (F32/F16/BF16) differ from the exact sum only by float rounding:
//      |err| <= 1e-5 * sum_k |w_k x_k|
//  - quantized weights meet activations rounded to int8 per 32 values (step amax/127, so each x_k moves by
//    at most amax_b/254 in its block b):
//      |err| <= 1.01 * sum_b amax_b / 254 * sum_{k in b} |w_k|  + 1e-5 * sum_k |w_k x_k|
//    which on typical data is an RMS error of about 0.6% of the natural scale sqrt(sum_k (w_k x_k)^2);
//    the RMS over a product must stay below 3% of it (a loose check against systematic errors).
double rms_tolerance(TensorType t) { return is_float_type(t) ? 1e-5 : 3e-2; }

void set_half(std::vector<uint8_t>& bytes, size_t offset, float value) {
  const uint16_t h = f32_to_f16(value);
  std::memcpy(&bytes[offset], &h, 2);
}

// Random rows of `type`: random bits for the quantized values, sane f16 scales (offsets from the GGUF block
// layouts). Float types get random floats.
std::vector<uint8_t> random_weights(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const size_t row_bytes = type_row_bytes(type, cols);
  std::vector<uint8_t> w(row_bytes * rows);
  if (is_float_type(type)) {
    std::vector<float> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (float& v : row) v = uniform(rng);
      quantize_row(type, row.data(), &w[r * row_bytes], cols);
    }
    return w;
  }
  for (uint8_t& b : w) b = static_cast<uint8_t>(rng());
  const TypeTraits traits = type_traits(type);
  const float scale = 0.01f + 0.02f * std::fabs(uniform(rng));
  for (size_t block = 0; block < w.size() / traits.type_size; ++block) {
    const size_t at = block * traits.type_size;
    switch (type) {
      case TensorType::Q4_0:
      case TensorType::Q5_0:
      case TensorType::Q8_0: set_half(w, at, scale * (1.0f + uniform(rng) * 0.5f)); break;
      case TensorType::IQ4_NL: set_half(w, at, scale * 0.1f * (1.0f + uniform(rng) * 0.5f)); break;
      case TensorType::IQ4_XS: set_half(w, at, scale * 0.005f * (1.0f + uniform(rng) * 0.5f)); break;
      case TensorType::Q2_K:
        set_half(w, at + 80, scale * (1.0f + uniform(rng) * 0.5f));
        set_half(w, at + 82, scale * uniform(rng));  // dmin
        break;
      case TensorType::Q3_K: set_half(w, at + 108, scale * 0.05f * (1.0f + uniform(rng) * 0.5f)); break;
      case TensorType::Q4_1:
      case TensorType::Q5_1:
      case TensorType::Q4_K:
      case TensorType::Q5_K:
        set_half(w, at, scale * (1.0f + uniform(rng) * 0.5f));
        set_half(w, at + 2, scale * uniform(rng) * 4.0f);  // min / dmin
        break;
      case TensorType::Q6_K: set_half(w, at + 208, scale * 0.05f * (1.0f + uniform(rng) * 0.5f)); break;
      default: break;
    }
  }
  return w;
}

std::vector<float> random_activations(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  for (int64_t i = 0; i < n; i += 97) x[i] *= 8.0f;  // a few outliers, as real activations have
  return x;
}

class SimdLevels : public ::testing::Test {
 protected:
  void TearDown() override { set_simd_level_for_testing(supported_simd_levels().back()); }
};

struct Product {
  TensorType type;
  int64_t rows, cols, n_tokens;
};

// Checks Path::Simd output `got` against the exact products of dequantized weights, with the bounds above.
void expect_within_bounds(TensorType type, const std::vector<uint8_t>& w, int64_t rows, int64_t cols,
                          const std::vector<float>& x, int64_t n_tokens, const std::vector<float>& got,
                          const std::string& what) {
  std::vector<float> wrow(cols);
  double err2 = 0.0, scale2 = 0.0, worst = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(type, &w[r * type_row_bytes(type, cols)], wrow.data(), cols);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = &x[t * cols];
      double exact = 0.0, magnitude = 0.0, squares = 0.0, act_bound = 0.0;
      for (int64_t b = 0; b < cols / 32; ++b) {
        double amax = 0.0, wsum = 0.0;
        for (int64_t k = b * 32; k < b * 32 + 32; ++k) {
          const double p = static_cast<double>(wrow[k]) * xt[k];
          exact += p;
          magnitude += std::fabs(p);
          squares += p * p;
          amax = std::max(amax, static_cast<double>(std::fabs(xt[k])));
          wsum += std::fabs(wrow[k]);
        }
        act_bound += amax / 254.0 * wsum;
      }
      for (int64_t k = cols / 32 * 32; k < cols; ++k) {  // float types may have a partial block
        const double p = static_cast<double>(wrow[k]) * xt[k];
        exact += p;
        magnitude += std::fabs(p);
        squares += p * p;
      }
      const double bound = (is_float_type(type) ? 0.0 : 1.01 * act_bound) + 1e-5 * magnitude + 1e-30;
      const double err = std::fabs(got[t * rows + r] - exact);
      worst = std::max(worst, err / bound);
      err2 += err * err;
      scale2 += squares;
    }
  }
  EXPECT_LE(worst, 1.0) << what << ": worst error / bound";
  EXPECT_LE(std::sqrt(err2 / std::max(scale2, 1e-30)), rms_tolerance(type)) << what << ": relative RMS error";
}

void expect_simd_within_bounds(const Product& p, ThreadPool& pool, std::mt19937& rng) {
  const std::vector<uint8_t> w = random_weights(p.type, p.rows, p.cols, rng);
  const std::vector<float> x = random_activations(p.cols * p.n_tokens, rng);
  std::vector<float> got(p.rows * p.n_tokens, NAN);
  Scratch scratch;
  matmul(p.type, w.data(), p.rows, p.cols, x.data(), p.n_tokens, got.data(), pool, scratch, Path::Simd);
  expect_within_bounds(p.type, w, p.rows, p.cols, x, p.n_tokens, got,
                       simd_level() + " " + type_traits(p.type).name + " rows " + std::to_string(p.rows) + " cols " +
                           std::to_string(p.cols) + " tokens " + std::to_string(p.n_tokens) + " threads " +
                           std::to_string(pool.size()));
}

TEST_F(SimdLevels, MatmulWithinBoundsForEveryTypeAndLevel) {
  std::mt19937 rng(1234);
  ThreadPool pool(2);
  for (SimdLevel level : supported_simd_levels()) {
    set_simd_level_for_testing(level);
    for (TensorType type : kAllTypes) {
      for (int64_t n_tokens : {1, 3, 17, 64}) {
        for (int64_t rows : {1, 7, 37}) expect_simd_within_bounds({type, rows, 512, n_tokens}, pool, rng);
      }
    }
  }
}

TEST_F(SimdLevels, MatmulHandlesRowsThatAreNotWholeKernelSteps) {
  // 288 = 9 blocks of 32 and 768 = 3 super-blocks: SIMD kernels that take several blocks per step must
  // finish the remainder.
  std::mt19937 rng(21);
  ThreadPool pool(2);
  for (SimdLevel level : supported_simd_levels()) {
    set_simd_level_for_testing(level);
    for (TensorType type : kAllTypes) {
      const int64_t cols = type_traits(type).block_size == 256 ? 768 : 288;
      for (int64_t n_tokens : {1, 2, 3, 5, 20}) expect_simd_within_bounds({type, 11, cols, n_tokens}, pool, rng);
    }
  }
}

TEST_F(SimdLevels, MatmulSplitsWorkOverAnyThreadCount) {
  std::mt19937 rng(99);
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (SimdLevel level : supported_simd_levels()) {
      set_simd_level_for_testing(level);
      // 67 rows leave partial tiles and panels and split unevenly over threads.
      for (TensorType type : {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q6_K, TensorType::F16}) {
        expect_simd_within_bounds({type, 67, 256, 150}, pool, rng);
        expect_simd_within_bounds({type, 67, 256, 2}, pool, rng);
      }
    }
  }
}

TEST_F(SimdLevels, MatmulCrossesTokenChunks) {
  // Panel kernels work in chunks of 64 token groups (512 tokens for AVX2, 1024 for AVX-512).
  std::mt19937 rng(7);
  ThreadPool pool(2);
  for (SimdLevel level : supported_simd_levels()) {
    set_simd_level_for_testing(level);
    expect_simd_within_bounds({TensorType::Q4_K, 19, 256, 1100}, pool, rng);
  }
}

TEST_F(SimdLevels, ScalarPathIsTheExactProduct) {
  std::mt19937 rng(5);
  ThreadPool pool(2);
  for (TensorType type : kAllTypes) {
    const int64_t rows = 9, cols = 256, n_tokens = 5;
    const std::vector<uint8_t> w = random_weights(type, rows, cols, rng);
    const std::vector<float> x = random_activations(cols * n_tokens, rng);
    std::vector<float> got(rows * n_tokens);
    Scratch scratch;
    matmul(type, w.data(), rows, cols, x.data(), n_tokens, got.data(), pool, scratch, Path::Scalar);
    // Float accumulation of exactly dequantized weights: only rounding separates it from the exact sum.
    std::vector<float> wrow(cols);
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_row(type, &w[r * type_row_bytes(type, cols)], wrow.data(), cols);
      for (int64_t t = 0; t < n_tokens; ++t) {
        double exact = 0.0, magnitude = 0.0;
        for (int64_t k = 0; k < cols; ++k) {
          exact += static_cast<double>(wrow[k]) * x[t * cols + k];
          magnitude += std::fabs(static_cast<double>(wrow[k]) * x[t * cols + k]);
        }
        EXPECT_LE(std::fabs(got[t * rows + r] - exact), 1e-5 * magnitude) << type_traits(type).name;
      }
    }
  }
}

TEST_F(SimdLevels, FloatWeightsWithRaggedColumns) {
  std::mt19937 rng(11);
  ThreadPool pool(2);
  for (SimdLevel level : supported_simd_levels()) {
    set_simd_level_for_testing(level);
    // 1000 columns: not a multiple of any vector width.
    for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16}) {
      expect_simd_within_bounds({type, 13, 1000, 7}, pool, rng);
    }
  }
}

TEST_F(SimdLevels, ScratchStopsGrowingAfterTheFirstCall) {
  std::mt19937 rng(3);
  ThreadPool pool(2);
  for (int64_t n_tokens : {1, 64}) {
    const std::vector<uint8_t> w = random_weights(TensorType::Q4_0, 64, 512, rng);
    const std::vector<float> x = random_activations(512 * n_tokens, rng);
    std::vector<float> y(64 * n_tokens);
    Scratch scratch;
    matmul(TensorType::Q4_0, w.data(), 64, 512, x.data(), n_tokens, y.data(), pool, scratch, Path::Simd);
    const uint8_t* data = scratch.bytes.data();
    const size_t size = scratch.bytes.size();
    matmul(TensorType::Q4_0, w.data(), 64, 512, x.data(), n_tokens, y.data(), pool, scratch, Path::Simd);
    EXPECT_EQ(scratch.bytes.data(), data);
    EXPECT_EQ(scratch.bytes.size(), size);
  }
}

TEST_F(SimdLevels, DotAndAxpyMatchScalar) {
  std::mt19937 rng(17);
  for (SimdLevel level : supported_simd_levels()) {
    set_simd_level_for_testing(level);
    for (int64_t n : {0, 1, 7, 16, 33, 64, 1000}) {
      const std::vector<float> a = random_activations(n, rng), b = random_activations(n, rng);
      double magnitude = 0.0;
      for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(static_cast<double>(a[i]) * b[i]);
      EXPECT_NEAR(dot_f32(a.data(), b.data(), n, Path::Simd), dot_f32(a.data(), b.data(), n, Path::Scalar),
                  1e-6 * magnitude + 1e-30)
          << simd_level() << " n " << n;
      std::vector<float> y1 = b, y2 = b;
      axpy_f32(0.75f, a.data(), y1.data(), n, Path::Simd);
      axpy_f32(0.75f, a.data(), y2.data(), n, Path::Scalar);
      for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y1[i], y2[i], 1e-6f * (std::fabs(y2[i]) + 1.0f)) << simd_level();
    }
  }
}

TEST(Kernels, ReportsTheBestLevelAndRejectsBadShapes) {
  EXPECT_EQ(simd_level(), simd_level_name(supported_simd_levels().back()));
  ThreadPool pool(1);
  Scratch scratch;
  float x[64] = {}, y[4];
  uint8_t w[256] = {};
  EXPECT_THROW(matmul(TensorType::Q4_0, w, 1, 48, x, 1, y, pool, scratch, Path::Simd), Error);
  EXPECT_THROW(matmul(TensorType::IQ2_XXS, w, 1, 256, x, 1, y, pool, scratch, Path::Simd), Error);
}

}  // namespace
}  // namespace tabllm::cpu
