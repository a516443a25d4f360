// Encoders of the 256-value super-block formats (Q2_K..Q6_K, IQ4_XS) and of IQ4_NL. Unlike the 32-value
// formats, which have one exact rule, these search: each sub-block's scale (and min) is fitted by weighted
// least squares over several candidate grid spacings, the sub-block scales are then quantized against the
// super-block scale, and finally every value is rounded again with the scale the decoder will really use.
#include "quant/quantize_superblock.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "quant/block_formats.h"
#include "quant/quantize.h"

namespace tabllm {
namespace {

// Below this a group counts as all zeros (its scale would underflow).
constexpr float kZeroGroup = 1e-15f;

// Round half away from zero, without a libm call (this runs for every value and every candidate scale).
int round_int(float v) { return v >= 0.0f ? static_cast<int>(v + 0.5f) : -static_cast<int>(0.5f - v); }
int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// Importance of each value when fitting a group: the bigger values count more (their error moves the
// products most), on a floor of the block's RMS so that small values still count.
void importance(const float* x, int n, float* w) {
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const auto rms = static_cast<float>(std::sqrt(sum / n));
  for (int i = 0; i < n; ++i) w[i] = rms + std::fabs(x[i]);
}

// x ≈ scale * q - min with q in [0, nmax] and min >= 0 (the formats subtract a non-negative min).
struct AffineFit {
  float scale = 0.0f, min = 0.0f;
};

// Fits one group: for each candidate spacing the values are rounded onto the grid, then scale and min are
// solved in closed form (weighted least squares); the candidate with the least weighted error wins.
AffineFit fit_affine(const float* x, const float* w, int n, int nmax, uint8_t* q) {
  float lo = 0.0f, hi = x[0];
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  if (hi - lo < kZeroGroup) {
    std::fill(q, q + n, 0);
    return {0.0f, -lo};
  }
  float sum_w = 0, sum_wx = 0;
  for (int i = 0; i < n; ++i) {
    sum_w += w[i];
    sum_wx += w[i] * x[i];
  }
  AffineFit best{(hi - lo) / static_cast<float>(nmax), -lo};
  float best_error = INFINITY;
  uint8_t trial[256];
  // Spacings from a grid slightly wider than [lo, hi] to one somewhat narrower (clipping the extremes).
  constexpr int kSteps = 10;
  for (int step = 0; step <= kSteps; ++step) {
    const float levels = static_cast<float>(nmax) - 1.0f + static_cast<float>(step) * 0.2f;
    const float inv = levels / (hi - lo);
    float sum_wq = 0, sum_wqq = 0, sum_wqx = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(round_int(inv * (x[i] - lo)), 0, nmax);
      trial[i] = static_cast<uint8_t>(l);
      sum_wq += w[i] * static_cast<float>(l);
      sum_wqq += w[i] * static_cast<float>(l * l);
      sum_wqx += w[i] * static_cast<float>(l) * x[i];
    }
    const float det = sum_w * sum_wqq - sum_wq * sum_wq;
    if (!(det > 0)) continue;
    float scale = (sum_w * sum_wqx - sum_wx * sum_wq) / det;
    float offset = (sum_wqq * sum_wx - sum_wq * sum_wqx) / det;
    if (offset > 0) {  // a positive offset cannot be stored: fit the scale alone
      offset = 0;
      scale = sum_wqx / sum_wqq;
    }
    float error = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = scale * static_cast<float>(trial[i]) + offset - x[i];
      error += w[i] * diff * diff;
    }
    if (error < best_error) {
      best_error = error;
      best = {scale, -offset};
      std::memcpy(q, trial, static_cast<size_t>(n));
    }
  }
  return best;
}

// The signed value of largest magnitude.
float signed_max(const float* v, int n) {
  float best = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(v[i]) > std::fabs(best)) best = v[i];
  }
  return best;
}

// Keeps the candidate grid whose least-squares scale sum_wqx / sum_wqq lowers the weighted error most
// (by sum_wqx^2 / sum_wqq).
struct LeastSquaresScale {
  float scale, gain = -1;
  void consider(float sum_wqx, float sum_wqq) {
    if (sum_wqq > 0 && sum_wqx * sum_wqx > gain * sum_wqq) {
      gain = sum_wqx * sum_wqx / sum_wqq;
      scale = sum_wqx / sum_wqq;
    }
  }
};

