// Turning float rows into a tensor type's bytes, spread over threads (converter and synthesizer).
#pragma once
#include <cstdint>
#include <functional>

#include "quant/types.h"

namespace tabllm::tools {

// Threads to use by default: the machine's cores (at least 1).
int default_thread_count();

// Calls work(begin, end) on contiguous slices of [0, n) from up to n_threads threads; the caller's thread
// takes the first slice. Exceptions from any slice are rethrown after all have finished.
void parallel_for(uint64_t n, int n_threads, const std::function<void(uint64_t begin, uint64_t end)>& work);

// dst = `rows` rows of `row_length` floats from src, each encoded with quantize_row into `type`.
void encode_rows(TensorType type, const float* src, uint64_t rows, uint64_t row_length, uint8_t* dst, int n_threads);

}  // namespace tabllm::tools
