// The Simd path for x86-64 CPUs with AVX-512 F/BW/VL and VNNI (compiled with those flags only): vpdpbusd
// multiplies 64 (zmm) or 32 (ymm) byte pairs per instruction without the int16 saturation of AVX2.
#include "backend/cpu/simd_dispatch.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)
#include "backend/cpu/avx512_decode.h"
#include "backend/cpu/x86_kernels.h"

namespace tabllm::cpu {
namespace {

struct Avx512 {
  static constexpr bool kVnni = true;
  static constexpr int kLanes = 16, kFloatLanes = 16;
  static constexpr int kTileRows = 8, kPanelRows = 128;  // 32 zmm registers
  template <class F>
  static constexpr int min_panel_tokens() {
    return 8;  // measured crossover
  }
  using VI = __m512i;
  using VF = __m512;

  static __m256i dot256(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
  static VI dot(VI acc, VI u, VI s) { return _mm512_dpbusd_epi32(acc, u, s); }
  static VI zero_i() { return _mm512_setzero_si512(); }
  static VI load_i(const void* p) { return _mm512_loadu_si512(p); }
  static VI set1_i32(int32_t v) { return _mm512_set1_epi32(v); }

  static VF zero_f() { return _mm512_setzero_ps(); }
  static VF load_f(const float* p) { return _mm512_loadu_ps(p); }
  static VF load_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static VF load_bf16(const uint16_t* p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  static void store_f(float* p, VF v) { _mm512_storeu_ps(p, v); }
  static VF set1_f(float v) { return _mm512_set1_ps(v); }
  static VF add(VF a, VF b) { return _mm512_add_ps(a, b); }
  static VF mul(VF a, VF b) { return _mm512_mul_ps(a, b); }
  static VF fmadd(VF a, VF b, VF c) { return _mm512_fmadd_ps(a, b, c); }
  static VF cvt(VI v) { return _mm512_cvtepi32_ps(v); }
  static float hsum_f(VF v) { return _mm512_reduce_add_ps(v); }

  // Decode: the wider kernels of avx512_decode.h.
  template <class F>
  static size_t wide_bytes(int64_t cols) {
    return avx512::wide_bytes<F>(cols);
  }
  template <class F>
  static void prepare_wide(const x86::RowActs& a, int64_t t) {
    avx512::prepare_wide<F>(a, t);
  }
  template <class F, int T>
  static int64_t wide_rows(const uint8_t* row, const x86::RowActs& a, int64_t t0, float* out) {
    return avx512::wide_rows<F, T>(row, a, t0, out);
  }
};

}  // namespace

const SimdKernels* avx512_kernels() {
  static const SimdKernels table = x86::make_table<Avx512>(SimdLevel::Avx512);
  return &table;
}

}  // namespace tabllm::cpu
#else
namespace tabllm::cpu {
const SimdKernels* avx512_kernels() { return nullptr; }
}  // namespace tabllm::cpu
#endif
