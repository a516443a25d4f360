// The Simd path under WebAssembly with relaxed SIMD (SimdLevel::WasmRelaxed). Prefill of the formats whose
// quants are unsigned (a zero point or stored mins: Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q2_K, Q3_K)
// runs the tile of kernels_wasm_relaxed.wat: int8 activations times the quants as bytes, 16 products an
// instruction where SIMD128 does 8, 4 rows in the lanes and every token in turn. Everything else (decode,
// Q8_0 and the IQ4 grids, whose quants are signed, float weights) is SIMD128's (kernels_wasm.cpp).
// Emscripten's compiler cannot emit relaxed SIMD, so the tile is assembled apart and reached through
// wasm/relaxed_simd.js, which also says whether this engine runs it.
#include "backend/cpu/simd_dispatch.h"

#if defined(__wasm_simd128__)
#include "backend/cpu/wasm_formats.h"

extern "C" {
// 1 when the engine runs relaxed SIMD and computes a known product exactly (wasm/relaxed_simd.js).
int tabllm_relaxed_simd_available(void);
// The tile of kernels_wasm_relaxed.wat (tile32 or tile16 by unit); its header says what each argument is.
void tabllm_relaxed_tile(int unit, const uint8_t* wq, const float* ws, const int8_t* x, int stride, const float* d,
                         const float* sum, int scale_stride, int n_units, int n_tokens, float* out);
}

