// The x86 Simd path, written once over an ISA policy `Isa` that kernels_avx2.cpp and kernels_avx512.cpp
// define (integer dot product, vector widths, tile sizes, optional wider decode kernels). Included only
// by those two files: everything here sits in an unnamed namespace so that each gets its own copy
// compiled with its own -m flags (a shared inline copy could be linked into the other and run
// instructions the CPU lacks).
//
// Quantized weights meet activations quantized to int8 in 32-element blocks (one float scale each):
//  - Row kernels (decode, fewer than Isa::min_panel_tokens<F>() tokens): one weight row at a time, each block
//    decoded once for up to 4 tokens, its integer dot product scaled by weight scale * activation scale
//    into float accumulators; one token (every format but IQ4_XS) takes four groups a step instead,
//    their sums reduced into one vector and scaled at once (one_token_quads). An ISA may take a leading
//    run of blocks with wider kernels (wide_rows: AVX-512 does several blocks per register); the shared
//    code finishes the row.
//  - Panel kernels (prefill): a panel of rows is first unpacked to one byte per weight plus float scales;
//    then integer dot products run with tokens in the vector lanes (each 32-bit lane holds 4 consecutive
//    activation bytes of one token, the 4 weight bytes are broadcast), so no horizontal sums are needed
//    and every weight byte loaded feeds kLanes tokens.
// Weights are unsigned bytes q with x = scale * (q - zero) + min; the zero point is folded into the
// integer accumulator's initial value (-zero * sum of the activations).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "backend/cpu/simd_dispatch.h"
#include "quant/block_formats.h"

namespace tabllm::cpu::x86 {
namespace {

// ---------------------------------------------------------------------------------------------------
// Small helpers on 256-bit registers (AVX2; the AVX-512 build encodes them with EVEX).

inline float hsum(__m128 s) {
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hsum(__m256 v) { return hsum(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))); }

inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// Four bytes at p as floats.
inline __m128 u8x4_floats(const uint8_t* p) {
  return _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(static_cast<int32_t>(blocks::load_u32(p)))));
}

// 16 bytes of packed nibbles -> 32 bytes: the low nibbles, then the high nibbles (Q4_0/Q4_1/Q5_x order).
inline __m256i split_nibbles(const uint8_t* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// 32 bytes of packed nibbles -> the low (shift 0) or high (shift 4) nibble of each (K-quant order).
inline __m256i nibbles_at(const uint8_t* qs, int shift) {
  const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
  return _mm256_and_si256(_mm256_srl_epi16(packed, _mm_cvtsi32_si128(shift)), _mm256_set1_epi8(0x0f));
}

// Byte i = 0x10 where bit i of `bits` is set (the fifth bit of Q5_0/Q5_1 values).
inline __m256i fifth_bits(uint32_t bits) {
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int32_t>(bits)),
      _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i select = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Bits [from, from + width) of each byte moved to bits [4, 4 + width) (from <= 7, shifts stay in-byte).
inline __m256i bits_to_nibble_4(__m256i v, int from, int width_mask) {
  const __m256i moved = from <= 4 ? _mm256_sll_epi16(v, _mm_cvtsi32_si128(4 - from))
                                  : _mm256_srl_epi16(v, _mm_cvtsi32_si128(from - 4));
  return _mm256_and_si256(moved, _mm256_set1_epi8(static_cast<char>(width_mask << 4)));
}

// ---------------------------------------------------------------------------------------------------
// Weight formats. Each decodes a block into kGroups groups of 32 weights: q(g) as unsigned bytes below
// 2^kBits with x = scale(g) * (q - kZero) + min(g). kSub16 formats have two scales and mins per group
// (scale16(g, half), min16(g, half)).

struct FormatQ4_0 {
  static constexpr int kBlockBytes = 18, kGroups = 1, kZero = 8, kBits = 4;
  static constexpr bool kHasMin = false, kSub16 = false;
  struct Block {
    const blocks::Q4_0* b;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q4_0*>(p)) {}
    __m256i q(int) const { return split_nibbles(b->qs); }
    float scale(int) const { return half_to_float(b->d); }
    float min(int) const { return 0.0f; }
  };
};

struct FormatQ4_1 {
  static constexpr int kBlockBytes = 20, kGroups = 1, kZero = 0, kBits = 4;
  static constexpr bool kHasMin = true, kSub16 = false;
  struct Block {
    const blocks::Q4_1* b;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q4_1*>(p)) {}
    __m256i q(int) const { return split_nibbles(b->qs); }
    float scale(int) const { return half_to_float(b->d); }
    float min(int) const { return half_to_float(b->m); }
  };
};

struct FormatQ5_0 {
  static constexpr int kBlockBytes = 22, kGroups = 1, kZero = 16, kBits = 5;
  static constexpr bool kHasMin = false, kSub16 = false;
  struct Block {
    const blocks::Q5_0* b;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q5_0*>(p)) {}
    __m256i q(int) const { return _mm256_or_si256(split_nibbles(b->qs), fifth_bits(blocks::load_u32(b->qh))); }
    float scale(int) const { return half_to_float(b->d); }
    float min(int) const { return 0.0f; }
  };
};

struct FormatQ5_1 {
  static constexpr int kBlockBytes = 24, kGroups = 1, kZero = 0, kBits = 5;
  static constexpr bool kHasMin = true, kSub16 = false;
  struct Block {
    const blocks::Q5_1* b;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q5_1*>(p)) {}
    __m256i q(int) const { return _mm256_or_si256(split_nibbles(b->qs), fifth_bits(blocks::load_u32(b->qh))); }
    float scale(int) const { return half_to_float(b->d); }
    float min(int) const { return half_to_float(b->m); }
  };
};

// Signed bytes become unsigned by flipping the top bit: q ^ 0x80 = q + 128.
struct FormatQ8_0 {
  static constexpr int kBlockBytes = 34, kGroups = 1, kZero = 128, kBits = 8;
  static constexpr bool kHasMin = false, kSub16 = false;
  struct Block {
    const blocks::Q8_0* b;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q8_0*>(p)) {}
    __m256i q(int) const {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs));
      return _mm256_xor_si256(raw, _mm256_set1_epi8(static_cast<char>(0x80)));
    }
    float scale(int) const { return half_to_float(b->d); }
    float min(int) const { return 0.0f; }
  };
};

