// AVX-512 decode kernels (row kernels: few tokens): several quantized blocks per 512-bit register. Included
// only by kernels_avx512.cpp, under the same unnamed-namespace rule as x86_kernels.h.
//
// Decode streams every weight once, so the work per weight block must stay below the memory time of its
// bytes. Shuffles are the scarce resource: blocks of the legacy formats are whole 16-bit words, so one
// two-source word permute gathers the quants of 4 blocks and another their scales; K-quant super-blocks
// are unpacked with plain shifts and masks. Everything that depends only on the activations (their order,
// per-lane zero-point bias and scales) is arranged once per token by prepare_wide instead of per weight
// row.
#pragma once
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "backend/cpu/x86_kernels.h"

namespace tabllm::cpu::avx512 {
namespace {

using x86::RowActs;

// Word offsets inside one block of the nibble formats (kWords == 0: not one of them).
template <class F>
struct NibbleWords {
  static constexpr int kWords = 0, kScale = 0, kMin = -1, kHigh = -1, kQuants = 0;
};
template <>
struct NibbleWords<x86::FormatQ4_0> {
  static constexpr int kWords = 9, kScale = 0, kMin = -1, kHigh = -1, kQuants = 1;
};
template <>
struct NibbleWords<x86::FormatQ4_1> {
  static constexpr int kWords = 10, kScale = 0, kMin = 1, kHigh = -1, kQuants = 2;
};
template <>
struct NibbleWords<x86::FormatQ5_0> {
  static constexpr int kWords = 11, kScale = 0, kMin = -1, kHigh = 1, kQuants = 3;
};
template <>
struct NibbleWords<x86::FormatQ5_1> {
  static constexpr int kWords = 12, kScale = 0, kMin = 1, kHigh = 2, kQuants = 4;
};

template <class F>
constexpr bool kNibbleFormat = NibbleWords<F>::kWords > 0;

// Nibble formats go 4 blocks per step, interleaved every 4 bytes: int32 lane l holds 4 consecutive quants
// of block l % 4 (elements 4k..4k+3 for the low nibbles, 16+4k.. for the high ones, k = l / 4), so each
// per-block value reaches its lanes with a 16-byte broadcast load. (Measured: block-contiguous lanes with
// 64-byte lane vectors run as fast on cached weights but 25% slower streaming from memory, the extra
// activation loads competing with the weight stream.) Per token and step the activations are stored as
//   [0, 64) the matching low-half bytes, [64, 128) high-half bytes,
//   [128, 144) int32 -zero * sum / 4 of each block (4 lanes per block), [144, 160) float d,
//   [160, 176) float d * sum / 4 (formats with mins).
template <class F>
constexpr int kNibbleStepBytes = F::kHasMin ? 176 : 160;

// Q4_K / Q5_K go a super-block per step: 64 quant bytes give the nibbles of sub-blocks (0, 2) and (1, 3)
// (then 4-7 likewise), so per token the activations of each super-block are stored in that order.
template <class F>
constexpr bool kK4Format = std::is_same_v<F, x86::FormatQ4_K> || std::is_same_v<F, x86::FormatQ5_K>;
constexpr int kK4Pairs[4][2] = {{0, 2}, {1, 3}, {4, 6}, {5, 7}};
// Q6_K: quants come out in natural order, 64 values (4 sub-blocks of 16) per register; per token and
// super-block: [0, 64) float d of each sub-block's 32-block, [64, 128) float -32 * sum of each sub-block
// (the zero-point correction, applied in float once per super-block).
constexpr int kQ6StepBytes = 128;

template <class F>
size_t wide_bytes(int64_t cols) {
  if constexpr (kNibbleFormat<F>) {
    return static_cast<size_t>(cols / 128) * kNibbleStepBytes<F>;
  } else if constexpr (kK4Format<F>) {
    return static_cast<size_t>(cols);
  } else if constexpr (std::is_same_v<F, x86::FormatQ6_K>) {
    return static_cast<size_t>(cols / 256) * kQ6StepBytes;
  } else {
    return 0;
  }
}

template <class F>
void prepare_wide(const RowActs& a, int64_t t) {
  const int8_t* q = a.q + t * a.cols;
  const int64_t first = t * a.n_blocks;
  uint8_t* out = a.wide + t * a.wide_stride;
  if constexpr (kNibbleFormat<F>) {
    for (int64_t j = 0; j < a.n_blocks / 4; ++j, out += kNibbleStepBytes<F>) {
      for (int lane = 0; lane < 16; ++lane) {
        const int8_t* block = q + 128 * j + 32 * (lane % 4);
        std::memcpy(out + 4 * lane, block + 4 * (lane / 4), 4);
        std::memcpy(out + 64 + 4 * lane, block + 16 + 4 * (lane / 4), 4);
      }
      int32_t bias[4];
      float d[4], dsum[4];
      for (int i = 0; i < 4; ++i) {
        bias[i] = 2 * a.lane_bias[first + 4 * j + i];  // 4 lanes per block instead of 8
        d[i] = a.d[first + 4 * j + i];
        dsum[i] = a.dsum[first + 4 * j + i] * 0.25f;
      }
      std::memcpy(out + 128, bias, 16);
      std::memcpy(out + 144, d, 16);
      if constexpr (F::kHasMin) std::memcpy(out + 160, dsum, 16);
    }
  } else if constexpr (kK4Format<F>) {
    for (int64_t s = 0; s < a.n_blocks / 8; ++s, out += 256) {
      for (int k = 0; k < 4; ++k) {
        std::memcpy(out + 64 * k, q + 256 * s + 32 * kK4Pairs[k][0], 32);
        std::memcpy(out + 64 * k + 32, q + 256 * s + 32 * kK4Pairs[k][1], 32);
      }
    }
  } else if constexpr (std::is_same_v<F, x86::FormatQ6_K>) {
    for (int64_t s = 0; s < a.n_blocks / 8; ++s, out += kQ6StepBytes) {
      float d[16], correction[16];
      for (int sub = 0; sub < 16; ++sub) {
        int32_t sum = 0;
        for (int e = 0; e < 16; ++e) sum += q[256 * s + 16 * sub + e];
        d[sub] = a.d[first + 8 * s + sub / 2];
        correction[sub] = -32.0f * static_cast<float>(sum);
      }
      std::memcpy(out, d, 64);
      std::memcpy(out + 64, correction, 64);
    }
  }
}

// 32 word indices for a permute (a plain struct: this header's code must not instantiate std templates,
// whose shared copies could carry AVX-512 instructions into generic code).
struct WordTable {
  int16_t w[32];
};

// Word-gather tables for the two-source permutes over a step of `step_words` words, loaded as its first
// and its last 64 bytes (overlapping, so nothing past the step is read): word w < 32 is index w of the
// first register; later words are index 32 + w - (step_words - 32) of the second.
constexpr int16_t step_word(int w, int step_words) {
  return static_cast<int16_t>(w < 32 ? w : 32 + w - (step_words - 32));
}

// Lane l (words 2l, 2l+1) takes quant words 2k, 2k+1 of block l % 4, k = l / 4.
template <class F>
constexpr WordTable gather_quants() {
  using W = NibbleWords<F>;
  WordTable idx{};
  for (int i = 0; i < 32; ++i) {
    const int lane = i / 2, block = lane % 4, word = 2 * (lane / 4) + i % 2;
    idx.w[i] = step_word(W::kWords * block + W::kQuants + word, 4 * W::kWords);
  }
  return idx;
}

// A per-block half (scale or min) for 16 lanes, lane i belonging to block block_of_lane(i).
template <class BlockOfLane>
constexpr WordTable gather_block_field(int block_words, int field, int step_words, BlockOfLane block_of_lane) {
  WordTable idx{};
  for (int i = 0; i < 16; ++i) idx.w[i] = step_word(block_words * block_of_lane(i) + field, step_words);
  return idx;
}

// The 32-bit fifth-bit words of the 4 blocks (words 0-7: qh of blocks 0-3).
template <class F>
constexpr WordTable gather_high_bits() {
  using W = NibbleWords<F>;
  WordTable idx{};
  for (int i = 0; i < 8; ++i) idx.w[i] = step_word(W::kWords * (i / 2) + W::kHigh + i % 2, 4 * W::kWords);
  return idx;
}

inline __m512i load_table(const WordTable& table) { return _mm512_loadu_si512(table.w); }

// Weights stream from memory once per token; besides the hardware prefetchers, each step asks for the
// lines this far ahead (measured: a few percent for Q8_0 with two threads, neutral elsewhere).
constexpr int kPrefetchBytes = 2048;

template <int kStepBytes>
inline void prefetch_step(const uint8_t* p) {
  for (int line = 0; line < kStepBytes; line += 64) _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchBytes + line), _MM_HINT_T0);
}