// x ≈ scale * q with q in [-nmax, nmax - 1]; returns the scale (negative when the largest magnitude is
// positive: the grid has one more level below zero, which the largest value takes).
float fit_symmetric(const float* x, const float* w, int n, int nmax) {
  const float max = signed_max(x, n);
  if (std::fabs(max) < kZeroGroup) return 0.0f;
  LeastSquaresScale best{-max / static_cast<float>(nmax)};
  constexpr int kSteps = 4;
  for (int step = -kSteps; step <= kSteps; ++step) {
    const float inv = -(static_cast<float>(nmax) + 0.2f * static_cast<float>(step)) / max;
    float sum_wqx = 0, sum_wqq = 0;
    for (int i = 0; i < n; ++i) {
      const auto l = static_cast<float>(clamp_int(round_int(inv * x[i]), -nmax, nmax - 1));
      sum_wqx += w[i] * l * x[i];
      sum_wqq += w[i] * l * l;
    }
    best.consider(sum_wqx, sum_wqq);
  }
  return best.scale;
}

// The index of the IQ4 grid value nearest to v: how many midpoints between neighbours lie below it.
int nearest_iq4(float v) {
  static constexpr float kMidpoints[15] = {-115.5f, -93.5f, -74.0f, -57.0f, -42.0f, -28.5f, -16.0f, -4.5f,
                                           7.0f,    19.0f,  31.5f,  45.5f,  61.0f,  79.0f,  101.0f};
  int index = 0;
  for (float m : kMidpoints) index += v > m ? 1 : 0;
  return index;
}

// x ≈ scale * kIq4Values[index]: tries spacings that put the largest magnitude on either end of the
// (asymmetric) grid and keeps the least-squares scale with the least error.
float fit_iq4(const float* x, const float* w, int n) {
  const float max = signed_max(x, n);
  if (std::fabs(max) < kZeroGroup) return 0.0f;
  LeastSquaresScale best{max / 127.0f};
  constexpr int kSteps = 7;
  for (const int end : {static_cast<int>(blocks::kIq4Values[0]), static_cast<int>(blocks::kIq4Values[15])}) {
    for (int step = -kSteps; step <= kSteps; ++step) {
      const float inv = static_cast<float>(end + step) / max;
      float sum_wqx = 0, sum_wqq = 0;
      for (int i = 0; i < n; ++i) {
        const auto l = static_cast<float>(blocks::kIq4Values[nearest_iq4(inv * x[i])]);
        sum_wqx += w[i] * l * x[i];
        sum_wqq += w[i] * l * l;
      }
      best.consider(sum_wqx, sum_wqq);
    }
  }
  return best.scale;
}

// Rounds x / step onto [lo, hi] (0 where the step is 0).
int quantize_value(float x, float step, int lo, int hi) {
  return step != 0.0f ? clamp_int(round_int(x / step), lo, hi) : clamp_int(0, lo, hi);
}

// Writes 2-bit values (Q2_K / Q3_K low bits): element 128h + 32i + l into bits 2i of qs[32h + l].
void pack_2_bits(const uint8_t q[256], uint8_t qs[64]) {
  for (int h = 0; h < 2; ++h) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t* e = q + 128 * h + l;
      qs[32 * h + l] = static_cast<uint8_t>((e[0] & 3) | ((e[32] & 3) << 2) | ((e[64] & 3) << 4) | ((e[96] & 3) << 6));
    }
  }
}

