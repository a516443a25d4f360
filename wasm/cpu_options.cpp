#include "cpu_options.h"

#include "common/error.h"

#ifdef __EMSCRIPTEN_PTHREADS__
#include <emscripten/em_asm.h>
#endif

namespace tabllm::wasm {
namespace {

#ifdef __EMSCRIPTEN_PTHREADS__
// Each extra thread needs an idle worker of the module's pthread pool: a new worker would only start
// once the host returns to its event loop, which a synchronous call never does.
void check_pthread_pool(int threads) {
  const int idle = EM_ASM_INT({ return PThread.unusedWorkers.length; });
  if (threads - 1 > idle)
    throw Error(std::to_string(threads) + " threads need " + std::to_string(threads - 1) + " idle workers but the pthread pool has " +
                std::to_string(idle) + ": create the module with a larger pthreadPoolSize, or free other sessions first");
}
#endif

}  // namespace

CpuOptions cpu_options(int threads, const std::string& kernels) {
  CpuOptions options;
  if (threads < 1) throw Error("threads must be at least 1, got " + std::to_string(threads));
#ifdef __EMSCRIPTEN_PTHREADS__
  check_pthread_pool(threads);
#elif defined(__EMSCRIPTEN__)
  if (threads > 1) throw Error("this build is single-threaded: use threads = 1, or the threaded build (tabllm.mjs) on a cross-origin isolated page");
#endif
  options.n_threads = threads;
  if (kernels == "scalar") options.path = cpu::Path::Scalar;
  else if (kernels != "simd") throw Error("kernels must be \"simd\" or \"scalar\", got \"" + kernels + "\"");
  return options;
}

}  // namespace tabllm::wasm