// 0x10 in the bytes of the interleaved quants whose fifth bit is set: lane l of `qh4` (the 4 blocks' qh
// words, repeated per 128-bit lane) shifted right by 4 * (l / 4) + `half` leaves bits 0-3 for the lane's
// 4 bytes; each byte then tests its own bit.
inline __m512i fifth_bits(__m512i qh4, int half) {
  const __m512i shifts = _mm512_add_epi32(_mm512_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12),
                                          _mm512_set1_epi32(half));
  const __m512i first_byte = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12));
  const __m512i spread = _mm512_shuffle_epi8(_mm512_srlv_epi32(qh4, shifts), first_byte);
  const __mmask64 set = _mm512_test_epi8_mask(spread, _mm512_set1_epi32(0x08040201));  // byte e tests bit e
  return _mm512_maskz_mov_epi8(set, _mm512_set1_epi8(0x10));
}

template <class F, int T>
int64_t nibble_rows(const uint8_t* row, const RowActs& a, int64_t t0, float* out) {
  using W = NibbleWords<F>;
  constexpr int kStepBytes = 8 * W::kWords;  // 4 blocks
  static constexpr auto kBlockOfLane = [](int lane) { return lane % 4; };
  static constexpr WordTable kQuants = gather_quants<F>();
  static constexpr WordTable kScales = gather_block_field(W::kWords, W::kScale, 4 * W::kWords, kBlockOfLane);
  static constexpr WordTable kMins = gather_block_field(W::kWords, W::kMin < 0 ? 0 : W::kMin, 4 * W::kWords, kBlockOfLane);
  static constexpr WordTable kHighBits = gather_high_bits<F>();
  const __m512i quants_idx = load_table(kQuants), scales_idx = load_table(kScales);
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  __m512 acc[T][2];
  for (int t = 0; t < T; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();

  auto step = [&](int64_t j, int slot) {
    const uint8_t* p = row + j * kStepBytes;
    prefetch_step<kStepBytes>(p);
    const __m512i z0 = _mm512_loadu_si512(p);
    const __m512i z1 = _mm512_loadu_si512(p + kStepBytes - 64);
    const __m512i packed = _mm512_permutex2var_epi16(z0, quants_idx, z1);
    __m512i low = _mm512_and_si512(packed, nibble);
    __m512i high = _mm512_and_si512(_mm512_srli_epi16(packed, 4), nibble);
    if constexpr (W::kHigh >= 0) {
      const __m512i qh4 = _mm512_broadcast_i32x4(_mm512_castsi512_si128(_mm512_permutex2var_epi16(z0, load_table(kHighBits), z1)));
      low = _mm512_or_si512(low, fifth_bits(qh4, 0));
      high = _mm512_or_si512(high, fifth_bits(qh4, 16));
    }
    const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(z0, scales_idx, z1)));
    __m512 mw = _mm512_setzero_ps();
    if constexpr (F::kHasMin) {
      mw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(z0, load_table(kMins), z1)));
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const uint8_t* act = a.wide + (t0 + t) * a.wide_stride + j * kNibbleStepBytes<F>;
      const __m512i bias = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(act + 128)));
      __m512i dot = _mm512_dpbusd_epi32(bias, low, _mm512_loadu_si512(act));
      dot = _mm512_dpbusd_epi32(dot, high, _mm512_loadu_si512(act + 64));
      const __m512 da = _mm512_broadcast_f32x4(_mm_loadu_ps(reinterpret_cast<const float*>(act + 144)));
      acc[t][slot] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw, da), acc[t][slot]);
      if constexpr (F::kHasMin) {
        const __m512 dsum = _mm512_broadcast_f32x4(_mm_loadu_ps(reinterpret_cast<const float*>(act + 160)));
        acc[t][slot] = _mm512_fmadd_ps(mw, dsum, acc[t][slot]);
      }
    }
  };
  const int64_t steps = a.n_blocks / 4;
  int64_t j = 0;
  for (; j + 2 <= steps; j += 2) {
    step(j, 0);
    step(j + 1, 1);
  }
  if (j < steps) step(j, 0);
  for (int t = 0; t < T; ++t) out[t] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]));
  return steps * 4;
}

