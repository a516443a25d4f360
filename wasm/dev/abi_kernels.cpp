// The CPU kernels of this build (Path::Simd: SIMD128, and relaxed SIMD where the engine has it) exported to JavaScript, so that their tiles can be
// checked against the scalar reference op by op, ragged shapes included (tests/js/wasm_kernels.test.mjs).
// Development module only (build-wasm/tabllm-dev.mjs): the package does not ship these.
#include <string>

#include "backend/cpu/kernels.h"
#include "backend/cpu/simd_dispatch.h"
#include "common/error.h"
#include "backend/cpu/thread_pool.h"
#include "quant/types.h"
#include "abi_guard.h"
#include "tabllm_dev.h"

TABLLM_API int tabllm_simd_matmul(int type, const void* W, int rows, int cols, const float* x, int n_tokens, float* y) {
  return tabllm::wasm::guarded([&] {
    tabllm::cpu::ThreadPool pool(1);
    tabllm::cpu::Scratch scratch;
    tabllm::cpu::matmul(static_cast<tabllm::TensorType>(type), W, rows, cols, x, n_tokens, y, pool, scratch,
                        tabllm::cpu::Path::Simd);
    return 0;
  });
}

TABLLM_API const char* tabllm_simd_levels(void) {
  static std::string names;
  names.clear();
  for (tabllm::cpu::SimdLevel level : tabllm::cpu::supported_simd_levels()) {
    names += (names.empty() ? "" : ",") + std::string(tabllm::cpu::simd_level_name(level));
  }
  return names.c_str();
}

TABLLM_API int tabllm_simd_use(const char* level) {
  return tabllm::wasm::guarded([&] {
    const std::string name = level ? level : "";
    for (tabllm::cpu::SimdLevel l : tabllm::cpu::supported_simd_levels()) {
      if (name == tabllm::cpu::simd_level_name(l)) {
        tabllm::cpu::set_simd_level_for_testing(l);
        return 0;
      }
    }
    throw tabllm::Error("SIMD level \"" + name + "\" is not available here: use one of " + tabllm_simd_levels());
  });
}
