#include "model/weights.h"

#include <algorithm>

#include "common/error.h"

namespace tabllm {
namespace {

class Binder {
 public:
  Binder(const gguf::Header& h, const gguf::File* file) : h_(h), file_(file) {}

  // A matrix of `rows` outputs × `cols` inputs (GGUF dims {cols, rows}).
  Tensor matrix(const std::string& name, int64_t rows, int64_t cols, bool required = true) const {
    const gguf::TensorInfo* t = h_.find_tensor(name);
    if (!t) {
      if (required) throw Error("model is missing tensor " + name);
      return {};
    }
    if (t->dims.size() != 2 || static_cast<int64_t>(t->dims[0]) != cols || static_cast<int64_t>(t->dims[1]) != rows)
      throw Error("tensor " + name + " has shape " + shape(*t) + ", expected [" + std::to_string(cols) + ", " + std::to_string(rows) + "]");
    return make(*t, rows, cols);
  }

  // Rows [first, first + rows) of a matrix, as a matrix of their own (rows of GGUF tensors are contiguous).
  static Tensor rows_of(const Tensor& t, int64_t first, int64_t rows) {
    Tensor v = t;
    const uint64_t skip = static_cast<uint64_t>(first) * t.row_bytes();
    if (t.data) v.data = t.data + skip;
    v.file_offset = t.file_offset + skip;
    v.rows = rows;
    return v;
  }

  bool has(const std::string& name) const { return h_.find_tensor(name) != nullptr; }

  // Rows of a 2-D tensor (its outer dim), or -1 when absent or not 2-D.
  int64_t rows(const std::string& name) const {
    const gguf::TensorInfo* t = h_.find_tensor(name);
    return t && t->dims.size() == 2 ? static_cast<int64_t>(t->dims[1]) : -1;
  }

  // A vector of n floats (norm weights, biases); must be F32.
  Tensor vector(const std::string& name, int64_t n, bool required = true) const {
    const gguf::TensorInfo* t = h_.find_tensor(name);
    if (!t) {
      if (required) throw Error("model is missing tensor " + name);
      return {};
    }
    if (static_cast<int64_t>(t->n_elements()) != n || t->dims.size() != 1)
      throw Error("tensor " + name + " has shape " + shape(*t) + ", expected [" + std::to_string(n) + "]");
    if (t->type != TensorType::F32) throw Error("tensor " + name + " must be f32 (norm weights and biases), found " + type_traits(t->type).name);
    return make(*t, 1, n);
  }

