// Public kernel entry points: argument checks, the choice between Path::Scalar and the SIMD table of this
// CPU, and the split of each product over the thread pool.
#include "backend/cpu/kernels.h"

#include <algorithm>
#include <atomic>

#include "backend/cpu/scalar_reference.h"
#include "backend/cpu/simd_dispatch.h"
#include "common/error.h"

namespace tabllm::cpu {
namespace {

bool cpu_can_run(SimdLevel level) {
  switch (level) {
    case SimdLevel::Scalar: return true;
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__EMSCRIPTEN__)
    // Every CPU with AVX2 and FMA also has F16C, which these builtins cannot name portably.
    case SimdLevel::Avx2:
      return avx2_kernels() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SimdLevel::Avx512:
      return avx512_kernels() && cpu_can_run(SimdLevel::Avx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
#endif
    case SimdLevel::Wasm128: return wasm_kernels() != nullptr;  // compiled in only with -msimd128
    case SimdLevel::WasmRelaxed: return wasm_relaxed_kernels() != nullptr;
    default: return false;
  }
}

const SimdKernels* kernels_of(SimdLevel level) {
  switch (level) {
    case SimdLevel::Avx2: return avx2_kernels();
    case SimdLevel::Avx512: return avx512_kernels();
    case SimdLevel::Wasm128: return wasm_kernels();
    case SimdLevel::WasmRelaxed: return wasm_relaxed_kernels();
    default: return nullptr;
  }
}

std::atomic<int> forced_level{-1};

const SimdKernels* active_kernels() { return kernels_of(active_simd_level()); }

uint8_t* scratch_of_size(Scratch& scratch, size_t bytes) {
  constexpr size_t kAlign = 64;
  if (scratch.bytes.size() < bytes + kAlign) scratch.bytes.resize(bytes + kAlign);
  const auto address = reinterpret_cast<uintptr_t>(scratch.bytes.data());
  return scratch.bytes.data() + ((kAlign - address % kAlign) % kAlign);
}

// Below this many tokens the caller quantizes the activations alone: waking the pool costs more.
constexpr int64_t kParallelPrepareTokens = 8;

// Rows per part of a product: the kernels' grain, raised until a part reads at least kMinPartBytes of
// weights times tokens (about a microsecond of work), since a smaller part costs more to claim than it
// spreads. A small model's products then run on the caller alone.
constexpr size_t kMinPartBytes = 16 << 10;
int64_t part_rows(const MatmulArgs& args, int64_t grain) {
  const size_t per_row = args.row_bytes * static_cast<size_t>(args.n_tokens);
  const auto rows = static_cast<int64_t>((kMinPartBytes + per_row - 1) / per_row);
  return (std::max(rows, grain) + grain - 1) / grain * grain;
}

}  // namespace

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::Scalar: return "scalar";
    case SimdLevel::Avx2: return "avx2";
    case SimdLevel::Avx512: return "avx512";
    case SimdLevel::Wasm128: return "wasm-simd128";
    case SimdLevel::WasmRelaxed: return "wasm-relaxed-simd";
  }
  return "unknown";
}

std::vector<SimdLevel> supported_simd_levels() {
  std::vector<SimdLevel> levels;
  for (SimdLevel level : {SimdLevel::Scalar, SimdLevel::Wasm128, SimdLevel::WasmRelaxed, SimdLevel::Avx2, SimdLevel::Avx512}) {
    if (cpu_can_run(level)) levels.push_back(level);
  }
  return levels;
}

SimdLevel active_simd_level() {
  static const SimdLevel best = supported_simd_levels().back();
  const int forced = forced_level.load(std::memory_order_relaxed);
  return forced >= 0 ? static_cast<SimdLevel>(forced) : best;
}

void set_simd_level_for_testing(SimdLevel level) {
  if (!cpu_can_run(level)) {
    throw Error(std::string("SIMD level ") + simd_level_name(level) + " is not available on this CPU/build");
  }
  forced_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

std::string simd_level() { return simd_level_name(active_simd_level()); }

void matmul(TensorType type, const void* W, int64_t rows, int64_t cols, const float* x, int64_t n_tokens,
            float* y, ThreadPool& pool, Scratch& scratch, Path path) {
  const TypeTraits traits = type_traits(type);
  if (!traits.supported) throw Error(std::string("matmul: unsupported weight type ") + traits.name);
  if (rows < 0 || cols < 0 || n_tokens < 0 || cols % traits.block_size != 0) {
    throw Error("matmul: bad shape " + std::to_string(rows) + "x" + std::to_string(cols) + " (" + traits.name +
                " rows must hold whole blocks of " + std::to_string(traits.block_size) + ") with " +
                std::to_string(n_tokens) + " tokens");
  }
  if (rows == 0 || n_tokens == 0) return;
  const MatmulArgs args{type, static_cast<const uint8_t*>(W), type_row_bytes(type, cols), rows, cols, x, n_tokens, y};
  const int n_threads = pool.size();

  // Lambdas capture one pointer so std::function keeps them inline (no allocation per call).
  const SimdKernels* kernels = path == Path::Simd ? active_kernels() : nullptr;
  if (kernels == nullptr) {
    struct Job {
      const MatmulArgs* args;
      float* rows;
    } job{&args, reinterpret_cast<float*>(scratch_of_size(
                     scratch, scalar::matmul_scratch_floats(args) * sizeof(float) * n_threads))};
    pool.run(rows, part_rows(args, 1), [&job](int64_t begin, int64_t end, int thread) {
      scalar::matmul_rows(*job.args, begin, end, job.rows + static_cast<size_t>(thread) * job.args->cols);
    });
    return;
  }

  struct Job {
    const MatmulArgs* args;
    const SimdKernels* kernels;
    uint8_t* scratch;
  } job{&args, kernels, scratch_of_size(scratch, kernels->scratch_bytes(args, n_threads))};
  const Grain grain = kernels->grain(args);
  if (n_threads == 1 || n_tokens < kParallelPrepareTokens) {
    kernels->prepare(args, job.scratch, 0, n_tokens);
  } else {
    pool.run(n_tokens, grain.tokens,
             [&job](int64_t begin, int64_t end, int) { job.kernels->prepare(*job.args, job.scratch, begin, end); });
  }
  pool.run(rows, part_rows(args, grain.rows),
           [&job](int64_t begin, int64_t end, int thread) { job.kernels->multiply(*job.args, job.scratch, thread, begin, end); });
}

float dot_f32(const float* a, const float* b, int64_t n, Path path) {
  const SimdKernels* kernels = path == Path::Simd ? active_kernels() : nullptr;
  return kernels ? kernels->dot_f32(a, b, n) : scalar::dot_f32(a, b, n);
}

void axpy_f32(float alpha, const float* x, float* y, int64_t n, Path path) {
  const SimdKernels* kernels = path == Path::Simd ? active_kernels() : nullptr;
  if (kernels) {
    kernels->axpy_f32(alpha, x, y, n);
  } else {
    scalar::axpy_f32(alpha, x, y, n);
  }
}

}  // namespace tabllm::cpu
