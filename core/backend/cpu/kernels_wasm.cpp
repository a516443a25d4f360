// The Simd path under WebAssembly SIMD128 (the whole WebAssembly build has -msimd128).
//
// SIMD128 multiplies 16-bit integers (i32x4.dot_i16x8_s: 8 products summed in pairs), so activations are
// quantized per 32 values to int8 range and stored widened to int16; weights are decoded per group of 32
// straight into int16 lanes (see "Weight formats"). Decode multiplies each row by its one token, four
// scale units at a time. Prefill decodes 4 rows at a time into a panel (int16 groups, float scales) that
// stays in cache for every quad of tokens; a tile of 4 rows times a quad loads each token's activations
// once for the four rows and applies the scales to the quad's four sums as one vector.
#include "backend/cpu/simd_dispatch.h"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

#include <algorithm>
#include <type_traits>

#include "quant/block_formats.h"
#include "quant/half_inline.h"
#include "quant/quantize.h"

namespace tabllm::cpu {
namespace {

float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

int32_t hsum_i32(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) + wasm_i32x4_extract_lane(v, 2) +
         wasm_i32x4_extract_lane(v, 3);
}

v128_t load(const void* p) { return wasm_v128_load(p); }

// 4 halves (the low 16 bits of each lane) -> 4 floats, exactly: the bits shifted into place and rescaled
// by 2^112 (exact for normals and subnormals alike); infinities and nans get the all-ones exponent.
v128_t halves_to_floats(v128_t h) {
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
// decode applies it as a min, -zero * scale, through the activations' sums like the mins of Q4_1 and
// Q4_K; the prefill panel subtracts it from the quants once.
// A format says: kBlockBytes, kGroups per block, kSub16 (each 16 values scaled apart), kHasMin (mins
// stored in the format), kZero; its Block gives group(g) and scale(g) / min(g) (scale16 / min16 with
// kSub16) as floats, and decode reads the scales and stored mins of four units at once: quad_scales
// below for formats of one group per block, Block::scales4 for the others.

struct Wide {
  v128_t w[4];  // values 0-15 (even, odd), then 16-31 (even, odd)
};

// Bits [shift, shift + width) of the even and the odd bytes of lo (values 0-15) and of hi (16-31).
v128_t even_field(v128_t v, int shift, int16_t mask) { return wasm_v128_and(wasm_u16x8_shr(v, shift), wasm_i16x8_splat(mask)); }
v128_t odd_field(v128_t v, int shift, int16_t mask) { return wasm_v128_and(wasm_u16x8_shr(v, shift + 8), wasm_i16x8_splat(mask)); }
Wide fields(v128_t lo, int lo_shift, v128_t hi, int hi_shift, int16_t mask) {
  return {{even_field(lo, lo_shift, mask), odd_field(lo, lo_shift, mask), even_field(hi, hi_shift, mask), odd_field(hi, hi_shift, mask)}};
}
Wide unsigned_bytes(v128_t lo, v128_t hi) { return fields(lo, 0, hi, 0, 0xff); }
// low | high << shift, lane by lane: a format's upper bits joined to its lower ones.
Wide with_high_bits(const Wide& low, const Wide& high, int shift) {
  Wide out;
  for (int i = 0; i < 4; ++i) out.w[i] = wasm_v128_or(low.w[i], wasm_i16x8_shl(high.w[i], shift));
  return out;
}
Wide signed_bytes(v128_t lo, v128_t hi) {
  return {{wasm_i16x8_shr(wasm_i16x8_shl(lo, 8), 8), wasm_i16x8_shr(lo, 8), wasm_i16x8_shr(wasm_i16x8_shl(hi, 8), 8), wasm_i16x8_shr(hi, 8)}};
}

v128_t low_nibbles(v128_t v) { return wasm_v128_and(v, wasm_i8x16_splat(0x0f)); }
v128_t high_nibbles(v128_t v) { return wasm_u8x16_shr(v, 4); }

// Byte j = 0x10 where bit j of the 16-bit `bits` is set (the fifth bit of Q5_0/Q5_1).
v128_t fifth_bits(uint32_t bits) {
  const v128_t spread = wasm_i8x16_swizzle(wasm_i32x4_splat(static_cast<int32_t>(bits)),
                                           wasm_i8x16_make(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const v128_t select = wasm_i8x16_make(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(spread, select), select), wasm_i8x16_splat(0x10));
}

// Formats of one group per block: the f16 scale at the block's start, kMinAt the offset of an f16 min
// (or -1), kZero the zero point.
struct FormatQ4_0 {
  static constexpr int kBlockBytes = 18, kGroups = 1, kMinAt = -1, kZero = 8;
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
  static constexpr int kBlockBytes = 20, kGroups = 1, kMinAt = 2, kZero = 0;
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
Wide q5_group(const Raw* b) {
  const uint32_t qh = blocks::load_u32(b->qh);
  const v128_t v = load(b->qs);
  return unsigned_bytes(wasm_v128_or(low_nibbles(v), fifth_bits(qh & 0xffff)), wasm_v128_or(high_nibbles(v), fifth_bits(qh >> 16)));
}

struct FormatQ5_0 {
  static constexpr int kBlockBytes = 22, kGroups = 1, kMinAt = -1, kZero = 16;
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
  static constexpr int kBlockBytes = 24, kGroups = 1, kMinAt = 2, kZero = 0;
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
  static constexpr int kBlockBytes = 34, kGroups = 1, kMinAt = -1, kZero = 0;
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
Wide iq4_group(const uint8_t* qs) {
  const v128_t grid = wasm_i8x16_make(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
  const v128_t v = load(qs);
  return signed_bytes(wasm_i8x16_swizzle(grid, low_nibbles(v)), wasm_i8x16_swizzle(grid, high_nibbles(v)));
}

struct FormatIQ4_NL {
  static constexpr int kBlockBytes = 18, kGroups = 1, kMinAt = -1, kZero = 0;
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
v128_t u8x4_floats(const uint8_t* p) {
  return wasm_f32x4_convert_i32x4(wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(wasm_v128_load32_zero(p))));
}
v128_t i8x4_floats(const int8_t* p) {
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
  static constexpr int kBlockBytes = sizeof(Raw), kGroups = 8, kZero = 0;
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
  static constexpr int kBlockBytes = 210, kGroups = 8, kZero = 32;
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
  static constexpr int kBlockBytes = 84, kGroups = 8, kZero = 0;
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
  static constexpr int kBlockBytes = 110, kGroups = 8, kZero = 4;
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
  static constexpr int kBlockBytes = 136, kGroups = 8, kZero = 0;
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
bool visit_quantized(TensorType type, Fn&& fn) {
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
// Activations: token t has q[t * cols ..] (int16 holding int8-range values, each 16 as the weights' Wide
// orders them: even ones, then odd ones), and per 32-block b the
// scale d, dsum = d * sum(q) and dsum_lo = d * sum of its first 16 q at [b * n_pad + t]: block-major, so
// that the scales of 4 consecutive tokens are one vector. With more than one token, the tokens are padded
// to a multiple of 4 with zeros (prefill runs on quads of tokens). Scratch holds them in that order.

struct Acts {
  int16_t* q;
  float* d;
  float* dsum;
  float* dsum_lo;
  int64_t cols, n_blocks, n_pad;
};

size_t round_up(size_t n) { return (n + 63) / 64 * 64; }

int64_t padded_tokens(int64_t n_tokens) { return n_tokens == 1 ? 1 : (n_tokens + 3) / 4 * 4; }

Acts acts_in(const MatmulArgs& m, uint8_t* scratch) {
  const auto n_pad = static_cast<size_t>(padded_tokens(m.n_tokens)), cols = static_cast<size_t>(m.cols);
  const size_t n_blocks = cols / 32, q_bytes = round_up(n_pad * cols * 2), s_bytes = round_up(n_pad * n_blocks * 4);
  return {reinterpret_cast<int16_t*>(scratch), reinterpret_cast<float*>(scratch + q_bytes),
          reinterpret_cast<float*>(scratch + q_bytes + s_bytes), reinterpret_cast<float*>(scratch + q_bytes + 2 * s_bytes),
          m.cols, static_cast<int64_t>(n_blocks), static_cast<int64_t>(n_pad)};
}

size_t acts_bytes(const MatmulArgs& m) {
  const auto n_pad = static_cast<size_t>(padded_tokens(m.n_tokens)), cols = static_cast<size_t>(m.cols);
  return round_up(n_pad * cols * 2) + 3 * round_up(n_pad * (cols / 32) * 4);
}

size_t panel_bytes(const MatmulArgs& m);

// The activations, then (prefill) one panel per thread.
size_t scratch_bytes(const MatmulArgs& m, int n_threads) {
  if (!visit_quantized(m.type, [](auto) {})) return 0;
  return acts_bytes(m) + (m.n_tokens > 1 ? static_cast<size_t>(n_threads) * panel_bytes(m) : 0);
}

void quantize_block(const float* x, int16_t* q, float* d_out, float* dsum_out, float* dsum_lo_out) {
  v128_t v[8];
  v128_t amax = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < 8; ++i) {
    v[i] = load(x + 4 * i);
    amax = wasm_f32x4_max(amax, wasm_f32x4_abs(v[i]));
  }
  const float m = std::max(std::max(wasm_f32x4_extract_lane(amax, 0), wasm_f32x4_extract_lane(amax, 1)),
                           std::max(wasm_f32x4_extract_lane(amax, 2), wasm_f32x4_extract_lane(amax, 3)));
  const v128_t inv = wasm_f32x4_splat(m > 0.0f ? 127.0f / m : 0.0f);
  v128_t sum = wasm_i32x4_splat(0), sum_lo = sum, eight[2];
  for (int i = 0; i < 8; i += 2) {
    const v128_t a = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(v[i], inv)));
    const v128_t b = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(v[i + 1], inv)));
    sum = wasm_i32x4_add(sum, wasm_i32x4_add(a, b));
    if (i == 2) sum_lo = sum;
    eight[i / 2 % 2] = wasm_i16x8_narrow_i32x4(a, b);
    if (i % 4 == 2) {  // 16 values: the even ones, then the odd ones (the order of the weights' Wide)
      wasm_v128_store(q + 4 * i - 8, wasm_i16x8_shuffle(eight[0], eight[1], 0, 2, 4, 6, 8, 10, 12, 14));
      wasm_v128_store(q + 4 * i, wasm_i16x8_shuffle(eight[0], eight[1], 1, 3, 5, 7, 9, 11, 13, 15));
    }
  }
  *d_out = m / 127.0f;
  *dsum_out = *d_out * static_cast<float>(hsum_i32(sum));
  *dsum_lo_out = *d_out * static_cast<float>(hsum_i32(sum_lo));
}

Grain grain(const MatmulArgs&) { return {1, 4}; }

void prepare(const MatmulArgs& m, uint8_t* scratch, int64_t t_begin, int64_t t_end) {
  if (!visit_quantized(m.type, [](auto) {})) return;
  const Acts a = acts_in(m, scratch);
  for (int64_t t = t_begin; t < t_end; ++t) {
    for (int64_t b = 0; b < a.n_blocks; ++b) {
      const int64_t i = b * a.n_pad + t;
      quantize_block(m.x + t * m.cols + 32 * b, a.q + t * a.cols + 32 * b, &a.d[i], &a.dsum[i], &a.dsum_lo[i]);
    }
  }
  if (t_end != m.n_tokens) return;
  // The part holding the last token also zeroes the padding, so that a quad's unused lanes stay finite.
  std::fill(a.q + m.n_tokens * a.cols, a.q + a.n_pad * a.cols, int16_t{0});
  for (int64_t b = 0; b < a.n_blocks; ++b) {
    for (int64_t t = m.n_tokens; t < a.n_pad; ++t) a.d[b * a.n_pad + t] = a.dsum[b * a.n_pad + t] = a.dsum_lo[b * a.n_pad + t] = 0.0f;
  }
}

// ---------------------------------------------------------------------------------------------------
// The integer dot product of one group (widened once, used for every token) with the 32 activations at
// x: two vectors of partial sums, values 0-15 and 16-31 (kSub16 formats scale them apart).

struct HalfDots {
  v128_t lo, hi;
};

HalfDots group_dot(const Wide& w, const int16_t* x) {
  return {wasm_i32x4_add(wasm_i32x4_dot_i16x8(w.w[0], load(x)), wasm_i32x4_dot_i16x8(w.w[1], load(x + 8))),
          wasm_i32x4_add(wasm_i32x4_dot_i16x8(w.w[2], load(x + 16)), wasm_i32x4_dot_i16x8(w.w[3], load(x + 24)))};
}

v128_t both(const HalfDots& d) { return wasm_i32x4_add(d.lo, d.hi); }

// Lane i = the sum of the lanes of s[i].
v128_t sum_each(const v128_t s[4]) {
  const v128_t s01 = wasm_i32x4_add(wasm_i32x4_shuffle(s[0], s[1], 0, 4, 1, 5), wasm_i32x4_shuffle(s[0], s[1], 2, 6, 3, 7));
  const v128_t s23 = wasm_i32x4_add(wasm_i32x4_shuffle(s[2], s[3], 0, 4, 1, 5), wasm_i32x4_shuffle(s[2], s[3], 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 1, 4, 5), wasm_i32x4_shuffle(s01, s23, 2, 3, 6, 7));
}

// ---------------------------------------------------------------------------------------------------
// One weight row times one token (decode: the weights stream from memory once). Four scale units at a
// time: their integer sums reduce into one vector (lane i = unit i) that one vector of weight scales
// times activation scales turns into floats, so no scale is converted or applied lane by lane.

// The f16 at p, p + stride, p + 2 stride and p + 3 stride as floats.
v128_t halves4(const uint8_t* p, int stride) {
  v128_t h = wasm_i32x4_splat(0);
  h = wasm_v128_load16_lane(p, h, 0);
  h = wasm_v128_load16_lane(p + stride, h, 2);
  h = wasm_v128_load16_lane(p + 2 * stride, h, 4);
  h = wasm_v128_load16_lane(p + 3 * stride, h, 6);
  return halves_to_floats(h);
}

// The scales and mins of the four blocks at p (formats of one group per block).
template <class F>
Scales4 quad_scales(const uint8_t* p) {
  const v128_t scale = halves4(p, F::kBlockBytes);
  if constexpr (F::kMinAt >= 0) return {scale, halves4(p + F::kMinAt, F::kBlockBytes)};
  return {scale, wasm_f32x4_splat(0.0f)};
}

template <class F>
float row_times_token(const uint8_t* row, const Acts& a) {
  // Activation scales of block g at a.d[g] (one token: n_pad is 1).
  // A zero point is a min of -zero * scale (no format has both).
  static_assert(!(F::kHasMin && F::kZero != 0));
  constexpr bool kMins = F::kHasMin || F::kZero != 0;
  v128_t acc = wasm_f32x4_splat(0.0f), min_acc = acc;
  auto add = [&](const v128_t sums[4], const Scales4& s, v128_t d, v128_t dsum) {
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sum_each(sums)), wasm_f32x4_mul(s.scale, d)));
    const v128_t min = F::kZero != 0 ? wasm_f32x4_mul(s.scale, wasm_f32x4_splat(-static_cast<float>(F::kZero))) : s.min;
    if constexpr (kMins) min_acc = wasm_f32x4_add(min_acc, wasm_f32x4_mul(min, dsum));
  };
  const int16_t* x = a.q;
  if constexpr (F::kGroups == 1) {
    int64_t g = 0;
    for (; g + 4 <= a.n_blocks; g += 4) {
      const uint8_t* p = row + g * F::kBlockBytes;
      v128_t sums[4];
      for (int i = 0; i < 4; ++i) sums[i] = both(group_dot(typename F::Block(p + i * F::kBlockBytes).group(0), x + 32 * (g + i)));
      add(sums, quad_scales<F>(p), load(a.d + g), load(a.dsum + g));
    }
    if (g < a.n_blocks) {  // the last 1-3 blocks, lane by lane
      v128_t sums[4] = {wasm_i32x4_splat(0), wasm_i32x4_splat(0), wasm_i32x4_splat(0), wasm_i32x4_splat(0)};
      float scale[4] = {}, min[4] = {}, d[4] = {}, dsum[4] = {};
      for (int i = 0; g + i < a.n_blocks; ++i) {
        const typename F::Block block(row + (g + i) * F::kBlockBytes);
        sums[i] = both(group_dot(block.group(0), x + 32 * (g + i)));
        scale[i] = block.scale(0);
        min[i] = block.min(0);
        d[i] = a.d[g + i];
        dsum[i] = a.dsum[g + i];
      }
      add(sums, {load(scale), load(min)}, load(d), load(dsum));
    }
  } else {
    for (int64_t b = 0; b < a.n_blocks / F::kGroups; ++b) {
      const typename F::Block block(row + b * F::kBlockBytes);
      if constexpr (F::kSub16) {
#pragma clang loop unroll(full)  // constant bit positions: V8 shifts by a constant in fewer instructions
        for (int q = 0; q < 4; ++q) {  // groups 2q and 2q + 1: four 16-value units
          const int64_t g = b * F::kGroups + 2 * q;
          const HalfDots d0 = group_dot(block.group(2 * q), x + 32 * g), d1 = group_dot(block.group(2 * q + 1), x + 32 * (g + 1));
          const v128_t sums[4] = {d0.lo, d0.hi, d1.lo, d1.hi};
          const v128_t d = wasm_v128_load64_zero(a.d + g), lo = wasm_v128_load64_zero(a.dsum_lo + g);
          const v128_t hi = wasm_f32x4_sub(wasm_v128_load64_zero(a.dsum + g), lo);
          add(sums, block.scales4(q), wasm_i32x4_shuffle(d, d, 0, 0, 1, 1), wasm_i32x4_shuffle(lo, hi, 0, 4, 1, 5));
        }
      } else {
#pragma clang loop unroll(full)
        for (int q = 0; q < 2; ++q) {
          const int64_t g = b * F::kGroups + 4 * q;
          v128_t sums[4];
          for (int i = 0; i < 4; ++i) sums[i] = both(group_dot(block.group(4 * q + i), x + 32 * (g + i)));
          add(sums, block.scales4(q), load(a.d + g), load(a.dsum + g));
        }
      }
    }
  }
  return kMins ? hsum(wasm_f32x4_add(acc, min_acc)) : hsum(acc);
}