// Q4_K and Q5_K: group g is sub-block g (scale d * sc[g], min -dmin * m[g]).
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
      d = half_to_float(b->d);
      dmin = half_to_float(b->dmin);
      blocks::unpack_k4_scales(b->scales, sc, mn);
    }
    __m256i q(int g) const {
      const __m256i low = nibbles_at(b->qs + 32 * (g / 2), 4 * (g % 2));
      if constexpr (kFifthBit) {
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh));
        return _mm256_or_si256(low, bits_to_nibble_4(qh, g, 1));
      } else {
        return low;
      }
    }
    float scale(int g) const { return d * static_cast<float>(sc[g]); }
    float min(int g) const { return -dmin * static_cast<float>(mn[g]); }
    // The scales and mins of groups 4h .. 4h + 3 (one-token decode, one_token_quads).
    __m128 scales4(int h) const { return _mm_mul_ps(_mm_set1_ps(d), u8x4_floats(sc + 4 * h)); }
    __m128 mins4(int h) const { return _mm_mul_ps(_mm_set1_ps(-dmin), u8x4_floats(mn + 4 * h)); }
  };
};

// Q6_K: group g = 32 consecutive values, two sub-blocks of 16 with their own int8 scales.
struct FormatQ6_K {
  static constexpr int kBlockBytes = 210, kGroups = 8, kZero = 32, kBits = 6;
  static constexpr bool kHasMin = false, kSub16 = true;
  struct Block {
    const blocks::Q6_K* b;
    float d;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q6_K*>(p)), d(half_to_float(b->d)) {}
    __m256i q(int g) const {
      const int half = g / 4, part = g % 4;
      const __m256i low = nibbles_at(b->ql + 64 * half + 32 * (part & 1), 4 * (part >> 1));
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh + 32 * half));
      return _mm256_or_si256(low, bits_to_nibble_4(qh, 2 * part, 3));
    }
    float scale16(int g, int sub) const { return d * static_cast<float>(b->scales[2 * g + sub]); }
    float min16(int, int) const { return 0.0f; }
  };
};

// Bit `from` of each byte moved to bit `to` (the others cleared).
inline __m256i bit_to(__m256i v, int from, int to) {
  const __m256i moved = from <= to ? _mm256_sll_epi16(v, _mm_cvtsi32_si128(to - from))
                                   : _mm256_srl_epi16(v, _mm_cvtsi32_si128(from - to));
  return _mm256_and_si256(moved, _mm256_set1_epi8(static_cast<char>(1 << to)));
}

// The 2-bit values of group g of a Q2_K / Q3_K block: bits 2(g % 4).. of qs[32(g / 4) ..].
inline __m256i two_bits(const uint8_t* qs, int g) {
  const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * (g / 4)));
  return _mm256_and_si256(_mm256_srl_epi16(packed, _mm_cvtsi32_si128(2 * (g % 4))), _mm256_set1_epi8(3));
}

// Q2_K: group g = 32 consecutive values, two sub-blocks of 16 with 4-bit scales and mins.
struct FormatQ2_K {
  static constexpr int kBlockBytes = 84, kGroups = 8, kZero = 0, kBits = 2;
  static constexpr bool kHasMin = true, kSub16 = true;
  struct Block {
    const blocks::Q2_K* b;
    float d, dmin;
    explicit Block(const uint8_t* p)
        : b(reinterpret_cast<const blocks::Q2_K*>(p)), d(half_to_float(b->d)), dmin(half_to_float(b->dmin)) {}
    __m256i q(int g) const { return two_bits(b->qs, g); }
    float scale16(int g, int sub) const { return d * static_cast<float>(b->scales[2 * g + sub] & 0xf); }
    float min16(int g, int sub) const { return -dmin * static_cast<float>(b->scales[2 * g + sub] >> 4); }
  };
};

// Q3_K: as Q2_K's layout plus a third bit from hmask (bit g of hmask[l]); zero point 4, signed scales.
struct FormatQ3_K {
  static constexpr int kBlockBytes = 110, kGroups = 8, kZero = 4, kBits = 3;
  static constexpr bool kHasMin = false, kSub16 = true;
  struct Block {
    const blocks::Q3_K* b;
    float d;
    int8_t sc[16];
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::Q3_K*>(p)), d(half_to_float(b->d)) {
      blocks::unpack_q3_k_scales(b->scales, sc);
    }
    __m256i q(int g) const {
      const __m256i hmask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->hmask));
      return _mm256_or_si256(two_bits(b->qs, g), bit_to(hmask, g, 2));
    }
    float scale16(int g, int sub) const { return d * static_cast<float>(sc[2 * g + sub]); }
    float min16(int, int) const { return 0.0f; }
  };
};

// IQ4 indices looked up in the grid shifted by +128 (unsigned bytes with zero point 128, as Q8_0).
inline __m256i iq4_lookup(const uint8_t* qs) {
  const __m128i grid = _mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, -127, -115, -103, -90, -75, -59, -39, -15);
  return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(grid), split_nibbles(qs));
}

struct FormatIQ4_NL {
  static constexpr int kBlockBytes = 18, kGroups = 1, kZero = 128, kBits = 8;
  static constexpr bool kHasMin = false, kSub16 = false;
  struct Block {
    const blocks::IQ4_NL* b;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::IQ4_NL*>(p)) {}
    __m256i q(int) const { return iq4_lookup(b->qs); }
    float scale(int) const { return half_to_float(b->d); }
    float min(int) const { return 0.0f; }
  };
};

struct FormatIQ4_XS {
  static constexpr int kBlockBytes = 136, kGroups = 8, kZero = 128, kBits = 8;
  static constexpr bool kHasMin = false, kSub16 = false;
  struct Block {
    const blocks::IQ4_XS* b;
    float d;
    explicit Block(const uint8_t* p) : b(reinterpret_cast<const blocks::IQ4_XS*>(p)), d(half_to_float(b->d)) {}
    __m256i q(int g) const { return iq4_lookup(b->qs + 16 * g); }
    float scale(int g) const { return d * static_cast<float>(blocks::iq4_xs_scale(*b, g)); }
    float min(int) const { return 0.0f; }
  };
};

using FormatQ4_K = FormatK4<false>;
using FormatQ5_K = FormatK4<true>;

// Where weights are multiplied as signed bytes (abs / sign trick) instead of unsigned bytes with a zero
// point: AVX2's maddubs sums pairs of u8 * s8 in int16, so bytes up to 255 (Q8_0 + 128) would saturate;
// row kernels also take Q6_K signed (two scales per group leave no single bias).
template <class Isa, class F>
constexpr bool kSignedPanels = F::kZero == 128 && !Isa::kVnni;
template <class Isa, class F>
constexpr bool kSignedRows = kSignedPanels<Isa, F> || F::kSub16;

