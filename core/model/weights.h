// The model's tensors, bound by name from a GGUF file and checked against the config.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "model/config.h"

namespace tabllm {

// A 2-D weight (rows × cols in GGUF block layout) or a 1-D vector (rows == 1). Data stays where the
// file's bytes are (mmap, caller buffer or pieces); a header-only binding has none, only file offsets.
struct Tensor {
  std::string name;
  TensorType type = TensorType::F32;
  const uint8_t* data = nullptr;
  uint64_t file_offset = 0;  // of its first byte in the file: where a GPU plan uploads it from
  int64_t rows = 0;
  int64_t cols = 0;
  bool present() const { return rows > 0; }
  size_t row_bytes() const { return type_row_bytes(type, static_cast<uint64_t>(cols)); }
  const float* f32() const { return reinterpret_cast<const float*>(data); }
};

// A file's fused tensors (phi3's attn_qkv, and its ffn_up holding gate then up) are bound as views of
// their rows, so wq/wk/wv and w_gate/w_up are always there and the forward pass need not know.
struct LayerWeights {
  Tensor attn_norm, wq, wk, wv, wo;
  Tensor bq, bk, bv;                      // qwen2
  Tensor q_norm, k_norm;                  // qwen3, gemma3
  Tensor attn_post_norm, ffn_post_norm;   // gemma2, gemma3
  Tensor ffn_norm, w_gate, w_up, w_down;
  // Encoders: the output bias and post-norms (LayerNorm weight and bias) after attention and after the
  // feed-forward block; bert's up and down biases. w_gate is absent where the block has no gate (bert).
  Tensor bo, attn_out_norm, attn_out_norm_b, layer_out_norm, layer_out_norm_b, b_up, b_down;
};

struct ModelWeights {
  Tensor token_embd;
  Tensor output_norm;
  Tensor output;      // token_embd when the output is tied to the embedding
  Tensor rope_freqs;  // optional per-frequency divisors (Llama 3 scaling)
  Tensor rope_long, rope_short;  // optional LongRoPE divisors (phi3), chosen by context size
  std::vector<LayerWeights> layers;
  // Encoders: token-type rows (every input is type 0, "sentence A"), bert's absolute positions, and the
  // LayerNorm of the input embedding. Encoders have no output_norm or output.
  Tensor token_types, position_embd, embd_norm, embd_norm_b;
};

// Binds every tensor the config needs; throws Error naming a missing, misshapen or unsupported tensor.
ModelWeights bind_weights(const gguf::File& file, const ModelConfig& config);
// The same from a header alone: shapes, types and file offsets, no data (a GPU plan).
ModelWeights bind_weights(const gguf::Header& header, const ModelConfig& config);

// The per-frequency RoPE divisors for a KV cache of `context` positions: Llama 3's rope_freqs, or LongRoPE's
// long factors when the context is longer than the original training context and its short ones otherwise
// (as llama.cpp chooses). Absent (not present()) when the model has none.
const Tensor& rope_factors(const ModelWeights& weights, const ModelConfig& config, int64_t context);

}  // namespace tabllm
