// What a model is, read from GGUF metadata: an architecture is a short description (which norms, biases,
// RoPE pairing, activation, attention windows, capping), not a copy of the forward pass. What each key
// means follows llama.cpp's loader, which defines the format; docs/architectures.md lists the choices.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "ops/pooling.h"
#include "ops/rope.h"

namespace tabllm {

using ops::Pooling;
using ops::RopePairing;

// The gate of the feed-forward block: down(act(gate(x)) * up(x)), or down(act(up(x))) without a gate.
enum class FfnActivation {
  Silu,      // llama, qwen2, qwen3, phi3, nomic-bert
  GeluTanh,  // gemma, gemma2, gemma3, bert (ggml's GELU is the tanh form)
};

// RoPE of one kind of layer (global, or sliding-window "local").
struct RopeSettings {
  float base = 10000.0f;
  float linear_scale = 1.0f;  // positions are divided by this ("linear" scaling)
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
  float rope_base = 10000.0f;      // global layers (rope.freq_base)
  float rope_linear_scale = 1.0f;  // global layers
  RopeSettings rope_local;         // sliding-window layers
  int64_t rope_dims = 0;           // leading dims of each head that RoPE rotates
  RopePairing rope_pairing = RopePairing::Interleaved;
  float rope_attn_factor = 1.0f;           // LongRoPE: cos and sin are multiplied by it (phi3)
  int64_t rope_original_context = 0;       // LongRoPE: contexts above it use rope_factors_long, else short
  bool qkv_bias = false;  // qwen2
  bool qk_norm = false;   // qwen3, gemma3: RMSNorm of each q/k head before RoPE
  bool post_norms = false;  // gemma2, gemma3: RMSNorm of the attention and FFN outputs before the residual add
  bool scale_embedding = false;  // gemma: the embedding row times sqrt(dim)
  bool output_always_tied = false;  // gemma, gemma2: logits from token_embd even if output.weight exists
  FfnActivation ffn_activation = FfnActivation::Silu;
  float attn_scale = 0.0f;       // multiplies q·k; 1/sqrt(head_dim) unless the architecture says otherwise
  float attn_soft_cap = 0.0f;    // > 0: scores soft-capped (gemma2)
  float final_soft_cap = 0.0f;   // > 0: logits soft-capped (gemma2, gemma3 when the file says)
  int64_t sliding_window = 0;    // > 0: local layers attend to the last `sliding_window` positions
  std::vector<bool> layer_is_local;  // per layer: sliding window and rope_local
  // Encoders (bert, nomic-bert): embeddings only, no language-model head. Their layers are post-norm
  // (LayerNorm with bias after each residual add), the input embedding is LayerNormed too.
  bool encoder = false;
  bool causal = true;                 // attention sees only earlier positions (attention.causal; encoders: false)
  bool position_embeddings = false;   // bert: learned absolute positions (position_embd) instead of RoPE
  bool ffn_gated = true;              // bert: down(act(up(x) + b) + b), no gate
  Pooling pooling = Pooling::None;    // {arch}.pooling_type: how one input's hidden states become its embedding

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  // An embedding model: an encoder, or a decoder whose file names a pooling (Qwen3-Embedding: last).
  bool is_embedding() const { return encoder || pooling != Pooling::None; }
  bool is_local(int64_t layer) const { return !layer_is_local.empty() && layer_is_local[static_cast<size_t>(layer)]; }
};

// Reads and validates the hyperparameters; throws Error naming the key or the unsupported architecture.
ModelConfig read_config(const gguf::Header& header);

}  // namespace tabllm
