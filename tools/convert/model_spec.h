// What the converter and the synthesizer write: a model's hyperparameters (llama, qwen2, qwen3, phi3,
// gemma, gemma2, gemma3, and the encoders bert and nomic-bert), the GGUF metadata they become, and the list of tensors (names, shapes, fused
// layouts, storage types) as llama.cpp's converter writes them and its loader expects them.
// docs/model-format.md describes the conventions.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "quant/types.h"

namespace tabllm::tools {

struct ModelSpec {
  std::string arch = "llama";  // llama | qwen2 | qwen3 | phi3 | gemma | gemma2 | gemma3 | bert | nomic-bert
  std::string name;
  int64_t vocab_size = 0;
  int64_t dim = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;  // 0 → dim / n_heads
  int64_t ffn_dim = 0;
  int64_t context_length = 0;
  float norm_eps = 1e-5f;
  float rope_base = 10000.0f;
  bool tied_embeddings = false;  // no output.weight: logits use token_embd
  bool llama3_rope = false;      // Llama 3.x long-context RoPE: rope_freqs.weight holds the factors
  double llama3_rope_factor = 32;  // its scaling factor (Llama 3.2: 32, Llama 3.1: 8)
  int64_t rope_dims = 0;         // 0 → the head size; fewer: partial rotary (Phi-4-mini)
  int64_t rope_original_context = 0;  // > 0: LongRoPE (phi3) factors for contexts beyond it
  float rope_base_local = 0;     // > 0: rope.freq_base_swa, the base of sliding-window layers
  int64_t sliding_window = 0;    // > 0: attention.sliding_window
  int64_t sliding_window_pattern = 0;  // > 0: attention.sliding_window_pattern
  float attn_soft_cap = 0;       // > 0: attn_logit_softcapping (gemma2)
  float final_soft_cap = 0;      // > 0: final_logit_softcapping (gemma2)
  int pooling = 0;               // > 0: {arch}.pooling_type (1 mean, 2 cls, 3 last): an embedding model

  int64_t head_size() const { return head_dim > 0 ? head_dim : dim / n_heads; }
  int64_t q_dim() const { return n_heads * head_size(); }
  int64_t kv_dim() const { return n_kv_heads * head_size(); }
  int64_t rotary_dims() const { return rope_dims > 0 ? rope_dims : head_size(); }
  bool encoder() const { return arch == "bert" || arch == "nomic-bert"; }
  bool qkv_bias() const { return arch == "qwen2" || arch == "bert"; }
  bool qk_norm() const { return arch == "qwen3" || arch == "gemma3"; }
  bool fused_projections() const { return arch == "phi3"; }  // attn_qkv, and ffn_up holding gate then up
  bool fused_qkv() const { return arch == "phi3" || arch == "nomic-bert"; }
  bool post_norms() const { return arch == "gemma2" || arch == "gemma3"; }
  bool output_tied() const { return tied_embeddings || arch == "gemma" || arch == "gemma2"; }
  // LongRoPE's magnitude correction, as llama.cpp's converter computes it.
  float rope_attn_factor() const;
  // Throws Error when sizes are non-positive or inconsistent (heads, head size, architecture).
  void validate() const;
};

// One tensor of the file. `kind` is the name without its "blk.N." prefix ("attn_q.weight").
struct TensorPlan {
  std::string name;
  std::string kind;
  int layer = -1;  // -1 for tensors outside the blocks
  std::vector<uint64_t> dims;  // innermost first: a matrix with `rows` rows of `cols` is {cols, rows}
  TensorType type = TensorType::F32;
};

// Every tensor of the model: norms, biases and rope_freqs in F32, matrices in `weight_type` (or its
// fallback when a row length does not fit its blocks, see storage_type).
std::vector<TensorPlan> plan_tensors(const ModelSpec& spec, TensorType weight_type);

// The type a matrix with rows of `row_length` is stored in when `requested` is asked for: the requested
// type if the row is a whole number of its blocks, else a close type with smaller blocks (as llama.cpp
// does): q2_k/q3_k→q4_0, q4_k→q5_0, q5_k→q5_1, q6_k→q8_0, iq4_xs→iq4_nl, and f16 when even
// 32-element blocks do not fit.
TensorType storage_type(TensorType requested, uint64_t row_length);

// general.file_type as llama.cpp numbers it (LLAMA_FTYPE_*) for a model made of `weight_type` matrices.
uint32_t gguf_file_type(TensorType weight_type);

// general.* and {arch}.* keys (not the tokenizer's).
void write_hyperparameters(gguf::Writer& writer, const ModelSpec& spec, TensorType weight_type);

}  // namespace tabllm::tools
