// The model shapes `tabllm synth` can build: the hyperparameters of real models (random weights) and
// tiny shapes for fast tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "convert/model_spec.h"

namespace tabllm::tools {

// Names of every shape, in a fixed order.
std::vector<std::string> shape_names();

// The spec of shape `name`. Tiny shapes take `vocab_size` as theirs; real ones keep the model's own.
// Throws Error listing the known shapes when `name` is not one.
ModelSpec find_shape(const std::string& name, int64_t vocab_size);

// Llama 3.x long-context RoPE: per rotated pair, the number its frequency is divided by (llama.cpp's
// rope_freqs.weight). Pairs whose wavelength is short keep 1, long ones get `factor`, the band between
// is interpolated.
std::vector<float> llama3_rope_factors(int64_t head_dim, double rope_base, double factor = 32,
                                       double low_freq_factor = 1, double high_freq_factor = 4,
                                       double original_context = 8192);

// LongRoPE (phi3): per rotated pair, the divisor of its frequency for short contexts (up to the original
// training context) or long ones — rope_factors_short.weight / rope_factors_long.weight.
std::vector<float> longrope_factors(int64_t pairs, bool long_context);

}  // namespace tabllm::tools