// Q8_0: 2 blocks (34 words) per step in natural order (lanes 0-7 the first block); the quants are two
// plain 32-byte loads, the per-block activation values two 8-lane broadcasts from the row arrays.
template <int T>
int64_t q8_0_rows(const uint8_t* row, const RowActs& a, int64_t t0, float* out) {
  static constexpr WordTable kScales = gather_block_field(17, 0, 32, [](int lane) { return lane / 8; });
  const __m512i scales_idx = load_table(kScales);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));  // signed -> unsigned + 128
  __m512 acc[T][2];
  for (int t = 0; t < T; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  auto step = [&](int64_t j, int slot) {
    const uint8_t* p = row + 68 * j;
    prefetch_step<68>(p);
    const __m512i quants = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2))),
                                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 36)), 1);
    const __m512i w = _mm512_xor_si512(quants, flip);
    const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(scales_idx, _mm512_loadu_si512(p))));
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const int64_t i = (t0 + t) * a.n_blocks + 2 * j;
      const __m512i bias = _mm512_inserti64x4(_mm512_set1_epi32(a.lane_bias[i]), _mm256_set1_epi32(a.lane_bias[i + 1]), 1);
      const __m512 da = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(a.d[i])), _mm256_castps_pd(_mm256_set1_ps(a.d[i + 1])), 1));
      const __m512i dot = _mm512_dpbusd_epi32(bias, w, _mm512_loadu_si512(a.q + (t0 + t) * a.cols + 64 * j));
      acc[t][slot] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw, da), acc[t][slot]);
    }
  };
  const int64_t steps = a.n_blocks / 2;
  int64_t j = 0;
  for (; j + 2 <= steps; j += 2) {
    step(j, 0);
    step(j + 1, 1);
  }
  if (j < steps) step(j, 0);
  for (int t = 0; t < T; ++t) out[t] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]));
  return steps * 2;
}

