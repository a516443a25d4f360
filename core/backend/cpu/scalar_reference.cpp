#include "backend/cpu/scalar_reference.h"

#include "quant/quantize.h"

namespace tabllm::cpu::scalar {

void matmul_rows(const MatmulArgs& args, int64_t row_begin, int64_t row_end, float* row) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    dequantize_row(args.type, args.W + static_cast<size_t>(r) * args.row_bytes, row, args.cols);
    for (int64_t t = 0; t < args.n_tokens; ++t) {
      args.y[t * args.rows + r] = dot_f32(row, args.x + t * args.cols, args.cols);
    }
  }
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy_f32(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

}  // namespace tabllm::cpu::scalar
