// Internal to core/quant: the searching encoders of the super-block formats and IQ4_NL (quantize_row
// dispatches to them).
#pragma once
#include <cstdint>

#include "quant/types.h"

namespace tabllm {

// Encodes n_blocks blocks of `type` from x; returns false for types it does not handle.
bool quantize_superblock_row(TensorType type, const float* x, void* dst, int64_t n_blocks);

}  // namespace tabllm