// Lanes 0-7 take element `lo` of a vector, lanes 8-15 element `hi`.
inline __m512i pair_lanes(int lo, int hi) {
  return _mm512_setr_epi32(lo, lo, lo, lo, lo, lo, lo, lo, hi, hi, hi, hi, hi, hi, hi, hi);
}

// Word shifts: the first 16 words by `lo`, the last 16 by `hi`.
inline __m512i half_shifts(int lo, int hi) {
  return _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(lo)), _mm256_set1_epi16(static_cast<int16_t>(hi)), 1);
}

// Q4_K / Q5_K, one super-block (8 sub-blocks of 32) per step.
template <class F, int T>
int64_t k4_rows(const uint8_t* row, const RowActs& a, int64_t t0, float* out) {
  using Raw = typename F::Raw;
  constexpr bool kFifthBit = std::is_same_v<F, x86::FormatQ5_K>;
  const __m512i nibble = _mm512_set1_epi8(0x0f), bit4 = _mm512_set1_epi8(0x10);
  __m512i lanes[4], shifts[4];
  for (int k = 0; k < 4; ++k) {
    lanes[k] = pair_lanes(kK4Pairs[k][0], kK4Pairs[k][1]);
    shifts[k] = half_shifts(kK4Pairs[k][0], kK4Pairs[k][1]);
  }
  __m512 acc[T][2];
  __m256 min_acc[T];
  for (int t = 0; t < T; ++t) {
    acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    min_acc[t] = _mm256_setzero_ps();
  }
  const int64_t steps = a.n_blocks / 8;
  for (int64_t s = 0; s < steps; ++s) {
    const Raw* b = reinterpret_cast<const Raw*>(row) + s;
    prefetch_step<sizeof(Raw)>(reinterpret_cast<const uint8_t*>(b));
    uint8_t sc[8], mn[8];
    blocks::unpack_k4_scales(b->scales, sc, mn);
    const __m256 scale8 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc)))),
                                        _mm256_set1_ps(x86::half_to_float(b->d)));
    const __m256 min8 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn)))),
                                      _mm256_set1_ps(-x86::half_to_float(b->dmin)));
    const __m512i z0 = _mm512_loadu_si512(b->qs), z1 = _mm512_loadu_si512(b->qs + 64);
    __m512i w[4] = {_mm512_and_si512(z0, nibble), _mm512_and_si512(_mm512_srli_epi16(z0, 4), nibble),
                    _mm512_and_si512(z1, nibble), _mm512_and_si512(_mm512_srli_epi16(z1, 4), nibble)};
    if constexpr (kFifthBit) {
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh)));
      for (int k = 0; k < 4; ++k) {
        const __m512i bits = _mm512_slli_epi16(_mm512_srlv_epi16(qh, shifts[k]), 4);
        w[k] = _mm512_ternarylogic_epi32(w[k], bits, bit4, 0xf8);  // w | (bits & bit4)
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const int64_t i = (t0 + t) * a.n_blocks + 8 * s;
      const uint8_t* act = a.wide + (t0 + t) * a.wide_stride + 256 * s;
      const __m512 scale = _mm512_castps256_ps512(_mm256_mul_ps(scale8, _mm256_loadu_ps(a.d + i)));
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[k], _mm512_loadu_si512(act + 64 * k));
        acc[t][k & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_permutexvar_ps(lanes[k], scale), acc[t][k & 1]);
      }
      min_acc[t] = _mm256_fmadd_ps(min8, _mm256_loadu_ps(a.dsum + i), min_acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1])) + x86::hsum(min_acc[t]);
  return steps;
}