 private:
  static std::string shape(const gguf::TensorInfo& t) {
    std::string s = "[";
    for (size_t i = 0; i < t.dims.size(); ++i) s += (i ? ", " : "") + std::to_string(t.dims[i]);
    return s + "]";
  }
  Tensor make(const gguf::TensorInfo& t, int64_t rows, int64_t cols) const {
    if (!type_traits(t.type).supported)
      throw Error("tensor " + t.name + " has type " + type_traits(t.type).name + ", which tabllm cannot compute with yet (supported: " + supported_type_names() + ")");
    return Tensor{t.name, t.type, file_ ? file_->tensor_data(t) : nullptr, h_.data_offset + t.offset, rows, cols};
  }
  const gguf::Header& h_;
  const gguf::File* file_;  // null: a header-only binding
};

// q, k and v of a layer: three matrices, or row views of one fused attn_qkv (q rows, then k, then v).
void bind_qkv(const Binder& b, const std::string& p, const ModelConfig& c, LayerWeights& l) {
  if (b.has(p + "attn_qkv.weight")) {
    const Tensor qkv = b.matrix(p + "attn_qkv.weight", c.q_dim() + 2 * c.kv_dim(), c.dim);
    l.wq = Binder::rows_of(qkv, 0, c.q_dim());
    l.wk = Binder::rows_of(qkv, c.q_dim(), c.kv_dim());
    l.wv = Binder::rows_of(qkv, c.q_dim() + c.kv_dim(), c.kv_dim());
  } else {
    l.wq = b.matrix(p + "attn_q.weight", c.q_dim(), c.dim);
    l.wk = b.matrix(p + "attn_k.weight", c.kv_dim(), c.dim);
    l.wv = b.matrix(p + "attn_v.weight", c.kv_dim(), c.dim);
  }
}

// Encoders as llama.cpp's loader names their tensors (bert: separate q/k/v with biases, learned positions;
// nomic-bert: fused attn_qkv, gated feed-forward block).
ModelWeights bind_encoder(const Binder& b, const ModelConfig& c) {
  ModelWeights w;
  w.token_embd = b.matrix("token_embd.weight", c.n_vocab, c.dim);
  w.token_types = b.matrix("token_types.weight", std::max<int64_t>(1, b.rows("token_types.weight")), c.dim);
  if (c.position_embeddings) w.position_embd = b.matrix("position_embd.weight", c.context_length, c.dim);
  w.embd_norm = b.vector("token_embd_norm.weight", c.dim);
  w.embd_norm_b = b.vector("token_embd_norm.bias", c.dim);
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights l;
    bind_qkv(b, p, c, l);
    l.bq = b.vector(p + "attn_q.bias", c.q_dim(), c.qkv_bias);
    l.bk = b.vector(p + "attn_k.bias", c.kv_dim(), c.qkv_bias);
    l.bv = b.vector(p + "attn_v.bias", c.kv_dim(), c.qkv_bias);
    l.wo = b.matrix(p + "attn_output.weight", c.dim, c.q_dim());
    l.bo = b.vector(p + "attn_output.bias", c.dim, /*required=*/false);
    l.attn_out_norm = b.vector(p + "attn_output_norm.weight", c.dim);
    l.attn_out_norm_b = b.vector(p + "attn_output_norm.bias", c.dim);
    if (c.ffn_gated) l.w_gate = b.matrix(p + "ffn_gate.weight", c.ffn_dim, c.dim);
    l.w_up = b.matrix(p + "ffn_up.weight", c.ffn_dim, c.dim);
    l.b_up = b.vector(p + "ffn_up.bias", c.ffn_dim, /*required=*/false);
    l.w_down = b.matrix(p + "ffn_down.weight", c.dim, c.ffn_dim);
    l.b_down = b.vector(p + "ffn_down.bias", c.dim, /*required=*/false);
    l.layer_out_norm = b.vector(p + "layer_output_norm.weight", c.dim);
    l.layer_out_norm_b = b.vector(p + "layer_output_norm.bias", c.dim);
    w.layers.push_back(l);
  }
  return w;
}

ModelWeights bind(const gguf::Header& h, const gguf::File* file, const ModelConfig& c) {
  const Binder b(h, file);
  if (c.encoder) return bind_encoder(b, c);
  ModelWeights w;
  w.token_embd = b.matrix("token_embd.weight", c.n_vocab, c.dim);
  w.output_norm = b.vector("output_norm.weight", c.dim);
  if (!c.output_always_tied) w.output = b.matrix("output.weight", c.n_vocab, c.dim, /*required=*/false);
  if (!w.output.present()) w.output = w.token_embd;
  w.rope_freqs = b.vector("rope_freqs.weight", c.rope_dims / 2, /*required=*/false);
  w.rope_long = b.vector("rope_factors_long.weight", c.rope_dims / 2, /*required=*/false);
  w.rope_short = b.vector("rope_factors_short.weight", c.rope_dims / 2, /*required=*/false);
  if (w.rope_long.present() != w.rope_short.present())
    throw Error("model has only one of rope_factors_long.weight and rope_factors_short.weight: LongRoPE needs both");
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights l;
    l.attn_norm = b.vector(p + "attn_norm.weight", c.dim);
    bind_qkv(b, p, c, l);
    l.wo = b.matrix(p + "attn_output.weight", c.dim, c.q_dim());
    if (c.qkv_bias) {
      l.bq = b.vector(p + "attn_q.bias", c.q_dim());
      l.bk = b.vector(p + "attn_k.bias", c.kv_dim());
      l.bv = b.vector(p + "attn_v.bias", c.kv_dim());
    }
    if (c.qk_norm) {
      l.q_norm = b.vector(p + "attn_q_norm.weight", c.head_dim);
      l.k_norm = b.vector(p + "attn_k_norm.weight", c.head_dim);
    }
    if (c.post_norms) {
      l.attn_post_norm = b.vector(p + "post_attention_norm.weight", c.dim);
      l.ffn_post_norm = b.vector(p + "post_ffw_norm.weight", c.dim);
    }
    l.ffn_norm = b.vector(p + "ffn_norm.weight", c.dim);
    if (!b.has(p + "ffn_gate.weight") && b.rows(p + "ffn_up.weight") == 2 * c.ffn_dim) {
      // phi3: ffn_up holds the gate's rows, then the up projection's.
      const Tensor gate_up = b.matrix(p + "ffn_up.weight", 2 * c.ffn_dim, c.dim);
      l.w_gate = Binder::rows_of(gate_up, 0, c.ffn_dim);
      l.w_up = Binder::rows_of(gate_up, c.ffn_dim, c.ffn_dim);
    } else {
      l.w_gate = b.matrix(p + "ffn_gate.weight", c.ffn_dim, c.dim);
      l.w_up = b.matrix(p + "ffn_up.weight", c.ffn_dim, c.dim);
    }
    l.w_down = b.matrix(p + "ffn_down.weight", c.dim, c.ffn_dim);
    w.layers.push_back(l);
  }
  return w;
}

}  // namespace

ModelWeights bind_weights(const gguf::File& file, const ModelConfig& config) { return bind(file.header(), &file, config); }
ModelWeights bind_weights(const gguf::Header& header, const ModelConfig& config) { return bind(header, nullptr, config); }

const Tensor& rope_factors(const ModelWeights& w, const ModelConfig& c, int64_t context) {
  if (w.rope_freqs.present()) return w.rope_freqs;
  return context > c.rope_original_context ? w.rope_long : w.rope_short;
}

}  // namespace tabllm
