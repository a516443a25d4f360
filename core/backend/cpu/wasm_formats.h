// Internal to the WebAssembly CPU kernels (kernels_wasm.cpp: SIMD128, kernels_wasm_relaxed.cpp: relaxed
// SIMD): how each weight format decodes a group of 32 into int16 lanes, and how activations are quantized.
#pragma once
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "quant/block_formats.h"
#include "quant/half_inline.h"
#include "quant/types.h"

namespace tabllm::cpu::wasm128 {

inline float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

inline int32_t hsum_i32(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) + wasm_i32x4_extract_lane(v, 2) +
         wasm_i32x4_extract_lane(v, 3);
}

inline v128_t load(const void* p) { return wasm_v128_load(p); }

// 4 halves (the low 16 bits of each lane) -> 4 floats, exactly: the bits shifted into place and rescaled
// by 2^112 (exact for normals and subnormals alike); infinities and nans get the all-ones exponent.
inline v128_t halves_to_floats(v128_t h) {
  const v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);
  const v128_t bits = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7fff)), 13);
  const v128_t finite = wasm_f32x4_mul(bits, wasm_f32x4_splat(0x1p112f));
  const v128_t special = wasm_i32x4_eq(wasm_v128_and(h, wasm_i32x4_splat(0x7c00)), wasm_i32x4_splat(0x7c00));
  return wasm_v128_or(sign, wasm_v128_bitselect(wasm_v128_or(bits, wasm_i32x4_splat(0x7f800000)), finite, special));
}

// ---------------------------------------------------------------------------------------------------
// Weight formats. Group g of a block comes as its 32 quants widened to int16, in the order the
// activations are stored in: per 16 values, the 8 even ones, then the 8 odd ones. Those are the low and
// high bytes of a 16-bit lane, so a byte's bit field is one shift and one mask of the lanes: 4- and
// 2-bit formats take their values straight from the packed bytes, and no format widens byte by byte.
// Quants are unsigned where the format stores them so, and kZero is the format's zero point (Q4_0's 8):
// decode and the relaxed-SIMD tile apply it as a min, -zero * scale, through the activations' sums like
// the mins of Q4_1 and Q4_K; SIMD128's prefill panel subtracts it from the quants once.
// A format says: kBlockBytes, kGroups per block, kBits per quant (8: signed bytes), kSub16 (each 16 values
// scaled apart), kHasMin (mins stored in the format), kZero; its Block gives group(g) and scale(g) /
// min(g) (scale16 / min16 with kSub16) as floats, and decode reads the scales and stored mins of four
// units at once: quad_scales (kernels_wasm.cpp) for formats of one group per block, Block::scales4 for
// the others.

struct Wide {
  v128_t w[4];  // values 0-15 (even, odd), then 16-31 (even, odd)
};

// Bits [shift, shift + width) of the even and the odd bytes of lo (values 0-15) and of hi (16-31).
inline v128_t even_field(v128_t v, int shift, int16_t mask) { return wasm_v128_and(wasm_u16x8_shr(v, shift), wasm_i16x8_splat(mask)); }
inline v128_t odd_field(v128_t v, int shift, int16_t mask) { return wasm_v128_and(wasm_u16x8_shr(v, shift + 8), wasm_i16x8_splat(mask)); }
inline Wide fields(v128_t lo, int lo_shift, v128_t hi, int hi_shift, int16_t mask) {
  return {{even_field(lo, lo_shift, mask), odd_field(lo, lo_shift, mask), even_field(hi, hi_shift, mask), odd_field(hi, hi_shift, mask)}};
}
inline Wide unsigned_bytes(v128_t lo, v128_t hi) { return fields(lo, 0, hi, 0, 0xff); }
// low | high << shift, lane by lane: a format's upper bits joined to its lower ones.
inline Wide with_high_bits(const Wide& low, const Wide& high, int shift) {
  Wide out;
  for (int i = 0; i < 4; ++i) out.w[i] = wasm_v128_or(low.w[i], wasm_i16x8_shl(high.w[i], shift));
  return out;
}
inline Wide signed_bytes(v128_t lo, v128_t hi) {
  return {{wasm_i16x8_shr(wasm_i16x8_shl(lo, 8), 8), wasm_i16x8_shr(lo, 8), wasm_i16x8_shr(wasm_i16x8_shl(hi, 8), 8), wasm_i16x8_shr(hi, 8)}};
}

