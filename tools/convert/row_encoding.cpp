#include "convert/row_encoding.h"

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

#include "backend/cpu/thread_pool.h"
#include "quant/quantize.h"

namespace tabllm::tools {

int default_thread_count() { return cpu::available_cpus(); }

void parallel_for(uint64_t n, int n_threads, const std::function<void(uint64_t, uint64_t)>& work) {
  const uint64_t slices = std::clamp<uint64_t>(static_cast<uint64_t>(std::max(n_threads, 1)), 1, std::max<uint64_t>(n, 1));
  if (slices == 1) {
    work(0, n);
    return;
  }
  std::vector<std::exception_ptr> errors(slices);
  const auto run_slice = [&](uint64_t s) {
    try {
      work(n * s / slices, n * (s + 1) / slices);
    } catch (...) {
      errors[s] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (uint64_t s = 1; s < slices; ++s) threads.emplace_back(run_slice, s);
  run_slice(0);
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

void encode_rows(TensorType type, const float* src, uint64_t rows, uint64_t row_length, uint8_t* dst, int n_threads) {
  const size_t row_bytes = type_row_bytes(type, row_length);
  // Tiny tensors are not worth a thread.
  const int threads = rows * row_length < (1u << 16) ? 1 : n_threads;
  parallel_for(rows, threads, [&](uint64_t begin, uint64_t end) {
    for (uint64_t r = begin; r < end; ++r)
      quantize_row(type, src + r * row_length, dst + r * row_bytes, static_cast<int64_t>(row_length));
  });
}

}  // namespace tabllm::tools
