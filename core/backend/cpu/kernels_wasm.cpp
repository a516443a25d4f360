// The Simd path under WebAssembly SIMD128 (the whole WebAssembly build has -msimd128).
//
// SIMD128 multiplies 16-bit integers (i32x4.dot_i16x8_s: 8 products summed in pairs), so activations are
// quantized per 32 values to int8 range and stored widened to int16; weights are decoded per group of 32
// straight into int16 lanes (wasm_formats.h). Decode multiplies each row by its one token, four
// scale units at a time. Prefill decodes 4 rows at a time into a panel (int16 groups, float scales) that
// stays in cache for every quad of tokens; a tile of 4 rows times a quad loads each token's activations
// once for the four rows and applies the scales to the quad's four sums as one vector.
#include "backend/cpu/simd_dispatch.h"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

#include <algorithm>

#include "backend/cpu/wasm_formats.h"
#include "quant/quantize.h"

namespace tabllm::cpu {
namespace {

using namespace wasm128;

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

Grain grain(const MatmulArgs&) { return {1, 4}; }

void prepare(const MatmulArgs& m, uint8_t* scratch, int64_t t_begin, int64_t t_end) {
  if (!visit_quantized(m.type, [](auto) {})) return;
  const Acts a = acts_in(m, scratch);
  for (int64_t t = t_begin; t < t_end; ++t) {
    for (int64_t b = 0; b < a.n_blocks; ++b) {
      const QuantizedBlock block = quantize_block(m.x + t * m.cols + 32 * b);
      int16_t* q = a.q + t * a.cols + 32 * b;
      for (int i = 0; i < 4; ++i) wasm_v128_store(q + 8 * i, block.q[i]);
      const int64_t i = b * a.n_pad + t;
      a.d[i] = block.d;
      a.dsum[i] = block.d * static_cast<float>(block.sum);
      a.dsum_lo[i] = block.d * static_cast<float>(block.sum_lo);
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
