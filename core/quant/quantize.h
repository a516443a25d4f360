// Block formats: exact dequantization and quantization of every supported type.
#pragma once
#include <cstdint>

#include "quant/types.h"

namespace tabllm {

// dst[0..n) = the exact values encoded in src (n a multiple of the block size). Throws Error for
// types tabllm cannot read.
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// Encodes src[0..n) into dst (type_row_bytes(type, n) bytes). Every supported type: F32, F16, BF16, Q8_0,
// Q4_0, Q4_1, Q5_0, Q5_1 round to nearest, as the reference formats define; IQ4_NL and the super-block
// formats (Q2_K..Q6_K, IQ4_XS) fit their scales to minimise a weighted squared error. Others throw Error.
void quantize_row(TensorType type, const float* src, void* dst, int64_t n);
bool can_quantize(TensorType type);

// IEEE half / bfloat16 conversions (round-to-nearest-even), usable everywhere.
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

}  // namespace tabllm