// Calls fn(Format{}) for a quantized type; returns false for float types.
template <class Fn>
bool visit_quantized(TensorType type, Fn&& fn) {
  switch (type) {
    case TensorType::Q4_0: fn(FormatQ4_0{}); return true;
    case TensorType::Q4_1: fn(FormatQ4_1{}); return true;
    case TensorType::Q5_0: fn(FormatQ5_0{}); return true;
    case TensorType::Q5_1: fn(FormatQ5_1{}); return true;
    case TensorType::Q8_0: fn(FormatQ8_0{}); return true;
    case TensorType::Q4_K: fn(FormatQ4_K{}); return true;
    case TensorType::Q5_K: fn(FormatQ5_K{}); return true;
    case TensorType::Q6_K: fn(FormatQ6_K{}); return true;
    case TensorType::Q2_K: fn(FormatQ2_K{}); return true;
    case TensorType::Q3_K: fn(FormatQ3_K{}); return true;
    case TensorType::IQ4_NL: fn(FormatIQ4_NL{}); return true;
    case TensorType::IQ4_XS: fn(FormatIQ4_XS{}); return true;
    default: return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Activation quantization: 32 floats -> 32 int8 with x ~= d * q (round to nearest), plus the integer sums
// of each half (the zero-point and min corrections need them).

struct QuantizedBlock {
  float d;
  int32_t sum_lo, sum_hi;  // sums of q[0..16) and q[16..32)
};

inline QuantizedBlock quantize_block(const float* x, int8_t* q) {
  const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
  const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 amax4 = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                     _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
  const float amax = hmax(amax4);
  const __m256 inv = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
  const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, inv)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, inv));
  const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, inv)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, inv));
  // packs works within 128-bit lanes; the final dword permutation restores element order.
  const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q),
                      _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  return {amax / 127.0f, hsum(_mm256_add_epi32(i0, i1)), hsum(_mm256_add_epi32(i2, i3))};
}

// Row-major activations for row kernels: token t has q[t * cols ..], and per 32-block b
// d / lane_bias / dsum at [t * n_blocks + b]: lane_bias = -zero * sum / 8 (the zero-point correction
// spread over the 8 int32 lanes of a block's dot product), dsum = d * sum (for formats with mins).
// An ISA with wider decode kernels keeps its own arrangement of each token at wide + t * wide_stride.
struct RowActs {
  int8_t* q;
  float* d;
  int32_t* lane_bias;
  float* dsum;
  float* dsum_lo;  // d * sum of the first 16 values (formats with a min per 16 values)
  int64_t cols, n_blocks;
  uint8_t* wide;
  int64_t wide_stride;
};

// Lane-major activations for panel kernels, in groups of kLanes tokens: group tg, 4-byte k-group kg holds
// q at [((tg * n_kgroups + kg) * kLanes + lane) * 4]; per sub-block s (16 or 32 values) d / bias / dsum at
// [(tg * n_subs + s) * kLanes + lane], bias = -zero * sum. Missing tokens of the last group are zeros.
struct LaneActs {
  int8_t* q;
  float* d;
  int32_t* bias;
  float* dsum;
  int64_t n_kgroups, n_subs;
};

// Unpacked weight rows of a panel: byte k of row r at q[r * cols + k]; per sub-block dw / mw at
// [r * n_subs + s].
struct Panel {
  uint8_t* q;
  float* dw;
  float* mw;
  int64_t cols, n_subs;
  uint8_t* q_abs;  // signed panels: |q| as well, laid out as q (the abs / sign trick); else null
};

// ---------------------------------------------------------------------------------------------------
// Scratch layout, a pure function of the product (prepare and multiply must agree).

enum class Mode { Float, Rows, Panels };

// Panel loop nest: for each chunk of kChunkGroups token groups, for each panel of Isa::kPanelRows rows
// (unpacked once per chunk and kept in L2), for each token group, tiles of Isa::kTileRows rows sweep the
// panel with their sums in registers while that group's activations stay in L1 (a group over K = 2048 is
// 32 KB with 16 lanes). Unpacking reads the weights from memory, so chunks are large: one per product for
// the batch sizes a forward pass uses.
constexpr int64_t kChunkGroups = 64;

inline size_t round_up(size_t n) { return (n + 63) / 64 * 64; }

template <class Isa>
struct Layout {
  Mode mode = Mode::Float;
  int sub = 32;          // panel sub-block size
  int zero = 0;          // zero point folded into the activation bias (rows and panels)
  bool signed_w = false; // panels keep signed bytes (kSignedPanels)
  RowActs rows{};
  LaneActs lanes{};
  size_t shared_bytes = 0, per_thread_bytes = 0;
  uint8_t* base = nullptr;

  Layout(const MatmulArgs& m, uint8_t* scratch) : base(scratch) {
    size_t wide_stride = 0;
    visit_quantized(m.type, [&](auto format) {
      using F = decltype(format);
      wide_stride = Isa::template wide_bytes<F>(m.cols);
      mode = m.n_tokens >= Isa::template min_panel_tokens<F>() ? Mode::Panels : Mode::Rows;
      sub = F::kSub16 ? 16 : 32;
      signed_w = kSignedPanels<Isa, F>;
      zero = (mode == Mode::Panels ? kSignedPanels<Isa, F> : kSignedRows<Isa, F>) ? 0 : F::kZero;
    });
    size_t offset = 0;
    auto take = [&](size_t bytes) {
      uint8_t* p = base ? base + offset : nullptr;
      offset += round_up(bytes);
      return p;
    };
    const auto n_tokens = static_cast<size_t>(m.n_tokens), cols = static_cast<size_t>(m.cols);
    if (mode == Mode::Rows) {
      const size_t n_blocks = cols / 32;
      rows.cols = m.cols;
      rows.n_blocks = static_cast<int64_t>(n_blocks);
      rows.q = reinterpret_cast<int8_t*>(take(n_tokens * cols));
      rows.d = reinterpret_cast<float*>(take(n_tokens * n_blocks * 4));
      rows.lane_bias = reinterpret_cast<int32_t*>(take(n_tokens * n_blocks * 4));
      rows.dsum = reinterpret_cast<float*>(take(n_tokens * n_blocks * 4));
      rows.dsum_lo = reinterpret_cast<float*>(take(n_tokens * n_blocks * 4));
      rows.wide_stride = static_cast<int64_t>(wide_stride);
      rows.wide = take(n_tokens * wide_stride);
    } else if (mode == Mode::Panels) {
      const size_t groups = (n_tokens + Isa::kLanes - 1) / Isa::kLanes, n_subs = cols / sub;
      lanes.n_kgroups = m.cols / 4;
      lanes.n_subs = static_cast<int64_t>(n_subs);
      lanes.q = reinterpret_cast<int8_t*>(take(groups * cols * Isa::kLanes));
      lanes.d = reinterpret_cast<float*>(take(groups * n_subs * Isa::kLanes * 4));
      lanes.bias = reinterpret_cast<int32_t*>(take(groups * n_subs * Isa::kLanes * 4));
      lanes.dsum = reinterpret_cast<float*>(take(groups * n_subs * Isa::kLanes * 4));
      per_thread_bytes = (signed_w ? 2 : 1) * round_up(Isa::kPanelRows * cols) + 2 * round_up(Isa::kPanelRows * n_subs * 4);
    }
    shared_bytes = offset;
  }

