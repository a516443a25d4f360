// The CPU kernels of this build (Path::Simd: SIMD128) exported to JavaScript, so that their tiles can be
// checked against the scalar reference op by op, ragged shapes included (tests/js/wasm_kernels.test.mjs).
// Development module only (build-wasm/tabllm-dev.mjs): the package does not ship these.
#include "backend/cpu/kernels.h"
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
