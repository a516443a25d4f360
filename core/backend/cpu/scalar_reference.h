// Internal: Path::Scalar, the plain reference every SIMD implementation is tested against. Also what
// Path::Simd falls back to where no SIMD implementation exists.
#pragma once
#include <cstdint>

#include "backend/cpu/simd_dispatch.h"

namespace tabllm::cpu::scalar {

// Floats of scratch one thread needs (one dequantized weight row).
inline size_t matmul_scratch_floats(const MatmulArgs& args) { return static_cast<size_t>(args.cols); }

// Rows [row_begin, row_end) of y: each weight row is dequantized once into `row` and dotted with every token.
void matmul_rows(const MatmulArgs& args, int64_t row_begin, int64_t row_end, float* row);

float dot_f32(const float* a, const float* b, int64_t n);
void axpy_f32(float alpha, const float* x, float* y, int64_t n);

}  // namespace tabllm::cpu::scalar