  Panel panel(const MatmulArgs& m, int thread) const {
    uint8_t* p = base + shared_bytes + per_thread_bytes * static_cast<size_t>(thread);
    const auto n_subs = static_cast<size_t>(m.cols / sub);
    const size_t q_bytes = round_up(Isa::kPanelRows * static_cast<size_t>(m.cols));
    const size_t s_bytes = round_up(Isa::kPanelRows * n_subs * 4);
    return {p, reinterpret_cast<float*>(p + q_bytes), reinterpret_cast<float*>(p + q_bytes + s_bytes), m.cols,
            static_cast<int64_t>(n_subs), signed_w ? p + q_bytes + 2 * s_bytes : nullptr};
  }
};

// ---------------------------------------------------------------------------------------------------
// Activation preparation.

inline void quantize_rows(const MatmulArgs& m, const RowActs& a, int zero, int64_t t_begin, int64_t t_end) {
  for (int64_t t = t_begin; t < t_end; ++t) {
    for (int64_t b = 0; b < a.n_blocks; ++b) {
      const int64_t i = t * a.n_blocks + b;
      const QuantizedBlock qb = quantize_block(m.x + t * m.cols + b * 32, a.q + t * a.cols + b * 32);
      const int32_t sum = qb.sum_lo + qb.sum_hi;
      a.d[i] = qb.d;
      a.lane_bias[i] = -zero / 8 * sum;
      a.dsum[i] = qb.d * static_cast<float>(sum);
      a.dsum_lo[i] = qb.d * static_cast<float>(qb.sum_lo);
    }
  }
}

