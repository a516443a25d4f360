// Pooling of a sequence's hidden states into one embedding, and its L2 normalisation, written once for
// the encoder and decoder embedding passes.
#pragma once
#include <cstdint>

namespace tabllm::ops {

// GGUF's {arch}.pooling_type, numbered as llama.cpp numbers it.
enum class Pooling { None = 0, Mean = 1, Cls = 2, Last = 3 };

// out[0..dim) from the n_tokens rows of `hidden` (row-major, dim floats each): their mean (summed in
// double), the first row (CLS) or the last.
void pool(const float* hidden, int64_t n_tokens, int64_t dim, Pooling pooling, float* out);

// Scales x to unit Euclidean length (the norm summed in double); a zero vector stays zero.
void l2_normalize(float* x, int64_t n);

}  // namespace tabllm::ops