// Q2_K / Q4_K / Q5_K: affine sub-blocks, then their scales and mins quantized to `scale_levels` steps of
// d and dmin. Returns d and dmin; sc/mn receive the integer scales, q the final values.
struct SuperAffine {
  float d, dmin;
};
SuperAffine quantize_affine_super(const float* x, int sub_size, int nmax, int scale_levels, uint8_t* sc,
                                  uint8_t* mn, uint8_t* q) {
  const int n_subs = 256 / sub_size;
  float w[256], scales[16], mins[16];
  importance(x, 256, w);
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < n_subs; ++j) {
    const AffineFit fit = fit_affine(x + sub_size * j, w + sub_size * j, sub_size, nmax, q + sub_size * j);
    scales[j] = fit.scale;
    mins[j] = fit.min;
    max_scale = std::max(max_scale, fit.scale);
    max_min = std::max(max_min, fit.min);
  }
  // Stored as halves: the integer scales are computed from the rounded values the decoder sees.
  const float d = f16_to_f32(f32_to_f16(max_scale / static_cast<float>(scale_levels)));
  const float dmin = f16_to_f32(f32_to_f16(max_min / static_cast<float>(scale_levels)));
  for (int j = 0; j < n_subs; ++j) {
    sc[j] = static_cast<uint8_t>(quantize_value(scales[j], d, 0, scale_levels));
    mn[j] = static_cast<uint8_t>(quantize_value(mins[j], dmin, 0, scale_levels));
    const float step = d * static_cast<float>(sc[j]), offset = dmin * static_cast<float>(mn[j]);
    for (int i = sub_size * j; i < sub_size * (j + 1); ++i) {
      q[i] = static_cast<uint8_t>(quantize_value(x[i] + offset, step, 0, nmax));
    }
  }
  return {d, dmin};
}

// Q3_K / Q6_K: symmetric sub-blocks of 16 whose scales are quantized to [-scale_nmax, scale_nmax - 1]
// steps of d. Returns d; sc receives the integer scales, q the values plus nmax (so in [0, 2 nmax)).
float quantize_symmetric_super(const float* x, int nmax, int scale_nmax, int* sc, uint8_t* q) {
  float w[256], scales[16];
  importance(x, 256, w);
  for (int j = 0; j < 16; ++j) scales[j] = fit_symmetric(x + 16 * j, w + 16 * j, 16, nmax);
  const float max_scale = signed_max(scales, 16);
  const float d = f16_to_f32(f32_to_f16(-max_scale / static_cast<float>(scale_nmax)));
  for (int j = 0; j < 16; ++j) {
    sc[j] = quantize_value(scales[j], d, -scale_nmax, scale_nmax - 1);
    const float step = d * static_cast<float>(sc[j]);
    for (int i = 16 * j; i < 16 * (j + 1); ++i) q[i] = static_cast<uint8_t>(quantize_value(x[i], step, -nmax, nmax - 1) + nmax);
  }
  return d;
}

void quantize_q2_k(const float* x, blocks::Q2_K* b) {
  uint8_t sc[16], mn[16], q[256];
  const SuperAffine s = quantize_affine_super(x, 16, 3, 15, sc, mn, q);
  b->d = f32_to_f16(s.d);
  b->dmin = f32_to_f16(s.dmin);
  for (int j = 0; j < 16; ++j) b->scales[j] = static_cast<uint8_t>(sc[j] | (mn[j] << 4));
  pack_2_bits(q, b->qs);
}

void quantize_q3_k(const float* x, blocks::Q3_K* b) {
  int sc[16];
  uint8_t q[256];
  b->d = f32_to_f16(quantize_symmetric_super(x, 4, 32, sc, q));
  std::memset(b->scales, 0, sizeof b->scales);
  for (int j = 0; j < 16; ++j) {
    const int s = sc[j] + 32;
    b->scales[j % 8] |= static_cast<uint8_t>((s & 0xf) << (4 * (j / 8)));
    b->scales[8 + j % 4] |= static_cast<uint8_t>((s >> 4) << (2 * (j / 4)));
  }
  std::memset(b->hmask, 0, sizeof b->hmask);
  for (int e = 0; e < 256; ++e) {
    if (q[e] & 4) b->hmask[e % 32] |= static_cast<uint8_t>(1u << (e / 32));
  }
  pack_2_bits(q, b->qs);
}

template <class Raw>
void quantize_k4(const float* x, Raw* b, int nmax) {
  uint8_t sc[8], mn[8], q[256];
  const SuperAffine s = quantize_affine_super(x, 32, nmax, 63, sc, mn, q);
  b->d = f32_to_f16(s.d);
  b->dmin = f32_to_f16(s.dmin);
  blocks::pack_k4_scales(sc, mn, b->scales);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) b->qs[32 * c + l] = static_cast<uint8_t>((q[64 * c + l] & 0xf) | ((q[64 * c + 32 + l] & 0xf) << 4));
  }
  if constexpr (std::is_same_v<Raw, blocks::Q5_K>) {
    std::memset(b->qh, 0, sizeof b->qh);
    for (int e = 0; e < 256; ++e) b->qh[e % 32] |= static_cast<uint8_t>(((q[e] >> 4) & 1) << (e / 32));
  }
}