template <int kLanes>
void quantize_lanes(const MatmulArgs& m, const LaneActs& a, int sub, int zero, int64_t g_begin, int64_t g_end) {
  alignas(32) int8_t q[32];
  for (int64_t tg = g_begin; tg < g_end; ++tg) {
    for (int lane = 0; lane < kLanes; ++lane) {
      const int64_t t = tg * kLanes + lane;
      for (int64_t b = 0; b < m.cols / 32; ++b) {
        QuantizedBlock qb{0.0f, 0, 0};
        if (t < m.n_tokens) {
          qb = quantize_block(m.x + t * m.cols + b * 32, q);
        } else {
          std::memset(q, 0, sizeof q);
        }
        for (int g = 0; g < 8; ++g) {
          std::memcpy(a.q + ((tg * a.n_kgroups + b * 8 + g) * kLanes + lane) * 4, q + 4 * g, 4);
        }
        if (sub == 32) {
          const int64_t i = (tg * a.n_subs + b) * kLanes + lane;
          const int32_t sum = qb.sum_lo + qb.sum_hi;
          a.d[i] = qb.d;
          a.bias[i] = -zero * sum;
          a.dsum[i] = qb.d * static_cast<float>(sum);
        } else {
          const int32_t sums[2] = {qb.sum_lo, qb.sum_hi};
          for (int h = 0; h < 2; ++h) {
            const int64_t i = (tg * a.n_subs + 2 * b + h) * kLanes + lane;
            a.d[i] = qb.d;
            a.bias[i] = -zero * sums[h];
            a.dsum[i] = qb.d * static_cast<float>(sums[h]);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Row kernels: one weight row times T tokens (T <= 4), each block decoded once.

// Decode streams each weight from memory once. Besides the hardware prefetchers, each step asks for the
// lines of the step this far ahead (measured on a 2-core AVX2 machine: one-token decode of TinyLlama
// shapes with 2 threads, Q4_0 and Q4_1 +15-25%).
constexpr int kPrefetchBytes = 2048;

template <int kStepBytes>
inline void prefetch_ahead(const uint8_t* p) {
  for (int line = 0; line < kStepBytes; line += 64) _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchBytes + line), _MM_HINT_T0);
}

// The f16 halves at p, p + kStride, p + 2 kStride, p + 3 kStride (a field of four blocks) as floats.
template <int kStride>
inline __m128 four_halves(const uint8_t* p) {
  __m128i h = _mm_cvtsi32_si128(blocks::load_u16(p));
  h = _mm_insert_epi16(h, blocks::load_u16(p + kStride), 1);
  h = _mm_insert_epi16(h, blocks::load_u16(p + 2 * kStride), 2);
  h = _mm_insert_epi16(h, blocks::load_u16(p + 3 * kStride), 3);
  return _mm_cvtph_ps(h);
}

// One token times a row, four groups a step: their integer dot products reduce into one vector (lane j
// = group j; with kSub16, one vector per 16-value half) that one vector of weight scales times the
// groups' activation scales turns into floats; zero points and mins go through the activations' sums the
// same way, so no scale is multiplied or broadcast group by group. Formats of one group per block take
// four blocks a step (each starts with its f16 scale, converted four at once); the K-quants take half a
// block. Does blocks [b, ...), adds its sum to *y and returns the first block it left.
template <class F>
constexpr bool kOneTokenQuads = F::kGroups == 1 || F::kSub16 || F::kHasMin;

// Four groups' values for their first and their last 16 values.
struct Halves {
  __m128 lo, hi;
};

template <class Isa, class F>
int64_t one_token_quads(const uint8_t* row, const RowActs& a, int64_t t0, int64_t b, int64_t n_blocks, float* y) {
  static_assert(kOneTokenQuads<F>);
  constexpr bool kSignedDot = kSignedRows<Isa, F>;
  const int8_t* x = a.q + t0 * a.cols;
  const float* d = a.d + t0 * a.n_blocks;
  const float* dsum = a.dsum + t0 * a.n_blocks;
  const float* dsum_lo = a.dsum_lo + t0 * a.n_blocks;
  __m128 acc = _mm_setzero_ps(), min_acc = _mm_setzero_ps();
  // Groups g .. g + 3 (activation blocks), their weights q[0..3], scales and mins (Halves with kSub16).
  auto step = [&](int64_t g, const __m256i (&q)[4], auto scale, auto min) {
    __m256i dots[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + (g + j) * 32));
      if constexpr (kSignedDot) {
        const __m256i w = _mm256_sub_epi8(q[j], _mm256_set1_epi8(static_cast<char>(F::kZero)));
        dots[j] = Isa::dot256(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(av, w));
      } else {
        dots[j] = Isa::dot256(_mm256_setzero_si256(), q[j], av);
      }
    }
    // Lane j of the low half: the sum of group j's first 16 values; of the high half, its last 16.
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(dots[0], dots[1]), _mm256_hadd_epi32(dots[2], dots[3]));
    const __m128i lo = _mm256_castsi256_si128(h), hi = _mm256_extracti128_si256(h, 1);
    const __m128 dv = _mm_loadu_ps(d + g);
    if constexpr (F::kSub16) {
      acc = _mm_fmadd_ps(_mm_cvtepi32_ps(lo), _mm_mul_ps(scale.lo, dv), acc);
      acc = _mm_fmadd_ps(_mm_cvtepi32_ps(hi), _mm_mul_ps(scale.hi, dv), acc);
      if constexpr (F::kHasMin) {
        const __m128 first = _mm_loadu_ps(dsum_lo + g);
        min_acc = _mm_fmadd_ps(min.lo, first, min_acc);
        min_acc = _mm_fmadd_ps(min.hi, _mm_sub_ps(_mm_loadu_ps(dsum + g), first), min_acc);
      }
    } else {
      acc = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_add_epi32(lo, hi)), _mm_mul_ps(scale, dv), acc);
      if constexpr (!kSignedDot && F::kZero != 0) {
        min_acc = _mm_fmadd_ps(_mm_mul_ps(scale, _mm_set1_ps(-static_cast<float>(F::kZero))), _mm_loadu_ps(dsum + g), min_acc);
      }
      if constexpr (F::kHasMin) min_acc = _mm_fmadd_ps(min, _mm_loadu_ps(dsum + g), min_acc);
    }
  };
  if constexpr (F::kGroups == 1) {
    for (; b + 4 <= n_blocks; b += 4) {
      const uint8_t* p = row + b * F::kBlockBytes;
      prefetch_ahead<4 * F::kBlockBytes>(p);
      const typename F::Block blocks4[4] = {typename F::Block(p), typename F::Block(p + F::kBlockBytes),
                                            typename F::Block(p + 2 * F::kBlockBytes), typename F::Block(p + 3 * F::kBlockBytes)};
      const __m256i q[4] = {blocks4[0].q(0), blocks4[1].q(0), blocks4[2].q(0), blocks4[3].q(0)};
      __m128 min = _mm_setzero_ps();
      if constexpr (F::kHasMin) min = _mm_setr_ps(blocks4[0].min(0), blocks4[1].min(0), blocks4[2].min(0), blocks4[3].min(0));
      step(b, q, four_halves<F::kBlockBytes>(p), min);
    }
  } else {
    for (; b < n_blocks; ++b) {
      prefetch_ahead<F::kBlockBytes>(row + b * F::kBlockBytes);
      const typename F::Block block(row + b * F::kBlockBytes);
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const __m256i q[4] = {block.q(4 * h), block.q(4 * h + 1), block.q(4 * h + 2), block.q(4 * h + 3)};
        if constexpr (F::kSub16) {
          auto four = [&](auto of) { return _mm_setr_ps(of(4 * h), of(4 * h + 1), of(4 * h + 2), of(4 * h + 3)); };
          const Halves scale{four([&](int g) { return block.scale16(g, 0); }), four([&](int g) { return block.scale16(g, 1); })};
          const Halves min{four([&](int g) { return block.min16(g, 0); }), four([&](int g) { return block.min16(g, 1); })};
          step(b * 8 + 4 * h, q, scale, min);
        } else {
          step(b * 8 + 4 * h, q, block.scales4(h), block.mins4(h));
        }
      }
    }
  }
  *y += hsum(_mm_add_ps(acc, min_acc));
  return b;
}

template <class Isa, class F, int T>
void row_times_tokens(const uint8_t* row, const RowActs& a, int64_t t0, float* y, int64_t y_stride) {
  constexpr bool kSignedDot = kSignedRows<Isa, F>;
  // Independent accumulators per token hide the FMA latency when few tokens share a block; groups
  // rotate over them, and 32-value formats take kSlots blocks per step for that.
  constexpr int kSlots = T >= 3 ? 1 : 4 / T;
  constexpr int kStepBlocks = F::kGroups >= kSlots ? 1 : kSlots / F::kGroups;
  __m256 acc[T][kSlots];
  float min_acc[T];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
#pragma GCC unroll 4
    for (int s = 0; s < kSlots; ++s) acc[t][s] = _mm256_setzero_ps();
    min_acc[t] = 0.0f;
  }
  // The ISA may cover a leading run of blocks with a wider kernel (AVX-512 decode); the rest follows here.
  float wide[T] = {};
  const int64_t first_block = Isa::template wide_rows<F, T>(row, a, t0, wide);
  auto do_block = [&](int64_t b, int first_slot) {
    const typename F::Block block(row + b * F::kBlockBytes);
#pragma GCC unroll 8
    for (int g = 0; g < F::kGroups; ++g) {
      const int slot = (first_slot + g) % kSlots;
      const int64_t ab = b * F::kGroups + g;
      const __m256i q = block.q(g);
      __m256i w_signed = q, w_abs = q;
      __m256 sub16_scale = _mm256_setzero_ps();
      if constexpr (kSignedDot) {
        w_signed = _mm256_sub_epi8(q, _mm256_set1_epi8(static_cast<char>(F::kZero)));
        w_abs = _mm256_abs_epi8(w_signed);
      }
      if constexpr (F::kSub16) {
        sub16_scale = _mm256_set_m128(_mm_set1_ps(block.scale16(g, 1)), _mm_set1_ps(block.scale16(g, 0)));
      }
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const int64_t i = (t0 + t) * a.n_blocks + ab;
        const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q + (t0 + t) * a.cols + ab * 32));
        __m256i dot;
        if constexpr (kSignedDot) {
          dot = Isa::dot256(_mm256_setzero_si256(), w_abs, _mm256_sign_epi8(av, w_signed));
        } else if constexpr (F::kZero == 0) {
          dot = Isa::dot256(_mm256_setzero_si256(), q, av);
        } else {
          dot = Isa::dot256(_mm256_set1_epi32(a.lane_bias[i]), q, av);
        }
        __m256 scale;
        if constexpr (F::kSub16) {
          scale = _mm256_mul_ps(sub16_scale, _mm256_set1_ps(a.d[i]));
        } else {
          scale = _mm256_set1_ps(block.scale(g) * a.d[i]);
        }
        acc[t][slot] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), scale, acc[t][slot]);
        if constexpr (F::kHasMin && F::kSub16) {
          min_acc[t] += block.min16(g, 0) * a.dsum_lo[i] + block.min16(g, 1) * (a.dsum[i] - a.dsum_lo[i]);
        } else if constexpr (F::kHasMin) {
          min_acc[t] += block.min(g) * a.dsum[i];
        }
      }
    }
  };
  const int64_t n_blocks = a.n_blocks / F::kGroups;
  int64_t b = first_block;
  if constexpr (T == 1 && kOneTokenQuads<F>) b = one_token_quads<Isa, F>(row, a, t0, b, n_blocks, &wide[0]);
  for (; b + kStepBlocks <= n_blocks; b += kStepBlocks) {
#pragma GCC unroll 4
    for (int u = 0; u < kStepBlocks; ++u) do_block(b + u, u * F::kGroups);
  }
  for (; b < n_blocks; ++b) do_block(b, 0);
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    __m256 sum = acc[t][0];
#pragma GCC unroll 4
    for (int s = 1; s < kSlots; ++s) sum = _mm256_add_ps(sum, acc[t][s]);
    y[t * y_stride] = hsum(sum) + min_acc[t] + wide[t];
  }
}