// Q6_K, one super-block per step: each 128-value half is 64 low-bit bytes (nibbles: values 0-63 and
// 64-127) and 32 high-bit bytes (2 bits per value). Quants stay unsigned (0-63); the -32 zero point is
// corrected in float with the activation sums.
template <int T>
int64_t q6_k_rows(const uint8_t* row, const RowActs& a, int64_t t0, float* out) {
  const __m512i nibble = _mm512_set1_epi8(0x0f), two_bits = _mm512_set1_epi8(0x30);
  const __m512i low_shifts = half_shifts(0, 2), high_shifts = half_shifts(4, 6);
  __m512i lanes[4];
  for (int k = 0; k < 4; ++k) {
    lanes[k] = _mm512_setr_epi32(4 * k, 4 * k, 4 * k, 4 * k, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 2,
                                 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3);
  }
  __m512 acc[T][2];
  for (int t = 0; t < T; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  const int64_t steps = a.n_blocks / 8;
  for (int64_t s = 0; s < steps; ++s) {
    const blocks::Q6_K* b = reinterpret_cast<const blocks::Q6_K*>(row) + s;
    prefetch_step<sizeof(blocks::Q6_K)>(reinterpret_cast<const uint8_t*>(b));
    const __m512 scales = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b->scales)))),
                                        _mm512_set1_ps(x86::half_to_float(b->d)));
    __m512i w[4];
    for (int h = 0; h < 2; ++h) {
      const __m512i low = _mm512_loadu_si512(b->ql + 64 * h);
      const __m512i high = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh + 32 * h)));
      const __m512i high_lo = _mm512_slli_epi16(_mm512_srlv_epi16(high, low_shifts), 4);
      const __m512i high_hi = _mm512_slli_epi16(_mm512_srlv_epi16(high, high_shifts), 4);
      w[2 * h] = _mm512_ternarylogic_epi32(_mm512_and_si512(low, nibble), high_lo, two_bits, 0xf8);
      w[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(low, 4), nibble), high_hi, two_bits, 0xf8);
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const int8_t* act = a.q + (t0 + t) * a.cols + 256 * s;
      const float* meta = reinterpret_cast<const float*>(a.wide + (t0 + t) * a.wide_stride + kQ6StepBytes * s);
      const __m512 sub_scales = _mm512_mul_ps(scales, _mm512_loadu_ps(meta));  // weight * activation scale
      acc[t][1] = _mm512_fmadd_ps(sub_scales, _mm512_loadu_ps(meta + 16), acc[t][1]);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[k], _mm512_loadu_si512(act + 64 * k));
        acc[t][k & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_permutexvar_ps(lanes[k], sub_scales), acc[t][k & 1]);
      }
    }
  }
  for (int t = 0; t < T; ++t) out[t] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]));
  return steps;
}

// Blocks [0, returned) of the row for T tokens, summed into out[t]; the shared row kernel does the rest.
template <class F, int T>
int64_t wide_rows(const uint8_t* row, const RowActs& a, int64_t t0, float* out) {
  if constexpr (kNibbleFormat<F>) {
    return nibble_rows<F, T>(row, a, t0, out);
  } else if constexpr (std::is_same_v<F, x86::FormatQ8_0>) {
    return q8_0_rows<T>(row, a, t0, out);
  } else if constexpr (kK4Format<F>) {
    return k4_rows<F, T>(row, a, t0, out);
  } else if constexpr (std::is_same_v<F, x86::FormatQ6_K>) {
    return q6_k_rows<T>(row, a, t0, out);
  } else {
    return 0;
  }
}

}  // namespace
}  // namespace tabllm::cpu::avx512
