// What the converter and the synthesizer write: a llama-family model's hyperparameters, the GGUF metadata
// they become, and the list of tensors (names, shapes, storage types) in llama.cpp's naming.
// docs/model-format.md describes the conventions.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "quant/types.h"

namespace tabllm::tools {

struct ModelSpec {
  std::string arch = "llama";  // llama | qwen2 | qwen3
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

  int64_t head_size() const { return head_dim > 0 ? head_dim : dim / n_heads; }
  int64_t q_dim() const { return n_heads * head_size(); }
  int64_t kv_dim() const { return n_kv_heads * head_size(); }
  bool qkv_bias() const { return arch == "qwen2"; }
  bool qk_norm() const { return arch == "qwen3"; }
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