template <class Isa, class F>
void multiply_rows(const MatmulArgs& m, const RowActs& a, int64_t r_begin, int64_t r_end) {
  for (int64_t r = r_begin; r < r_end; ++r) {
    const uint8_t* row = m.W + static_cast<size_t>(r) * m.row_bytes;
    int64_t t = 0;
    for (; t + 4 <= m.n_tokens; t += 4) row_times_tokens<Isa, F, 4>(row, a, t, m.y + t * m.rows + r, m.rows);
    switch (m.n_tokens - t) {
      case 3: row_times_tokens<Isa, F, 3>(row, a, t, m.y + t * m.rows + r, m.rows); break;
      case 2: row_times_tokens<Isa, F, 2>(row, a, t, m.y + t * m.rows + r, m.rows); break;
      case 1: row_times_tokens<Isa, F, 1>(row, a, t, m.y + t * m.rows + r, m.rows); break;
      default: break;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Panel kernels.

// Unpacks rows [row0, row0 + n_rows) into the panel; rows up to the next tile boundary become zeros.
template <class Isa, class F>
void unpack_panel(const MatmulArgs& m, const Panel& p, bool signed_w, int64_t row0, int64_t n_rows) {
  const int64_t n_blocks = m.cols / (32 * F::kGroups);
  static_assert(Isa::kPanelRows % Isa::kTileRows == 0, "panels hold whole tiles");
  const int64_t padded = (n_rows + Isa::kTileRows - 1) / Isa::kTileRows * Isa::kTileRows;
  for (int64_t r = 0; r < padded; ++r) {
    uint8_t* dst = p.q + r * p.cols;
    float* dw = p.dw + r * p.n_subs;
    float* mw = p.mw + r * p.n_subs;
    if (r >= n_rows) {
      std::memset(dst, 0, static_cast<size_t>(p.cols));
      if (signed_w) std::memset(p.q_abs + r * p.cols, 0, static_cast<size_t>(p.cols));
      std::memset(dw, 0, static_cast<size_t>(p.n_subs) * sizeof(float));
      std::memset(mw, 0, static_cast<size_t>(p.n_subs) * sizeof(float));
      continue;
    }
    const uint8_t* row = m.W + static_cast<size_t>(row0 + r) * m.row_bytes;
    for (int64_t b = 0; b < n_blocks; ++b) {
      const typename F::Block block(row + b * F::kBlockBytes);
#pragma GCC unroll 8
      for (int g = 0; g < F::kGroups; ++g) {
        const int64_t ab = b * F::kGroups + g;
        __m256i q = block.q(g);
        if (signed_w) {
          q = _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80)));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.q_abs + r * p.cols + ab * 32), _mm256_abs_epi8(q));
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + ab * 32), q);
        if constexpr (F::kSub16) {
          dw[2 * ab] = block.scale16(g, 0);
          dw[2 * ab + 1] = block.scale16(g, 1);
          mw[2 * ab] = block.min16(g, 0);
          mw[2 * ab + 1] = block.min16(g, 1);
        } else {
          dw[ab] = block.scale(g);
          mw[ab] = block.min(g);
        }
      }
    }
  }
}

// How many 4-byte steps of a sub-block a panel tile sums in int16 before widening to int32. AVX2's
// maddubs gives int16 sums of two u8 * s8 products; with unsigned weights below 2^kBits and activations in
// [-128, 127], several of them fit in int16, which saves a madd (the slow widening) on all but the last.
// VNNI sums in int32 directly and signed panels (abs / sign) leave no headroom: one step, widened at once.
template <class Isa, class F>
constexpr int kInt16Steps = [] {
  constexpr int steps = (F::kSub16 ? 16 : 32) / 4;
  if constexpr (Isa::kVnni || kSignedPanels<Isa, F>) {
    return 1;
  } else {
    constexpr int fit = 32767 / (2 * ((1 << F::kBits) - 1) * 128);
    return fit < steps ? fit : steps;
  }
}();