// ---------------------------------------------------------------------------------------------------
// Prefill: R weight rows times a quad of tokens, from a panel of the rows decoded once for the whole
// product. The four tokens' integer sums are reduced into one vector (lane i = token i) so that scales,
// mins and accumulation run once per group for all four tokens.

// A panel holds R rows decoded and widened once for every quad of the product: group ab of row r at
// w[ab * R + r], its scales and mins as floats at s[4 * (ab * R + r)] (scale, second scale, min, second
// min; the second ones for kSub16 formats).
template <class F, int R>
void fill_panel(const uint8_t* const* rows, int64_t n_blocks, Wide* w, float* s) {
  for (int64_t b = 0; b < n_blocks / F::kGroups; ++b) {
    for (int r = 0; r < R; ++r) {
      const typename F::Block block(rows[r] + b * F::kBlockBytes);
#pragma clang loop unroll(full)
      for (int g = 0; g < F::kGroups; ++g) {
        const int64_t at = (b * F::kGroups + g) * R + r;
        w[at] = block.group(g);
        if constexpr (F::kZero != 0) {
          for (v128_t& v : w[at].w) v = wasm_i16x8_sub(v, wasm_i16x8_splat(F::kZero));
        }
        float* scales = s + 4 * at;
        if constexpr (F::kSub16) {
          scales[0] = block.scale16(g, 0);
          scales[1] = block.scale16(g, 1);
          scales[2] = block.min16(g, 0);
          scales[3] = block.min16(g, 1);
        } else {
          scales[0] = block.scale(g);
          scales[1] = 0.0f;
          scales[2] = block.min(g);
          scales[3] = 0.0f;
        }
      }
    }
  }
}