inline v128_t low_nibbles(v128_t v) { return wasm_v128_and(v, wasm_i8x16_splat(0x0f)); }
inline v128_t high_nibbles(v128_t v) { return wasm_u8x16_shr(v, 4); }

// Byte j = 0x10 where bit j of the 16-bit `bits` is set (the fifth bit of Q5_0/Q5_1).
inline v128_t fifth_bits(uint32_t bits) {
  const v128_t spread = wasm_i8x16_swizzle(wasm_i32x4_splat(static_cast<int32_t>(bits)),
                                           wasm_i8x16_make(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const v128_t select = wasm_i8x16_make(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(spread, select), select), wasm_i8x16_splat(0x10));
}

// Formats of one group per block: the f16 scale at the block's start, kMinAt the offset of an f16 min
// (or -1), kZero the zero point.
struct FormatQ4_0 {
  static constexpr int kBlockBytes = 18, kGroups = 1, kMinAt = -1, kZero = 8, kBits = 4;
  static constexpr bool kHasMin = false, kSub16 = false;
  struct Block {
    const blocks::Q4_0* b;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q4_0*>(p)) {}
    Wide group(int) const {
      const v128_t v = load(b->qs);
      return fields(v, 0, v, 4, 0xf);
    }
    float scale(int) const { return f16_to_f32_inline(b->d); }
    float min(int) const { return 0.0f; }
  };
};

struct FormatQ4_1 {
  static constexpr int kBlockBytes = 20, kGroups = 1, kMinAt = 2, kZero = 0, kBits = 4;
  static constexpr bool kHasMin = true, kSub16 = false;
  struct Block {
    const blocks::Q4_1* b;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q4_1*>(p)) {}
    Wide group(int) const {
      const v128_t v = load(b->qs);
      return fields(v, 0, v, 4, 0xf);
    }
    float scale(int) const { return f16_to_f32_inline(b->d); }
    float min(int) const { return f16_to_f32_inline(b->m); }
  };
};

template <class Raw>
inline Wide q5_group(const Raw* b) {
  const uint32_t qh = blocks::load_u32(b->qh);
  const v128_t v = load(b->qs);
  return unsigned_bytes(wasm_v128_or(low_nibbles(v), fifth_bits(qh & 0xffff)), wasm_v128_or(high_nibbles(v), fifth_bits(qh >> 16)));
}

struct FormatQ5_0 {
  static constexpr int kBlockBytes = 22, kGroups = 1, kMinAt = -1, kZero = 16, kBits = 5;
  static constexpr bool kHasMin = false, kSub16 = false;
  struct Block {
    const blocks::Q5_0* b;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q5_0*>(p)) {}
    Wide group(int) const { return q5_group(b); }
    float scale(int) const { return f16_to_f32_inline(b->d); }
    float min(int) const { return 0.0f; }
  };
};

struct FormatQ5_1 {
  static constexpr int kBlockBytes = 24, kGroups = 1, kMinAt = 2, kZero = 0, kBits = 5;
  static constexpr bool kHasMin = true, kSub16 = false;
  struct Block {
    const blocks::Q5_1* b;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q5_1*>(p)) {}
    Wide group(int) const { return q5_group(b); }
    float scale(int) const { return f16_to_f32_inline(b->d); }
    float min(int) const { return f16_to_f32_inline(b->m); }
  };
};