// Panel rows [pr, pr + Isa::kTileRows) (weight rows row0 + pr ..) x TG token groups over the whole row;
// writes the valid rows and tokens of y. kSteps > 1: int16 sums over that many steps (kInt16Steps).
template <class Isa, int TG, int kSub, bool kMin, bool kBias, bool kSignedW, int kSteps>
void panel_tile(const MatmulArgs& m, const Panel& panel, const LaneActs& a, int64_t row0, int64_t pr, int64_t n_rows,
                int64_t tg0) {
  using VI = typename Isa::VI;
  using VF = typename Isa::VF;
  constexpr int L = Isa::kLanes, R = Isa::kTileRows;
  const Panel p{panel.q + pr * panel.cols, panel.dw + pr * panel.n_subs, panel.mw + pr * panel.n_subs, panel.cols,
                panel.n_subs, kSignedW ? panel.q_abs + pr * panel.cols : nullptr};
  row0 += pr;
  n_rows -= pr;
  VF acc[R][TG];
#pragma GCC unroll 32
  for (int i = 0; i < R * TG; ++i) acc[i / TG][i % TG] = Isa::zero_f();

  for (int64_t s = 0; s < p.n_subs; ++s) {
    VI iacc[R][TG];
#pragma GCC unroll 8
    for (int tg = 0; tg < TG; ++tg) {
      const VI init = kBias ? Isa::load_i(a.bias + ((tg0 + tg) * a.n_subs + s) * L) : Isa::zero_i();
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) iacc[r][tg] = init;
    }
#pragma GCC unroll 8
    for (int g0 = 0; g0 < kSub / 4; g0 += kSteps) {
      VI sums[R][TG];  // int16 pairs (kSteps > 1)
      if constexpr (kSteps > 1) {
#pragma GCC unroll 32
        for (int i = 0; i < R * TG; ++i) sums[i / TG][i % TG] = Isa::zero_i();
      }
#pragma GCC unroll 8
      for (int g = g0; g < g0 + kSteps; ++g) {
        VI av[TG];
#pragma GCC unroll 8
        for (int tg = 0; tg < TG; ++tg) av[tg] = Isa::load_i(a.q + ((tg0 + tg) * a.n_kgroups + s * (kSub / 4) + g) * L * 4);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          int32_t w4;
          std::memcpy(&w4, p.q + r * p.cols + s * kSub + 4 * g, 4);
          const VI w = Isa::set1_i32(w4);
          if constexpr (kSignedW) {
            std::memcpy(&w4, p.q_abs + r * p.cols + s * kSub + 4 * g, 4);
            const VI w_abs = Isa::set1_i32(w4);
#pragma GCC unroll 8
            for (int tg = 0; tg < TG; ++tg) iacc[r][tg] = Isa::dot(iacc[r][tg], w_abs, Isa::sign_i8(av[tg], w));
          } else if constexpr (kSteps > 1) {
#pragma GCC unroll 8
            for (int tg = 0; tg < TG; ++tg) sums[r][tg] = Isa::dot16(sums[r][tg], w, av[tg]);
          } else {
#pragma GCC unroll 8
            for (int tg = 0; tg < TG; ++tg) iacc[r][tg] = Isa::dot(iacc[r][tg], w, av[tg]);
          }
        }
      }
      if constexpr (kSteps > 1) {
#pragma GCC unroll 32
        for (int i = 0; i < R * TG; ++i) iacc[i / TG][i % TG] = Isa::widen16(iacc[i / TG][i % TG], sums[i / TG][i % TG]);
      }
    }
#pragma GCC unroll 8
    for (int tg = 0; tg < TG; ++tg) {
      const int64_t i = ((tg0 + tg) * a.n_subs + s) * L;
      const VF da = Isa::load_f(a.d + i);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const VF scale = Isa::mul(da, Isa::set1_f(p.dw[r * p.n_subs + s]));
        acc[r][tg] = Isa::fmadd(Isa::cvt(iacc[r][tg]), scale, acc[r][tg]);
        if constexpr (kMin) acc[r][tg] = Isa::fmadd(Isa::load_f(a.dsum + i), Isa::set1_f(p.mw[r * p.n_subs + s]), acc[r][tg]);
      }
    }
  }

  // Unrolled with constant indices so that acc stays in registers for the whole tile.
  alignas(64) float lanes[L];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int tg = 0; tg < TG; ++tg) {
      if (r >= n_rows) continue;
      Isa::store_f(lanes, acc[r][tg]);
      const int64_t t_base = (tg0 + tg) * L;
      for (int l = 0; l < L && t_base + l < m.n_tokens; ++l) m.y[(t_base + l) * m.rows + row0 + r] = lanes[l];
    }
  }
}

template <class Isa, int kSub, bool kMin, bool kBias, bool kSignedW, int kSteps>
void panel_tiles(const MatmulArgs& m, const Panel& p, const LaneActs& a, int64_t row0, int64_t n_rows,
                 int64_t g_begin, int64_t g_end) {
  for (int64_t tg = g_begin; tg < g_end; ++tg) {
    for (int64_t pr = 0; pr < n_rows; pr += Isa::kTileRows) {
      panel_tile<Isa, 1, kSub, kMin, kBias, kSignedW, kSteps>(m, p, a, row0, pr, n_rows, tg);
    }
  }
}