void quantize_q6_k(const float* x, blocks::Q6_K* b) {
  int sc[16];
  uint8_t q[256];
  b->d = f32_to_f16(quantize_symmetric_super(x, 32, 128, sc, q));
  for (int j = 0; j < 16; ++j) b->scales[j] = static_cast<int8_t>(sc[j]);
  std::memset(b->ql, 0, sizeof b->ql);
  std::memset(b->qh, 0, sizeof b->qh);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, i = (e / 32) % 4, l = e % 32;
    b->ql[64 * h + 32 * (i & 1) + l] |= static_cast<uint8_t>((q[e] & 0xf) << (4 * (i >> 1)));
    b->qh[32 * h + l] |= static_cast<uint8_t>((q[e] >> 4) << (2 * i));
  }
}

// 32 values onto the IQ4 grid with step d, packed as Q4_0 nibbles.
void pack_iq4_group(const float* x, float d, uint8_t qs[16]) {
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>(nearest_iq4(inv * x[j]) | (nearest_iq4(inv * x[j + 16]) << 4));
  }
}

void quantize_iq4_nl(const float* x, blocks::IQ4_NL* b) {
  float w[32];
  importance(x, 32, w);
  b->d = f32_to_f16(fit_iq4(x, w, 32));
  pack_iq4_group(x, f16_to_f32(b->d), b->qs);
}

void quantize_iq4_xs(const float* x, blocks::IQ4_XS* b) {
  float w[256], scales[8];
  importance(x, 256, w);
  for (int j = 0; j < 8; ++j) scales[j] = fit_iq4(x + 32 * j, w + 32 * j, 32);
  const float d = f16_to_f32(f32_to_f16(-signed_max(scales, 8) / 32.0f));
  b->d = f32_to_f16(d);
  b->scales_h = 0;
  std::memset(b->scales_l, 0, sizeof b->scales_l);
  for (int j = 0; j < 8; ++j) {
    const int s = quantize_value(scales[j], d, -32, 31) + 32;
    b->scales_l[j / 2] |= static_cast<uint8_t>((s & 0xf) << (4 * (j % 2)));
    b->scales_h |= static_cast<uint16_t>((s >> 4) << (2 * j));
    pack_iq4_group(x + 32 * j, d * static_cast<float>(s - 32), b->qs + 16 * j);
  }
}

template <class Raw, class Encode>
void each_block(const float* x, void* dst, int64_t n_blocks, int block_size, Encode encode) {
  auto* b = static_cast<Raw*>(dst);
  for (int64_t i = 0; i < n_blocks; ++i) encode(x + block_size * i, b + i);
}

}  // namespace

bool quantize_superblock_row(TensorType type, const float* x, void* dst, int64_t n_blocks) {
  switch (type) {
    case TensorType::Q2_K: each_block<blocks::Q2_K>(x, dst, n_blocks, 256, quantize_q2_k); return true;
    case TensorType::Q3_K: each_block<blocks::Q3_K>(x, dst, n_blocks, 256, quantize_q3_k); return true;
    case TensorType::Q4_K:
      each_block<blocks::Q4_K>(x, dst, n_blocks, 256, [](const float* v, blocks::Q4_K* b) { quantize_k4(v, b, 15); });
      return true;
    case TensorType::Q5_K:
      each_block<blocks::Q5_K>(x, dst, n_blocks, 256, [](const float* v, blocks::Q5_K* b) { quantize_k4(v, b, 31); });
      return true;
    case TensorType::Q6_K: each_block<blocks::Q6_K>(x, dst, n_blocks, 256, quantize_q6_k); return true;
    case TensorType::IQ4_NL: each_block<blocks::IQ4_NL>(x, dst, n_blocks, 32, quantize_iq4_nl); return true;
    case TensorType::IQ4_XS: each_block<blocks::IQ4_XS>(x, dst, n_blocks, 256, quantize_iq4_xs); return true;
    default: return false;
  }
}

}  // namespace tabllm