struct FormatQ8_0 {
  static constexpr int kBlockBytes = 34, kGroups = 1, kMinAt = -1, kZero = 0, kBits = 8;
  static constexpr bool kHasMin = false, kSub16 = false;
  struct Block {
    const blocks::Q8_0* b;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q8_0*>(p)) {}
    Wide group(int) const { return signed_bytes(load(b->qs), load(b->qs + 16)); }
    float scale(int) const { return f16_to_f32_inline(b->d); }
    float min(int) const { return 0.0f; }
  };
};

// IQ4: 16 packed index pairs looked up in the grid (signed bytes as they are).
inline Wide iq4_group(const uint8_t* qs) {
  const v128_t grid = wasm_i8x16_make(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
  const v128_t v = load(qs);
  return signed_bytes(wasm_i8x16_swizzle(grid, low_nibbles(v)), wasm_i8x16_swizzle(grid, high_nibbles(v)));
}

struct FormatIQ4_NL {
  static constexpr int kBlockBytes = 18, kGroups = 1, kMinAt = -1, kZero = 0, kBits = 8;
  static constexpr bool kHasMin = false, kSub16 = false;
  struct Block {
    const blocks::IQ4_NL* b;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::IQ4_NL*>(p)) {}
    Wide group(int) const { return iq4_group(b->qs); }
    float scale(int) const { return f16_to_f32_inline(b->d); }
    float min(int) const { return 0.0f; }
  };
};

// Four bytes at p as floats.
inline v128_t u8x4_floats(const uint8_t* p) {
  return wasm_f32x4_convert_i32x4(wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(wasm_v128_load32_zero(p))));
}
inline v128_t i8x4_floats(const int8_t* p) {
  return wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(wasm_i16x8_extend_low_i8x16(wasm_v128_load32_zero(p))));
}

// The scales and mins of four consecutive units (groups, or 16-value halves with kSub16).
struct Scales4 {
  v128_t scale, min;
};

// Formats of 8 groups per block give the scales of units 4q .. 4q + 3 of the block (scales4(q)).
// Q4_K / Q5_K: group g is sub-block g, nibbles of qs[32 * (g / 2) ..] (+ bit g of qh for Q5_K).
template <bool kFifthBit>
struct FormatK4 {
  using Raw = std::conditional_t<kFifthBit, blocks::Q5_K, blocks::Q4_K>;
  static constexpr int kBlockBytes = sizeof(Raw), kGroups = 8, kZero = 0, kBits = kFifthBit ? 5 : 4;
  static constexpr bool kHasMin = true, kSub16 = false;
  struct Block {
    const Raw* b;
    float d, dmin;
    uint8_t sc[8], mn[8];
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const Raw*>(p)) {
      d = f16_to_f32_inline(b->d);
      dmin = f16_to_f32_inline(b->dmin);
      blocks::unpack_k4_scales(b->scales, sc, mn);
    }
    Wide group(int g) const {
      const uint8_t* qs = b->qs + 32 * (g / 2);
      const int shift = 4 * (g % 2);
      const Wide low = fields(load(qs), shift, load(qs + 16), shift, 0xf);
      if constexpr (kFifthBit) return with_high_bits(low, fields(load(b->qh), g, load(b->qh + 16), g, 1), 4);
      return low;
    }
    float scale(int g) const { return d * static_cast<float>(sc[g]); }
    float min(int g) const { return -dmin * static_cast<float>(mn[g]); }
    Scales4 scales4(int q) const {
      return {wasm_f32x4_mul(wasm_f32x4_splat(d), u8x4_floats(sc + 4 * q)), wasm_f32x4_mul(wasm_f32x4_splat(-dmin), u8x4_floats(mn + 4 * q))};
    }
  };
};