template <class Isa, class F>
void multiply_panels(const MatmulArgs& m, const Layout<Isa>& layout, int thread, int64_t r_begin, int64_t r_end) {
  constexpr int kSub = F::kSub16 ? 16 : 32, kSteps = kInt16Steps<Isa, F>;
  const Panel panel = layout.panel(m, thread);
  const int64_t groups = (m.n_tokens + Isa::kLanes - 1) / Isa::kLanes;
  for (int64_t c = 0; c < groups; c += kChunkGroups) {
    const int64_t c_end = c + kChunkGroups < groups ? c + kChunkGroups : groups;
    for (int64_t row0 = r_begin; row0 < r_end; row0 += Isa::kPanelRows) {
      const int64_t n_rows = r_end - row0 < Isa::kPanelRows ? r_end - row0 : Isa::kPanelRows;
      unpack_panel<Isa, F>(m, panel, layout.signed_w, row0, n_rows);
      if (layout.signed_w) {
        if constexpr (!Isa::kVnni) panel_tiles<Isa, kSub, F::kHasMin, false, true, 1>(m, panel, layout.lanes, row0, n_rows, c, c_end);
      } else if (layout.zero != 0) {
        panel_tiles<Isa, kSub, F::kHasMin, true, false, kSteps>(m, panel, layout.lanes, row0, n_rows, c, c_end);
      } else {
        panel_tiles<Isa, kSub, F::kHasMin, false, false, kSteps>(m, panel, layout.lanes, row0, n_rows, c, c_end);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Float weights (F32 / F16 / BF16): R rows x T tokens of float dot products along k.

template <class Isa, TensorType kType>
typename Isa::VF load_weights(const uint8_t* row, int64_t k) {
  if constexpr (kType == TensorType::F32) {
    return Isa::load_f(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (kType == TensorType::F16) {
    return Isa::load_f16(reinterpret_cast<const uint16_t*>(row) + k);
  } else {
    return Isa::load_bf16(reinterpret_cast<const uint16_t*>(row) + k);
  }
}

template <TensorType kType>
float weight_at(const uint8_t* row, int64_t k) {
  if constexpr (kType == TensorType::F32) {
    return reinterpret_cast<const float*>(row)[k];
  } else if constexpr (kType == TensorType::F16) {
    return half_to_float(reinterpret_cast<const uint16_t*>(row)[k]);
  } else {
    uint32_t bits = static_cast<uint32_t>(reinterpret_cast<const uint16_t*>(row)[k]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
}

template <class Isa, TensorType kType, int R, int T>
void float_tile(const MatmulArgs& m, int64_t r0, int64_t t0) {
  using VF = typename Isa::VF;
  constexpr int L = Isa::kFloatLanes;
  const uint8_t* rows[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) rows[r] = m.W + static_cast<size_t>(r0 + r) * m.row_bytes;
  VF acc[R][T];
#pragma GCC unroll 16
  for (int i = 0; i < R * T; ++i) acc[i / T][i % T] = Isa::zero_f();
  int64_t k = 0;
  for (; k + L <= m.cols; k += L) {
    VF xv[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) xv[t] = Isa::load_f(m.x + (t0 + t) * m.cols + k);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const VF w = load_weights<Isa, kType>(rows[r], k);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) acc[r][t] = Isa::fmadd(w, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float sum = Isa::hsum_f(acc[r][t]);
      for (int64_t j = k; j < m.cols; ++j) sum += weight_at<kType>(rows[r], j) * m.x[(t0 + t) * m.cols + j];
      m.y[(t0 + t) * m.rows + r0 + r] = sum;
    }
  }
}

template <class Isa, TensorType kType, int R>
void float_rows(const MatmulArgs& m, int64_t r0) {
  int64_t t = 0;
  for (; t + 3 <= m.n_tokens; t += 3) float_tile<Isa, kType, R, 3>(m, r0, t);
  for (; t < m.n_tokens; ++t) float_tile<Isa, kType, R, 1>(m, r0, t);
}

template <class Isa, TensorType kType>
void multiply_float(const MatmulArgs& m, int64_t r_begin, int64_t r_end) {
  int64_t r = r_begin;
  for (; r + 4 <= r_end; r += 4) float_rows<Isa, kType, 4>(m, r);
  for (; r < r_end; ++r) float_rows<Isa, kType, 1>(m, r);
}

// ---------------------------------------------------------------------------------------------------
// The SimdKernels entry points.

template <class Isa>
size_t scratch_bytes(const MatmulArgs& m, int n_threads) {
  const Layout<Isa> layout(m, nullptr);
  return layout.shared_bytes + layout.per_thread_bytes * static_cast<size_t>(n_threads);
}

// Panels take whole tiles of rows and whole lane groups of tokens; a part of at least one panel keeps
// the panel's reuse of the activations.
template <class Isa>
Grain grain(const MatmulArgs& m) {
  const Layout<Isa> layout(m, nullptr);
  if (layout.mode == Mode::Panels) return {Isa::kLanes, Isa::kPanelRows};
  return {1, 4};
}

template <class Isa>
void prepare(const MatmulArgs& m, uint8_t* scratch, int64_t t_begin, int64_t t_end) {
  const Layout<Isa> layout(m, scratch);
  if (layout.mode == Mode::Rows) {
    quantize_rows(m, layout.rows, layout.zero, t_begin, t_end);
    visit_quantized(m.type, [&](auto format) {
      for (int64_t i = t_begin; i < t_end; ++i) Isa::template prepare_wide<decltype(format)>(layout.rows, i);
    });
  } else if (layout.mode == Mode::Panels) {
    quantize_lanes<Isa::kLanes>(m, layout.lanes, layout.sub, layout.zero, t_begin / Isa::kLanes,
                                (t_end + Isa::kLanes - 1) / Isa::kLanes);
  }
}

template <class Isa>
void multiply(const MatmulArgs& m, uint8_t* scratch, int thread, int64_t r_begin, int64_t r_end) {
  const Layout<Isa> layout(m, scratch);
  if (layout.mode == Mode::Panels) {
    visit_quantized(m.type, [&](auto format) { multiply_panels<Isa, decltype(format)>(m, layout, thread, r_begin, r_end); });
    return;
  }
  if (layout.mode == Mode::Rows) {
    visit_quantized(m.type, [&](auto format) { multiply_rows<Isa, decltype(format)>(m, layout.rows, r_begin, r_end); });
    return;
  }
  switch (m.type) {
    case TensorType::F32: return multiply_float<Isa, TensorType::F32>(m, r_begin, r_end);
    case TensorType::F16: return multiply_float<Isa, TensorType::F16>(m, r_begin, r_end);
    case TensorType::BF16: return multiply_float<Isa, TensorType::BF16>(m, r_begin, r_end);
    default: return;
  }
}

template <class Isa>
float dot_f32(const float* a, const float* b, int64_t n) {
  using VF = typename Isa::VF;
  constexpr int L = Isa::kFloatLanes;
  VF acc[4] = {Isa::zero_f(), Isa::zero_f(), Isa::zero_f(), Isa::zero_f()};
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[j] = Isa::fmadd(Isa::load_f(a + i + j * L), Isa::load_f(b + i + j * L), acc[j]);
  }
  for (; i + L <= n; i += L) acc[0] = Isa::fmadd(Isa::load_f(a + i), Isa::load_f(b + i), acc[0]);
  float sum = Isa::hsum_f(Isa::add(Isa::add(acc[0], acc[1]), Isa::add(acc[2], acc[3])));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

template <class Isa>
void axpy_f32(float alpha, const float* x, float* y, int64_t n) {
  constexpr int L = Isa::kFloatLanes;
  const typename Isa::VF va = Isa::set1_f(alpha);
  int64_t i = 0;
  for (; i + L <= n; i += L) Isa::store_f(y + i, Isa::fmadd(va, Isa::load_f(x + i), Isa::load_f(y + i)));
  for (; i < n; ++i) y[i] += alpha * x[i];
}

template <class Isa>
SimdKernels make_table(SimdLevel level) {
  return {level, &scratch_bytes<Isa>, &grain<Isa>, &prepare<Isa>, &multiply<Isa>, &dot_f32<Isa>, &axpy_f32<Isa>};
}

}  // namespace
}  // namespace tabllm::cpu::x86