namespace tabllm::cpu {
namespace {

using namespace wasm128;

// Unsigned quants: the tile's i7 operand.
template <class F>
constexpr bool kUnsignedQuants = F::kZero != 0 || F::kHasMin;
// Values per scale: the tile's unit.
template <class F>
constexpr int kUnit = F::kSub16 ? 16 : 32;
// The tile's int16 sums stay exact for quants of at most 5 bits in units of 32 and 6 bits in units of 16.
template <class F>
constexpr bool kTileExact = kUnit<F> == 32 ? F::kBits <= 5 : F::kBits <= 6;

// The unit of a product the tile runs (prefill of an unsigned format), else 0: SIMD128 runs it.
int tile_unit(const MatmulArgs& m) {
  int unit = 0;
  if (m.n_tokens > 1) {
    visit_quantized(m.type, [&](auto format) {
      if constexpr (kUnsignedQuants<decltype(format)>) unit = kUnit<decltype(format)>;
    });
  }
  return unit;
}

size_t round_up(size_t n) { return (n + 63) / 64 * 64; }

// Scratch of a tile product: the activations as int8 (token t at x + t * cols, each 16 in the Wide order),
// per unit u and token t the scale d and d * sum(q) at [u * n_tokens + t], then one panel per thread: 4
// rows' quants and their scales and mins as the tile reads them, and the tile's results, 4 rows per token.
struct Layout {
  int unit;
  int64_t n_units;
  size_t d, sum, panels, panel_bytes, ws, out;  // byte offsets: from scratch (d .. panels), from a panel (ws, out)
};

Layout layout_of(const MatmulArgs& m, int unit) {
  Layout l{};
  l.unit = unit;
  l.n_units = m.cols / unit;
  const size_t scales = round_up(static_cast<size_t>(l.n_units * m.n_tokens) * 4);
  l.d = round_up(static_cast<size_t>(m.n_tokens * m.cols));
  l.sum = l.d + scales;
  l.panels = l.sum + scales;
  l.ws = round_up(static_cast<size_t>(4 * m.cols));
  l.out = l.ws + round_up(static_cast<size_t>(l.n_units) * 32);
  l.panel_bytes = l.out + round_up(static_cast<size_t>(m.n_tokens) * 16);
  return l;
}

const SimdKernels& simd128() { return *wasm_kernels(); }

size_t scratch_bytes(const MatmulArgs& m, int n_threads) {
  const int unit = tile_unit(m);
  if (unit == 0) return simd128().scratch_bytes(m, n_threads);
  const Layout l = layout_of(m, unit);
  return l.panels + static_cast<size_t>(n_threads) * l.panel_bytes;
}

Grain grain(const MatmulArgs& m) { return simd128().grain(m); }

void prepare(const MatmulArgs& m, uint8_t* scratch, int64_t t_begin, int64_t t_end) {
  const int unit = tile_unit(m);
  if (unit == 0) return simd128().prepare(m, scratch, t_begin, t_end);
  const Layout l = layout_of(m, unit);
  auto* x = reinterpret_cast<int8_t*>(scratch);
  auto* d = reinterpret_cast<float*>(scratch + l.d);
  auto* sum = reinterpret_cast<float*>(scratch + l.sum);
  for (int64_t t = t_begin; t < t_end; ++t) {
    for (int64_t b = 0; b < m.cols / 32; ++b) {
      const QuantizedBlock q = quantize_block(m.x + t * m.cols + 32 * b);
      int8_t* at = x + t * m.cols + 32 * b;
      wasm_v128_store(at, wasm_i8x16_narrow_i16x8(q.q[0], q.q[1]));
      wasm_v128_store(at + 16, wasm_i8x16_narrow_i16x8(q.q[2], q.q[3]));
      if (unit == 32) {
        d[b * m.n_tokens + t] = q.d;
        sum[b * m.n_tokens + t] = q.d * static_cast<float>(q.sum);
      } else {
        d[2 * b * m.n_tokens + t] = d[(2 * b + 1) * m.n_tokens + t] = q.d;
        sum[2 * b * m.n_tokens + t] = q.d * static_cast<float>(q.sum_lo);
        sum[(2 * b + 1) * m.n_tokens + t] = q.d * static_cast<float>(q.sum - q.sum_lo);
      }
    }
  }
}

// Rows [r0, r0 + n_rows) into the panel as the tile reads them: each 4 values of a row are one 32-bit lane
// of a chunk; rows past n_rows (the product's last panel) are zeros. A zero point becomes a min of
// -zero * scale, as in SIMD128's decode.
template <class F>
void fill_panel(const MatmulArgs& m, int64_t r0, int n_rows, uint8_t* wq, float* ws) {
  static_assert(kTileExact<F>, "the tile's int16 sums would overflow: run this format on SIMD128");
  constexpr int kU = kUnit<F>;
  const int64_t n_units = m.cols / kU;
  if (n_rows < 4) {
    std::fill(wq, wq + 4 * m.cols, uint8_t{0});
    std::fill(ws, ws + 8 * n_units, 0.0f);
  }
  // Unit u's 16 values from `first` of row r: chunks first / 4 .. first / 4 + 3.
  auto put = [&](int64_t u, int r, int first, v128_t quants) {
    uint8_t* chunk = wq + (u * (kU / 4) + first / 4) * 16 + 4 * r;
    wasm_v128_store32_lane(chunk, quants, 0);
    wasm_v128_store32_lane(chunk + 16, quants, 1);
    wasm_v128_store32_lane(chunk + 32, quants, 2);
    wasm_v128_store32_lane(chunk + 48, quants, 3);
  };
  auto scales = [&](int64_t u, int r, float scale, float min) {
    ws[8 * u + r] = scale;
    ws[8 * u + 4 + r] = F::kZero != 0 ? -static_cast<float>(F::kZero) * scale : min;
  };
  for (int r = 0; r < n_rows; ++r) {
    const uint8_t* row = m.W + static_cast<size_t>(r0 + r) * m.row_bytes;
    for (int64_t b = 0; b < m.cols / 32 / F::kGroups; ++b) {
      const typename F::Block block(row + b * F::kBlockBytes);
#pragma clang loop unroll(full)
      for (int g = 0; g < F::kGroups; ++g) {
        const Wide w = block.group(g);
        const v128_t lo = wasm_u8x16_narrow_i16x8(w.w[0], w.w[1]), hi = wasm_u8x16_narrow_i16x8(w.w[2], w.w[3]);
        const int64_t group = b * F::kGroups + g;
        if constexpr (kU == 32) {
          put(group, r, 0, lo);
          put(group, r, 16, hi);
          scales(group, r, block.scale(g), block.min(g));
        } else {
          put(2 * group, r, 0, lo);
          put(2 * group + 1, r, 0, hi);
          scales(2 * group, r, block.scale16(g, 0), block.min16(g, 0));
          scales(2 * group + 1, r, block.scale16(g, 1), block.min16(g, 1));
        }
      }
    }
  }
}

template <class F>
void multiply_rows(const MatmulArgs& m, const Layout& l, uint8_t* scratch, int thread, int64_t r_begin, int64_t r_end) {
  uint8_t* panel = scratch + l.panels + static_cast<size_t>(thread) * l.panel_bytes;
  auto* ws = reinterpret_cast<float*>(panel + l.ws);
  auto* out = reinterpret_cast<float*>(panel + l.out);
  for (int64_t r0 = r_begin; r0 < r_end; r0 += 4) {
    const int n_rows = static_cast<int>(std::min<int64_t>(4, r_end - r0));
    fill_panel<F>(m, r0, n_rows, panel, ws);
    tabllm_relaxed_tile(l.unit, panel, ws, reinterpret_cast<const int8_t*>(scratch), static_cast<int>(m.cols),
                        reinterpret_cast<const float*>(scratch + l.d), reinterpret_cast<const float*>(scratch + l.sum),
                        static_cast<int>(m.n_tokens * 4), static_cast<int>(l.n_units), static_cast<int>(m.n_tokens), out);
    for (int64_t t = 0; t < m.n_tokens; ++t) {
      for (int r = 0; r < n_rows; ++r) m.y[t * m.rows + r0 + r] = out[4 * t + r];
    }
  }
}

void multiply(const MatmulArgs& m, uint8_t* scratch, int thread, int64_t r_begin, int64_t r_end) {
  const int unit = tile_unit(m);
  if (unit == 0) return simd128().multiply(m, scratch, thread, r_begin, r_end);
  const Layout l = layout_of(m, unit);
  visit_quantized(m.type, [&](auto format) {
    if constexpr (kUnsignedQuants<decltype(format)>) multiply_rows<decltype(format)>(m, l, scratch, thread, r_begin, r_end);
  });
}

}  // namespace

const SimdKernels* wasm_relaxed_kernels() {
  static const bool available = tabllm_relaxed_simd_available() == 1;
  static const SimdKernels table{SimdLevel::WasmRelaxed, &scratch_bytes, &grain, &prepare, &multiply,
                                 wasm_kernels()->dot_f32, wasm_kernels()->axpy_f32};
  return available ? &table : nullptr;
}

}  // namespace tabllm::cpu
#else
namespace tabllm::cpu {
const SimdKernels* wasm_relaxed_kernels() { return nullptr; }
}  // namespace tabllm::cpu
#endif