// Q6_K: group g = 32 consecutive values; each 16 has its own scale.
struct FormatQ6_K {
  static constexpr int kBlockBytes = 210, kGroups = 8, kZero = 32, kBits = 6;
  static constexpr bool kHasMin = false, kSub16 = true;
  struct Block {
    const blocks::Q6_K* b;
    float d;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q6_K*>(p)), d(f16_to_f32_inline(b->d)) {}
    Wide group(int g) const {
      const int half = g / 4, part = g % 4;
      const uint8_t* low = b->ql + 64 * half + 32 * (part & 1);
      const uint8_t* high = b->qh + 32 * half;
      const int low_shift = 4 * (part >> 1), high_shift = 2 * part;
      return with_high_bits(fields(load(low), low_shift, load(low + 16), low_shift, 0xf),
                            fields(load(high), high_shift, load(high + 16), high_shift, 3), 4);
    }
    float scale16(int g, int sub) const { return d * static_cast<float>(b->scales[2 * g + sub]); }
    float min16(int, int) const { return 0.0f; }
    Scales4 scales4(int q) const { return {wasm_f32x4_mul(wasm_f32x4_splat(d), i8x4_floats(b->scales + 4 * q)), wasm_f32x4_splat(0.0f)}; }
  };
};

// Q2_K: group g = 32 consecutive values; each 16 has its own 4-bit scale and min.
struct FormatQ2_K {
  static constexpr int kBlockBytes = 84, kGroups = 8, kZero = 0, kBits = 2;
  static constexpr bool kHasMin = true, kSub16 = true;
  struct Block {
    const blocks::Q2_K* b;
    float d, dmin;
    explicit Block(const uint8_t* p)
        : b(reinterpret_cast<const blocks::Q2_K*>(p)), d(f16_to_f32_inline(b->d)), dmin(f16_to_f32_inline(b->dmin)) {}
    Wide group(int g) const {
      const uint8_t* at = b->qs + 32 * (g / 4);
      const int shift = 2 * (g % 4);
      return fields(load(at), shift, load(at + 16), shift, 3);
    }
    float scale16(int g, int sub) const { return d * static_cast<float>(b->scales[2 * g + sub] & 0xf); }
    float min16(int g, int sub) const { return -dmin * static_cast<float>(b->scales[2 * g + sub] >> 4); }
    Scales4 scales4(int q) const {
      const v128_t bytes = wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(wasm_v128_load32_zero(b->scales + 4 * q)));
      return {wasm_f32x4_mul(wasm_f32x4_splat(d), wasm_f32x4_convert_i32x4(wasm_v128_and(bytes, wasm_i32x4_splat(0xf)))),
              wasm_f32x4_mul(wasm_f32x4_splat(-dmin), wasm_f32x4_convert_i32x4(wasm_u32x4_shr(bytes, 4)))};
    }
  };
};

// Q3_K: Q2_K's low bits, the third from bit g of hmask[l], minus 4; signed 6-bit scales per 16 values.
struct FormatQ3_K {
  static constexpr int kBlockBytes = 110, kGroups = 8, kZero = 4, kBits = 3;
  static constexpr bool kHasMin = false, kSub16 = true;
  struct Block {
    const blocks::Q3_K* b;
    float d;
    int8_t sc[16];
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q3_K*>(p)), d(f16_to_f32_inline(b->d)) {
      blocks::unpack_q3_k_scales(b->scales, sc);
    }
    Wide group(int g) const {
      const uint8_t* at = b->qs + 32 * (g / 4);
      const int shift = 2 * (g % 4);
      return with_high_bits(fields(load(at), shift, load(at + 16), shift, 3), fields(load(b->hmask), g, load(b->hmask + 16), g, 1), 2);
    }
    float scale16(int g, int sub) const { return d * static_cast<float>(sc[2 * g + sub]); }
    float min16(int, int) const { return 0.0f; }
    Scales4 scales4(int q) const { return {wasm_f32x4_mul(wasm_f32x4_splat(d), i8x4_floats(sc + 4 * q)), wasm_f32x4_splat(0.0f)}; }
  };
};

