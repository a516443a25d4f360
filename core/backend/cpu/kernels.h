// CPU compute kernels used by the forward pass. Two implementations of every kernel:
//   Path::Scalar — the plain C++ reference everything else is checked against (weights dequantized to
//                  float, float accumulation);
//   Path::Simd   — the fast path: AVX-512 / AVX2 chosen at run time on x86-64, SIMD128 under WebAssembly,
//                  scalar elsewhere; quantized weights are multiplied by int8-quantized activations
//                  (Q8 blocks) without dequantizing whole matrices.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "backend/cpu/thread_pool.h"
#include "quant/types.h"

namespace tabllm::cpu {

enum class Path { Scalar, Simd };

// Describes which instruction set the Simd path uses on this machine ("avx512", "avx2", "wasm-simd128",
// "scalar").
std::string simd_level();

// Reusable scratch memory for matmul (quantized activations). Grows on first use, then no allocation.
struct Scratch {
  std::vector<uint8_t> bytes;
};

// Matrix product with a weight matrix in GGUF layout:
//   W: `rows` rows of `cols` elements, each row type_row_bytes(type, cols) bytes, rows contiguous.
//   x: n_tokens × cols floats (row-major), y: n_tokens × rows floats (row-major).
//   y[t][r] = sum_c W[r][c] * x[t][c]
// Work is split over the pool's threads. n_tokens > 1 is the batched prefill case and must be
// matrix-matrix work (each weight block loaded once per group of tokens), not n_tokens matrix-vector calls.
void matmul(TensorType type, const void* W, int64_t rows, int64_t cols, const float* x, int64_t n_tokens,
            float* y, ThreadPool& pool, Scratch& scratch, Path path);

// Small float primitives for norms and attention (Simd path vectorized, Scalar plain loops).
float dot_f32(const float* a, const float* b, int64_t n, Path path);
void axpy_f32(float alpha, const float* x, float* y, int64_t n, Path path);  // y += alpha * x

}  // namespace tabllm::cpu