template <class F, int R>
void panel_times_quad(const Wide* w, const float* s, const Acts& a, int64_t t0, v128_t* acc) {
  for (int r = 0; r < R; ++r) acc[r] = wasm_f32x4_splat(0.0f);
  // Pointers walk along the row (wasm32 addresses: no 64-bit index arithmetic in the loop).
  const int16_t* x = a.q + t0 * a.cols;
  const float* d = a.d + t0;
  const float* dsum = a.dsum + t0;
  const float* dsum_lo = a.dsum_lo + t0;
  const auto stride = static_cast<size_t>(a.cols), scale_stride = static_cast<size_t>(a.n_pad);
  const auto n_blocks = static_cast<size_t>(a.n_blocks);
  for (size_t ab = 0; ab < n_blocks; ++ab, x += 32, d += scale_stride, dsum += scale_stride, dsum_lo += scale_stride, w += R, s += 4 * R) {
    HalfDots dots[R][4];
    for (int i = 0; i < 4; ++i) {
      for (int r = 0; r < R; ++r) dots[r][i] = group_dot(w[r], x + i * stride);
    }
    const v128_t dv = load(d);
    for (int r = 0; r < R; ++r) {
      const float* scales = s + 4 * r;
      if constexpr (F::kSub16) {
        const v128_t lo[4] = {dots[r][0].lo, dots[r][1].lo, dots[r][2].lo, dots[r][3].lo};
        const v128_t hi[4] = {dots[r][0].hi, dots[r][1].hi, dots[r][2].hi, dots[r][3].hi};
        const v128_t scaled = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sum_each(lo)), wasm_f32x4_splat(scales[0])),
                                             wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sum_each(hi)), wasm_f32x4_splat(scales[1])));
        acc[r] = wasm_f32x4_add(acc[r], wasm_f32x4_mul(scaled, dv));
      } else {
        const v128_t both[4] = {wasm_i32x4_add(dots[r][0].lo, dots[r][0].hi), wasm_i32x4_add(dots[r][1].lo, dots[r][1].hi),
                                wasm_i32x4_add(dots[r][2].lo, dots[r][2].hi), wasm_i32x4_add(dots[r][3].lo, dots[r][3].hi)};
        acc[r] = wasm_f32x4_add(acc[r], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sum_each(both)), wasm_f32x4_mul(dv, wasm_f32x4_splat(scales[0]))));
      }
      if constexpr (F::kHasMin && F::kSub16) {
        const v128_t all = load(dsum), first = load(dsum_lo);
        acc[r] = wasm_f32x4_add(acc[r], wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_splat(scales[2]), first),
                                                       wasm_f32x4_mul(wasm_f32x4_splat(scales[3]), wasm_f32x4_sub(all, first))));
      } else if constexpr (F::kHasMin) {
        acc[r] = wasm_f32x4_add(acc[r], wasm_f32x4_mul(wasm_f32x4_splat(scales[2]), load(dsum)));
      }
    }
  }
}

