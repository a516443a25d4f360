// The threads and kernels of a CPU session or embedder (tabllm.h), checked once for every export that
// takes them.
#ifndef TABLLM_WASM_CPU_OPTIONS_H
#define TABLLM_WASM_CPU_OPTIONS_H

#include <string>

#include "backend/cpu/forward.h"

namespace tabllm::wasm {

// `threads` >= 1 that this build can run (single-threaded builds: 1; threaded: enough idle pthread workers),
// `kernels` "simd" or "scalar". Throws Error saying which is wrong.
CpuOptions cpu_options(int threads, const std::string& kernels);

}  // namespace tabllm::wasm

#endif
