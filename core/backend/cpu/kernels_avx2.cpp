// The Simd path for x86-64 CPUs with AVX2 + FMA + F16C (compiled with those flags only).
#include "backend/cpu/simd_dispatch.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "backend/cpu/avx2_decode.h"
#include "backend/cpu/x86_kernels.h"

namespace tabllm::cpu {
namespace {

// The value, unchanged, through an empty asm: the compiler cannot reassociate additions across it.
inline __m256i in_register(__m256i v) {
  asm("" : "+x"(v));
  return v;
}

struct Avx2 {
  static constexpr bool kVnni = false;
  static constexpr int kLanes = 8, kFloatLanes = 8;
  static constexpr int kTileRows = 4, kPanelRows = 64;  // 16 ymm registers
  // The fewest tokens for which panels beat the row kernels (measured crossovers, TinyLlama shapes): 4-bit
  // panels, whose int16 sums run a whole 32-value group, repay their unpacking soonest; signed ones (|q|
  // as well) last.
  template <class F>
  static constexpr int min_panel_tokens() {
    if constexpr (x86::kSignedPanels<Avx2, F>) return 6;
    return x86::kInt16Steps<Avx2, F> >= 8 ? 4 : 5;
  }
  using VI = __m256i;
  using VF = __m256;

  // u8 x s8 products summed over each 4 bytes into int32 lanes. maddubs saturates pairs at int16, which
  // callers avoid by keeping unsigned bytes <= 129 (or using abs/sign with signed weights).
  static __m256i dot256(__m256i acc, __m256i u, __m256i s) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
  }
  // Accumulating chains pass through in_register: integer adds are associative, and without it the
  // compiler turns a tile's chains into trees that keep every product live, spilled to the stack.
  static VI dot(VI acc, VI u, VI s) { return in_register(dot256(acc, u, s)); }
  // Panels: int16 sums of maddubs pairs (callers keep them below 2^15), widened to int32 now and then.
  static VI dot16(VI sums, VI u, VI s) { return in_register(_mm256_add_epi16(sums, _mm256_maddubs_epi16(u, s))); }
  static VI widen16(VI acc, VI sums) { return _mm256_add_epi32(acc, _mm256_madd_epi16(sums, _mm256_set1_epi16(1))); }
  static VI zero_i() { return _mm256_setzero_si256(); }
  static VI load_i(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static VI set1_i32(int32_t v) { return _mm256_set1_epi32(v); }
  static VI sign_i8(VI v, VI s) { return _mm256_sign_epi8(v, s); }

  static VF zero_f() { return _mm256_setzero_ps(); }
  static VF load_f(const float* p) { return _mm256_loadu_ps(p); }
  static VF load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static VF load_bf16(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static void store_f(float* p, VF v) { _mm256_storeu_ps(p, v); }
  static VF set1_f(float v) { return _mm256_set1_ps(v); }
  static VF add(VF a, VF b) { return _mm256_add_ps(a, b); }
  static VF mul(VF a, VF b) { return _mm256_mul_ps(a, b); }
  static VF fmadd(VF a, VF b, VF c) { return _mm256_fmadd_ps(a, b, c); }
  static VF cvt(VI v) { return _mm256_cvtepi32_ps(v); }
  static float hsum_f(VF v) { return x86::hsum(v); }

  // Decode: two blocks a register for Q4_0 and Q4_1 (avx2_decode.h); the shared row kernels do the rest.
  template <class F>
  static size_t wide_bytes(int64_t cols) {
    return avx2::wide_bytes<F>(cols);
  }
  template <class F>
  static void prepare_wide(const x86::RowActs& a, int64_t t) {
    avx2::prepare_wide<F>(a, t);
  }
  template <class F, int T>
  static int64_t wide_rows(const uint8_t* row, const x86::RowActs& a, int64_t t0, float* out) {
    return avx2::wide_rows<F, T>(row, a, t0, out);
  }
};

}  // namespace

const SimdKernels* avx2_kernels() {
  static const SimdKernels table = x86::make_table<Avx2>(SimdLevel::Avx2);
  return &table;
}

}  // namespace tabllm::cpu
#else
namespace tabllm::cpu {
const SimdKernels* avx2_kernels() { return nullptr; }
}  // namespace tabllm::cpu
#endif