constexpr int kQuadRows = 4;  // rows sharing each quad's activation loads (of 1, 2 and 4, the fastest measured in V8)

// Bytes of one thread's panel of kQuadRows rows.
size_t panel_bytes(const MatmulArgs& m) {
  return round_up(kQuadRows * static_cast<size_t>(m.cols) * 2) + round_up(kQuadRows * static_cast<size_t>(m.cols / 32) * 16);
}

// Rows [r0, r0 + R) times every token, a quad at a time; the padding lanes of the last quad are dropped.
template <class F, int R>
void rows_times_tokens(const MatmulArgs& m, const Acts& a, uint8_t* panel, int64_t r0) {
  const uint8_t* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = m.W + static_cast<size_t>(r0 + r) * m.row_bytes;
  auto* w = reinterpret_cast<Wide*>(panel);
  auto* s = reinterpret_cast<float*>(panel + round_up(kQuadRows * static_cast<size_t>(m.cols) * 2));
  fill_panel<F, R>(rows, a.n_blocks, w, s);
  for (int64_t t0 = 0; t0 < m.n_tokens; t0 += 4) {
    v128_t acc[R];
    panel_times_quad<F, R>(w, s, a, t0, acc);
    const int64_t n = std::min<int64_t>(4, m.n_tokens - t0);
    for (int r = 0; r < R; ++r) {
      float lanes[4];
      wasm_v128_store(lanes, acc[r]);
      for (int64_t i = 0; i < n; ++i) m.y[(t0 + i) * m.rows + r0 + r] = lanes[i];
    }
  }
}

