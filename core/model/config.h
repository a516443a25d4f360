// What a model is, read from GGUF metadata: an architecture is a short description (which norms, biases,
// RoPE pairing, tied output), not a copy of the forward pass.
#pragma once
#include <cstdint>
#include <string>

#include "gguf/gguf.h"

namespace tabllm {

// Which elements of a head RoPE rotates together.
enum class RopePairing {
  Interleaved,  // (2i, 2i+1): GGUF llama files
  Halves,       // (i, i + head_dim/2): qwen2, qwen3 ("neox")
};

struct ModelConfig {
  std::string arch;
  std::string name;
  int64_t n_vocab = 0;
  int64_t dim = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t ffn_dim = 0;
  int64_t context_length = 0;
  float norm_eps = 1e-5f;
  float rope_base = 10000.0f;
  float rope_linear_scale = 1.0f;  // positions are divided by this ("linear" scaling)
  int64_t rope_dims = 0;           // leading dims of each head that RoPE rotates
  RopePairing rope_pairing = RopePairing::Interleaved;
  bool qkv_bias = false;  // qwen2
  bool qk_norm = false;   // qwen3: RMSNorm of each q/k head before RoPE

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
};

// Reads and validates the hyperparameters; throws Error naming the key or the unsupported architecture.
ModelConfig read_config(const gguf::Header& header);

}  // namespace tabllm
