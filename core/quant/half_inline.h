// f16 -> f32 inline, for kernels that convert a block scale per block. Bitwise equal to f16_to_f32 for
// every input, and free of branches: quantized scales are randomly signed, so a conditional negate (or an
// exponent test) mispredicts, and under WebAssembly that cost about as much as the rest of a Q4_0 block.
#pragma once
#include <cstdint>
#include <cstring>

namespace tabllm {

inline float f16_to_f32_inline(uint16_t h) {
  // The magnitude's bits shifted into place and rescaled by 2^112: exact for normals and subnormals.
  const uint32_t bits = static_cast<uint32_t>(h & 0x7fff) << 13;
  float scaled;
  std::memcpy(&scaled, &bits, 4);
  scaled *= 0x1p112f;
  uint32_t magnitude;
  std::memcpy(&magnitude, &scaled, 4);
  // Infinities and nans take the all-ones exponent instead (a select, not a branch); then the sign bit.
  magnitude = (h & 0x7c00) == 0x7c00 ? bits | 0x7f800000 : magnitude;
  const uint32_t out = magnitude | static_cast<uint32_t>(h & 0x8000) << 16;
  float f;
  std::memcpy(&f, &out, 4);
  return f;
}

}  // namespace tabllm