template <class F>
void decode_rows(const MatmulArgs& m, const Acts& a, int64_t r_begin, int64_t r_end) {
  for (int64_t r = r_begin; r < r_end; ++r) m.y[r] = row_times_token<F>(m.W + static_cast<size_t>(r) * m.row_bytes, a);
}

template <class F>
void multiply_rows(const MatmulArgs& m, const Acts& a, uint8_t* panel, int64_t r_begin, int64_t r_end) {
  if (m.n_tokens == 1) {
    // Called through a pointer the optimizer cannot see through, so that the decode loop stays a function
    // of its own: V8 compiles it to slower code inlined into one function with every format's tiles.
    static void (*volatile decode)(const MatmulArgs&, const Acts&, int64_t, int64_t) = &decode_rows<F>;
    return decode(m, a, r_begin, r_end);
  }
  int64_t r = r_begin;
  for (; r + kQuadRows <= r_end; r += kQuadRows) rows_times_tokens<F, kQuadRows>(m, a, panel, r);
  for (; r < r_end; ++r) rows_times_tokens<F, 1>(m, a, panel, r);
}

// ---------------------------------------------------------------------------------------------------
// Float weights: 4 rows x up to 2 tokens of f32x4 dot products.

template <TensorType kType>
v128_t load_weights(const uint8_t* row, int64_t k) {
  if constexpr (kType == TensorType::F32) {
    return load(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (kType == TensorType::F16) {
    return halves_to_floats(wasm_u32x4_load16x4(reinterpret_cast<const uint16_t*>(row) + k));
  } else {
    return wasm_i32x4_shl(wasm_u32x4_load16x4(reinterpret_cast<const uint16_t*>(row) + k), 16);
  }
}

template <TensorType kType>
float weight_at(const uint8_t* row, int64_t k) {
  if constexpr (kType == TensorType::F32) {
    return reinterpret_cast<const float*>(row)[k];
  } else if constexpr (kType == TensorType::F16) {
    return f16_to_f32(reinterpret_cast<const uint16_t*>(row)[k]);
  } else {
    return bf16_to_f32(reinterpret_cast<const uint16_t*>(row)[k]);
  }
}

template <TensorType kType, int R, int T>
void float_tile(const MatmulArgs& m, int64_t r0, int64_t t0) {
  const uint8_t* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = m.W + static_cast<size_t>(r0 + r) * m.row_bytes;
  v128_t acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = wasm_f32x4_splat(0.0f);
  }
  int64_t k = 0;
  for (; k + 4 <= m.cols; k += 4) {
    v128_t xv[T];
    for (int t = 0; t < T; ++t) xv[t] = load(m.x + (t0 + t) * m.cols + k);
    for (int r = 0; r < R; ++r) {
      const v128_t w = load_weights<kType>(rows[r], k);
      for (int t = 0; t < T; ++t) acc[r][t] = wasm_f32x4_add(acc[r][t], wasm_f32x4_mul(w, xv[t]));
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float sum = hsum(acc[r][t]);
      for (int64_t j = k; j < m.cols; ++j) sum += weight_at<kType>(rows[r], j) * m.x[(t0 + t) * m.cols + j];
      m.y[(t0 + t) * m.rows + r0 + r] = sum;
    }
  }
}

template <TensorType kType, int R>
void float_rows(const MatmulArgs& m, int64_t r0) {
  int64_t t = 0;
  for (; t + 2 <= m.n_tokens; t += 2) float_tile<kType, R, 2>(m, r0, t);
  if (t < m.n_tokens) float_tile<kType, R, 1>(m, r0, t);
}

template <TensorType kType>
void multiply_float(const MatmulArgs& m, int64_t r_begin, int64_t r_end) {
  int64_t r = r_begin;
  for (; r + 4 <= r_end; r += 4) float_rows<kType, 4>(m, r);
  for (; r < r_end; ++r) float_rows<kType, 1>(m, r);
}

void multiply(const MatmulArgs& m, uint8_t* scratch, int thread, int64_t r_begin, int64_t r_end) {
  const bool quantized = visit_quantized(m.type, [&](auto format) {
    uint8_t* panel = scratch + acts_bytes(m) + (m.n_tokens > 1 ? static_cast<size_t>(thread) * panel_bytes(m) : 0);
    multiply_rows<decltype(format)>(m, acts_in(m, scratch), panel, r_begin, r_end);
  });
  if (quantized) return;
  switch (m.type) {
    case TensorType::F32: return multiply_float<TensorType::F32>(m, r_begin, r_end);
    case TensorType::F16: return multiply_float<TensorType::F16>(m, r_begin, r_end);
    case TensorType::BF16: return multiply_float<TensorType::BF16>(m, r_begin, r_end);
    default: return;
  }
}

float dot_f32(const float* a, const float* b, int64_t n) {
  v128_t acc[4] = {wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f)};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 4; ++j) acc[j] = wasm_f32x4_add(acc[j], wasm_f32x4_mul(load(a + i + 4 * j), load(b + i + 4 * j)));
  }
  for (; i + 4 <= n; i += 4) acc[0] = wasm_f32x4_add(acc[0], wasm_f32x4_mul(load(a + i), load(b + i)));
  float sum = hsum(wasm_f32x4_add(wasm_f32x4_add(acc[0], acc[1]), wasm_f32x4_add(acc[2], acc[3])));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy_f32(float alpha, const float* x, float* y, int64_t n) {
  const v128_t va = wasm_f32x4_splat(alpha);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_add(load(y + i), wasm_f32x4_mul(va, load(x + i))));
  for (; i < n; ++i) y[i] += alpha * x[i];
}

}  // namespace

const SimdKernels* wasm_kernels() {
  static const SimdKernels table{SimdLevel::Wasm128, &scratch_bytes, &grain, &prepare, &multiply, &dot_f32, &axpy_f32};
  return &table;
}

}  // namespace tabllm::cpu
#else
namespace tabllm::cpu {
const SimdKernels* wasm_kernels() { return nullptr; }
}  // namespace tabllm::cpu
#endif