struct FormatIQ4_XS {
  static constexpr int kBlockBytes = 136, kGroups = 8, kZero = 0, kBits = 8;
  static constexpr bool kHasMin = false, kSub16 = false;
  struct Block {
    const blocks::IQ4_XS* b;
    float d;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::IQ4_XS*>(p)), d(f16_to_f32_inline(b->d)) {}
    Wide group(int g) const { return iq4_group(b->qs + 16 * g); }
    float scale(int g) const { return d * static_cast<float>(blocks::iq4_xs_scale(*b, g)); }
    float min(int) const { return 0.0f; }
    Scales4 scales4(int q) const { return {wasm_f32x4_make(scale(4 * q), scale(4 * q + 1), scale(4 * q + 2), scale(4 * q + 3)), wasm_f32x4_splat(0.0f)}; }
  };
};

template <class Fn>
inline bool visit_quantized(TensorType type, Fn&& fn) {
  switch (type) {
    case TensorType::Q4_0: fn(FormatQ4_0{}); return true;
    case TensorType::Q4_1: fn(FormatQ4_1{}); return true;
    case TensorType::Q5_0: fn(FormatQ5_0{}); return true;
    case TensorType::Q5_1: fn(FormatQ5_1{}); return true;
    case TensorType::Q8_0: fn(FormatQ8_0{}); return true;
    case TensorType::Q4_K: fn(FormatK4<false>{}); return true;
    case TensorType::Q5_K: fn(FormatK4<true>{}); return true;
    case TensorType::Q6_K: fn(FormatQ6_K{}); return true;
    case TensorType::Q2_K: fn(FormatQ2_K{}); return true;
    case TensorType::Q3_K: fn(FormatQ3_K{}); return true;
    case TensorType::IQ4_NL: fn(FormatIQ4_NL{}); return true;
    case TensorType::IQ4_XS: fn(FormatIQ4_XS{}); return true;
    default: return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Activations are quantized per 32 values to int8 range (per-block scale d = max |x| / 127), in the
// weights' Wide order: q[0], q[1] the even and odd values of 0-15, q[2], q[3] those of 16-31 (int16 lanes).
struct QuantizedBlock {
  v128_t q[4];
  float d;
  int32_t sum, sum_lo;  // of all 32 q, and of the first 16
};

inline QuantizedBlock quantize_block(const float* x) {
  v128_t v[8];
  v128_t amax = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < 8; ++i) {
    v[i] = load(x + 4 * i);
    amax = wasm_f32x4_max(amax, wasm_f32x4_abs(v[i]));
  }
  const float m = std::max(std::max(wasm_f32x4_extract_lane(amax, 0), wasm_f32x4_extract_lane(amax, 1)),
                           std::max(wasm_f32x4_extract_lane(amax, 2), wasm_f32x4_extract_lane(amax, 3)));
  const v128_t inv = wasm_f32x4_splat(m > 0.0f ? 127.0f / m : 0.0f);
  QuantizedBlock out;
  v128_t sum = wasm_i32x4_splat(0), sum_lo = sum, eight[2];
  for (int i = 0; i < 8; i += 2) {
    const v128_t a = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(v[i], inv)));
    const v128_t b = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(v[i + 1], inv)));
    sum = wasm_i32x4_add(sum, wasm_i32x4_add(a, b));
    if (i == 2) sum_lo = sum;
    eight[i / 2 % 2] = wasm_i16x8_narrow_i32x4(a, b);
    if (i % 4 == 2) {  // 16 values: the even ones, then the odd ones
      out.q[i / 2 - 1] = wasm_i16x8_shuffle(eight[0], eight[1], 0, 2, 4, 6, 8, 10, 12, 14);
      out.q[i / 2] = wasm_i16x8_shuffle(eight[0], eight[1], 1, 3, 5, 7, 9, 11, 13, 15);
    }
  }
  out.d = m / 127.0f;
  out.sum = hsum_i32(sum);
  out.sum_lo = hsum_i32(sum_lo);
  return out;
}

}  // namespace tabllm::cpu::wasm128
#endif
