// Random-weight models of real shapes, for benchmarks and tests that need no trained weights.
#pragma once
#include <cstdint>
#include <string>

#include <optional>

#include "convert/model_spec.h"
#include "quant/types.h"
#include "synth/weight_mix.h"
#include "tokenizer/vocab.h"

namespace tabllm::tools {

struct SynthOptions {
  std::string shape;   // see shape_names()
  TensorType type = TensorType::Q4_0;  // of the matrices (storage_type decides fallbacks)
  std::optional<WeightMix> mix;        // per-tensor types instead (type is then the mix's base type)
  uint64_t seed = 0;
  int64_t layers = 0;  // > 0 overrides the shape's layer count
  int pooling = -1;     // >= 0 overrides the shape's pooling_type (0 none, 1 mean, 2 cls, 3 last)
  int64_t context = 0;  // > 0 overrides the shape's context length (the positions the model declares it holds)
  int n_threads = 1;
  float weight_scale = 1;  // matrices get standard deviation weight_scale / sqrt(fan_in): above 1, larger top-1 margins
};

// Writes a GGUF model with weights of mean 0 and standard deviation weight_scale/sqrt(fan_in) (norm weights near 1),
// quantized by each type's encoder, streaming one tensor at a time. `vocab` is padded to the shape's vocabulary size. The same options and
// vocabulary give the same bytes. Returns the model's hyperparameters.
ModelSpec synthesize_model(const SynthOptions& options, Vocab vocab, const std::string& out_path);

}  // namespace tabllm::tools
