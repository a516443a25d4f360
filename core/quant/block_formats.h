// Byte layouts of the GGUF/ggml quantized blocks, shared by the format code and the compute kernels.
// All multi-byte fields are little-endian; `uint16_t` scale fields hold IEEE half floats.
//
// Helpers here are `static inline` on purpose: ISA-specific translation units include this header, and
// internal linkage keeps a copy compiled with AVX-512 flags from being picked for generic callers.
#pragma once
#include <cstdint>
#include <cstring>

namespace tabllm::blocks {

// 32 values: x = d * (q - 8), q in [0, 15]. Element j < 16 is the low nibble of qs[j], element j + 16 the
// high nibble.
struct Q4_0 {
  uint16_t d;
  uint8_t qs[16];
};

// 32 values: x = d * q + m, q in [0, 15], nibbles as in Q4_0.
struct Q4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};

// 32 values: x = d * (q - 16), q in [0, 31]. Low 4 bits as in Q4_0; bit 4 of element j is bit j of the
// little-endian 32-bit word qh.
struct Q5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};

// 32 values: x = d * q + m, q in [0, 31], bits as in Q5_0.
struct Q5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};

// 32 values: x = d * q, q in [-127, 127] (the format allows -128).
struct Q8_0 {
  uint16_t d;
  int8_t qs[32];
};

constexpr int kSuperBlock = 256;

// 256 values in 8 sub-blocks of 32: x = d * sc[j] * q - dmin * m[j], q in [0, 15], with 6-bit sc/m packed
// in `scales` (see unpack_k4_scales). Each 64-value chunk c reads qs[32c .. 32c+32): low nibbles are
// sub-block 2c, high nibbles sub-block 2c+1.
struct Q4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};

// As Q4_K with a fifth bit: q = nibble + 16 * bit, where sub-block j takes bit j of qh[l] for its l-th
// element (l in [0, 32)).
struct Q5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};

// 256 values in 16 sub-blocks of 16: x = d * scales[j] * (q - 32), q in [0, 63]. Each 128-value half h
// uses ql[64h .. 64h+64) and qh[32h .. 32h+32); for l in [0, 32), element 128h + 32i + l (i = 0..3) has
// low bits from ql[64h + l + 32*(i&1)] (low nibble for i < 2, high nibble otherwise) and high bits
// (qh[32h + l] >> 2i) & 3.
struct Q6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};

// 256 values in 16 sub-blocks of 16: x = d * (sc[j] & 15) * q - dmin * (sc[j] >> 4), q in [0, 3]. Each
// 128-value half h reads qs[32h .. 32h+32); element 128h + 32i + l (i = 0..3, l in [0, 32)) is bits
// 2i..2i+1 of qs[32h + l], in sub-block 8h + 2i + l / 16.
struct Q2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;
  uint16_t dmin;
};

// 256 values in 16 sub-blocks of 16: x = d * (s[j] - 32) * (q - 4), q in [0, 7], 6-bit s[j] packed in
// `scales` (see unpack_q3_k_scales). The low 2 bits of q sit in qs as in Q2_K; its third bit for element
// 128h + 32i + l is bit 4h + i of hmask[l].
struct Q3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};

// The 16 values a 4-bit IQ4 index selects (a non-uniform grid, denser near zero).
constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// 32 values: x = d * kIq4Values[index], indices as the nibbles of Q4_0.
struct IQ4_NL {
  uint16_t d;
  uint8_t qs[16];
};

// 256 values in 8 sub-blocks of 32: x = d * (s[j] - 32) * kIq4Values[index]; sub-block j has 6-bit s[j]
// (low 4 bits: nibble j % 2 of scales_l[j / 2], high 2 bits: bits 2j..2j+1 of scales_h) and its indices
// in qs[16j .. 16j+16) ordered as in IQ4_NL.
struct IQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};

static_assert(sizeof(Q2_K) == 84 && sizeof(Q3_K) == 110 && sizeof(IQ4_NL) == 18 && sizeof(IQ4_XS) == 136);
static_assert(sizeof(Q4_0) == 18 && sizeof(Q4_1) == 20 && sizeof(Q5_0) == 22 && sizeof(Q5_1) == 24);
static_assert(sizeof(Q8_0) == 34 && sizeof(Q4_K) == 144 && sizeof(Q5_K) == 176 && sizeof(Q6_K) == 210);

// The eight 6-bit scales and mins of a Q4_K/Q5_K block. Sub-blocks 0-3 keep theirs in the low 6 bits of
// bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 keep the low 4 bits in the nibbles of bytes 8-11 and
// the top 2 bits in the spare top bits of bytes 0-3 (scales) and 4-7 (mins). Done on 32-bit words.
static inline void unpack_k4_scales(const uint8_t packed[12], uint8_t scale[8], uint8_t min[8]) {
  uint32_t w0, w1, w2;
  std::memcpy(&w0, packed, 4);
  std::memcpy(&w1, packed + 4, 4);
  std::memcpy(&w2, packed + 8, 4);
  const uint32_t scale_lo = w0 & 0x3f3f3f3fu;
  const uint32_t min_lo = w1 & 0x3f3f3f3fu;
  const uint32_t scale_hi = (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u);
  const uint32_t min_hi = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u);
  std::memcpy(scale, &scale_lo, 4);
  std::memcpy(scale + 4, &scale_hi, 4);
  std::memcpy(min, &min_lo, 4);
  std::memcpy(min + 4, &min_hi, 4);
}

// The inverse of unpack_k4_scales (each value < 64).
static inline void pack_k4_scales(const uint8_t scale[8], const uint8_t min[8], uint8_t packed[12]) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>(scale[j] | ((scale[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>(min[j] | ((min[j + 4] >> 4) << 6));
    packed[j + 8] = static_cast<uint8_t>((scale[j + 4] & 0xf) | ((min[j + 4] & 0xf) << 4));
  }
}

// The sixteen 6-bit scales of a Q3_K block, minus 32. Sub-block j keeps its low 4 bits in nibble j / 8 of
// packed[j % 8] and its top 2 bits in bits 2(j / 4)..2(j / 4)+1 of packed[8 + j % 4].
static inline void unpack_q3_k_scales(const uint8_t packed[12], int8_t scale[16]) {
  for (int j = 0; j < 16; ++j) {
    const int low = (packed[j % 8] >> (4 * (j / 8))) & 0xf;
    const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    scale[j] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

// The 6-bit scale of IQ4_XS sub-block j, minus 32.
static inline int iq4_xs_scale(const IQ4_XS& b, int j) {
  const int low = (b.scales_l[j / 2] >> (4 * (j % 2))) & 0xf;
  const int high = (b.scales_h >> (2 * j)) & 3;
  return (low | (high << 4)) - 32;
}

static inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

static inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace tabllm::blocks
