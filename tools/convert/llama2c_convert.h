// llama2.c checkpoint + tokenizer.bin → a GGUF "llama" model.
#pragma once
#include <string>

#include "convert/model_spec.h"
#include "quant/types.h"

namespace tabllm::tools {

// Writes `out_path`; matrices are stored as `type` (any type quantize_row can produce; rows that do not
// fit its blocks fall back as storage_type says). `context` > 0 declares that many positions instead of the
// checkpoint's seq_len (the model was trained on seq_len: beyond it, its text is as good as it makes it).
// Returns the model's hyperparameters.
ModelSpec convert_llama2c(const std::string& checkpoint_path, const std::string& tokenizer_path,
                          const std::string& out_path, TensorType type, int n_threads, int64_t context = 0);

}  // namespace tabllm::tools
