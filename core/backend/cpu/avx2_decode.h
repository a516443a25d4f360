// AVX2 one-token decode of Q4_0 and Q4_1: two blocks per 256-bit register. Included only by
// kernels_avx2.cpp, under the same unnamed-namespace rule as x86_kernels.h.
//
// The shared row kernel splits each block's 16 nibble bytes into its own register (a 128-bit shift and an
// insert per block) and reduces every block's products through int32. Here one load and one insert put
// two blocks' nibble bytes side by side, so a mask gives both blocks' low nibbles and a shift their high
// nibbles; the token's activations are arranged once per token to match (prepare_wide). The two
// products per pair add in int16, and the four blocks of a step reduce together.
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "backend/cpu/x86_kernels.h"

namespace tabllm::cpu::avx2 {
namespace {

using x86::RowActs;

template <class F>
constexpr bool kNibblePairs = std::is_same_v<F, x86::FormatQ4_0> || std::is_same_v<F, x86::FormatQ4_1>;

// Per token, per 4 blocks (128 bytes): for each pair of blocks (b, b + 1), their first 16 activations side
// by side, then their last 16 side by side.
template <class F>
size_t wide_bytes(int64_t cols) {
  return kNibblePairs<F> ? static_cast<size_t>(cols) : 0;
}

template <class F>
void prepare_wide(const RowActs& a, int64_t t) {
  if constexpr (kNibblePairs<F>) {
    const int8_t* q = a.q + t * a.cols;
    uint8_t* out = a.wide + t * a.wide_stride;
    for (int64_t b = 0; b + 2 <= a.n_blocks; b += 2, out += 64) {
      std::memcpy(out, q + 32 * b, 16);
      std::memcpy(out + 16, q + 32 * (b + 1), 16);
      std::memcpy(out + 32, q + 32 * b + 16, 16);
      std::memcpy(out + 48, q + 32 * (b + 1) + 16, 16);
    }
  }
}

// Blocks [0, 4 * (n_blocks / 4)) of one token times a row, added to *out; returns the first block left.
template <class F>
int64_t nibble_pair_rows(const uint8_t* row, const RowActs& a, int64_t t0, float* out) {
  const uint8_t* x = a.wide + t0 * a.wide_stride;
  const float* d = a.d + t0 * a.n_blocks;
  const float* dsum = a.dsum + t0 * a.n_blocks;
  const __m256i low4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
  auto quants = [](const uint8_t* block) { return typename F::Block(block).b->qs; };
  // int16 sums of blocks (b, b + 1): 8 per block, each of 4 products of at most 15 * 128 (below 2^15).
  auto pair = [&](const uint8_t* block, const uint8_t* xa) {
    const __m256i v = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(quants(block + F::kBlockBytes)),
                                          reinterpret_cast<const __m128i*>(quants(block)));
    const __m256i lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    return _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xa))),
                            _mm256_maddubs_epi16(hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xa + 32))));
  };
  __m128 acc = _mm_setzero_ps(), min_acc = _mm_setzero_ps();
  int64_t b = 0;
  for (; b + 4 <= a.n_blocks; b += 4) {
    const uint8_t* p = row + b * F::kBlockBytes;
    x86::prefetch_ahead<4 * F::kBlockBytes>(p);
    // 128-bit halves: [b, b + 2] and [b + 1, b + 3], 4 sums each; then one int32 per block, in order.
    const __m256i sums = _mm256_madd_epi16(_mm256_hadd_epi16(pair(p, x + 32 * b), pair(p + 2 * F::kBlockBytes, x + 32 * b + 64)), ones);
    const __m256i h = _mm256_hadd_epi32(sums, sums);
    const __m128i dots = _mm_unpacklo_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    const __m128 scale = x86::four_halves<F::kBlockBytes>(p);
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(dots), _mm_mul_ps(scale, _mm_loadu_ps(d + b)), acc);
    if constexpr (F::kHasMin) {
      min_acc = _mm_fmadd_ps(x86::four_halves<F::kBlockBytes>(p + offsetof(blocks::Q4_1, m)), _mm_loadu_ps(dsum + b), min_acc);
    } else {
      min_acc = _mm_fmadd_ps(_mm_mul_ps(scale, _mm_set1_ps(-static_cast<float>(F::kZero))), _mm_loadu_ps(dsum + b), min_acc);
    }
  }
  *out += x86::hsum(_mm_add_ps(acc, min_acc));
  return b;
}

template <class F, int T>
int64_t wide_rows(const uint8_t* row, const RowActs& a, int64_t t0, float* out) {
  if constexpr (kNibblePairs<F> && T == 1) {
    return nibble_pair_rows<F>(row, a, t0, out);
  } else {
    return 0;
  }
}

}  // namespace
}  // namespace tabllm::cpu::avx2
