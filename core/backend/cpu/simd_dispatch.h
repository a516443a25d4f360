// Internal: the instruction-set implementations behind Path::Simd and how one is chosen. Each ISA lives in
// its own translation unit (compiled with that ISA's flags) and exposes a SimdKernels table; kernels.cpp
// picks the best table this CPU can run, once, unless a test forces another.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "quant/types.h"

namespace tabllm::cpu {

enum class SimdLevel { Scalar, Avx2, Avx512, Wasm128, WasmRelaxed };

// One matrix product as the kernels see it (see matmul in kernels.h).
struct MatmulArgs {
  TensorType type;
  const uint8_t* W;
  size_t row_bytes;
  int64_t rows;
  int64_t cols;
  const float* x;
  int64_t n_tokens;
  float* y;
};

// A product runs in two phases, each split over the pool's threads in parts: prepare() quantizes the
// activations of tokens [t_begin, t_end) into scratch, multiply() computes rows [r_begin, r_end) of y.
// Both see the same scratch (scratch_bytes long, 64-byte aligned); multiply() may use the slice of it that
// belongs to `thread`. Parts start at multiples of grain()'s sizes.
struct Grain {
  int64_t tokens, rows;
};
struct SimdKernels {
  SimdLevel level;
  size_t (*scratch_bytes)(const MatmulArgs& args, int n_threads);
  Grain (*grain)(const MatmulArgs& args);
  void (*prepare)(const MatmulArgs& args, uint8_t* scratch, int64_t t_begin, int64_t t_end);
  void (*multiply)(const MatmulArgs& args, uint8_t* scratch, int thread, int64_t r_begin, int64_t r_end);
  float (*dot_f32)(const float* a, const float* b, int64_t n);
  void (*axpy_f32)(float alpha, const float* x, float* y, int64_t n);
};

// The tables compiled into this binary; nullptr where the build target has no such ISA.
const SimdKernels* avx2_kernels();
const SimdKernels* avx512_kernels();
const SimdKernels* wasm_kernels();
const SimdKernels* wasm_relaxed_kernels();  // nullptr also where the engine lacks relaxed SIMD

const char* simd_level_name(SimdLevel level);
// Levels this CPU can run, best last (always starts with Scalar).
std::vector<SimdLevel> supported_simd_levels();
// The level Path::Simd uses now (the best supported one unless forced).
SimdLevel active_simd_level();
// Forces Path::Simd onto `level` so tests can check every implementation against Path::Scalar. Throws
// tabllm::Error when this CPU or build cannot run it. Not thread-safe against concurrent matmuls.
void set_simd_level_for_testing(SimdLevel level);

}  // namespace tabllm::cpu
