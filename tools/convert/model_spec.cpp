#include "convert/model_spec.h"

#include <cmath>

#include "common/error.h"

namespace tabllm::tools {
namespace {

bool fits_blocks(TensorType type, uint64_t row_length) {
  return row_length % type_traits(type).block_size == 0;
}

// Tensors of a model mapping `cols` inputs to `rows` outputs, or of n floats, as llama.cpp's converter names them.
struct PlanBuilder {
  std::vector<TensorPlan>& plan;
  TensorType weight_type;
  void vector(const std::string& kind, int layer, int64_t n) const {
    plan.push_back({prefix(layer) + kind, kind, layer, {static_cast<uint64_t>(n)}, TensorType::F32});
  }
  void matrix(const std::string& kind, int layer, int64_t rows, int64_t cols) const {
    const auto c = static_cast<uint64_t>(cols);
    plan.push_back({prefix(layer) + kind, kind, layer, {c, static_cast<uint64_t>(rows)}, storage_type(weight_type, c)});
  }
  // Matrices llama.cpp's converter and quantizer keep in F32 whatever the model's type (positions, token types).
  void f32_matrix(const std::string& kind, int64_t rows, int64_t cols) const {
    plan.push_back({kind, kind, -1, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}, TensorType::F32});
  }
  static std::string prefix(int layer) { return layer < 0 ? "" : "blk." + std::to_string(layer) + "."; }
};

// bert and nomic-bert as llama.cpp's converter writes them: embeddings with token types (2) and, for
// bert, absolute positions, LayerNorms with biases, bert's biases everywhere, nomic-bert's fused attn_qkv
// and gated feed-forward block.
std::vector<TensorPlan> plan_encoder_tensors(const ModelSpec& spec, TensorType weight_type) {
  std::vector<TensorPlan> plan;
  const PlanBuilder b{plan, weight_type};
  const bool bert = spec.arch == "bert";
  b.matrix("token_embd.weight", -1, spec.vocab_size, spec.dim);
  b.f32_matrix("token_types.weight", 2, spec.dim);
  if (bert) b.f32_matrix("position_embd.weight", spec.context_length, spec.dim);
  b.vector("token_embd_norm.weight", -1, spec.dim);
  b.vector("token_embd_norm.bias", -1, spec.dim);
  for (int l = 0; l < spec.n_layers; ++l) {
    if (bert) {
      for (const char* m : {"attn_q", "attn_k", "attn_v"}) {
        const int64_t rows = std::string(m) == "attn_q" ? spec.q_dim() : spec.kv_dim();
        b.matrix(std::string(m) + ".weight", l, rows, spec.dim);
        b.vector(std::string(m) + ".bias", l, rows);
      }
    } else {
      b.matrix("attn_qkv.weight", l, spec.q_dim() + 2 * spec.kv_dim(), spec.dim);
    }
    b.matrix("attn_output.weight", l, spec.dim, spec.q_dim());
    if (bert) b.vector("attn_output.bias", l, spec.dim);
    b.vector("attn_output_norm.weight", l, spec.dim);
    b.vector("attn_output_norm.bias", l, spec.dim);
    b.matrix("ffn_up.weight", l, spec.ffn_dim, spec.dim);
    if (bert) b.vector("ffn_up.bias", l, spec.ffn_dim);
    if (!bert) b.matrix("ffn_gate.weight", l, spec.ffn_dim, spec.dim);
    b.matrix("ffn_down.weight", l, spec.dim, spec.ffn_dim);
    if (bert) b.vector("ffn_down.bias", l, spec.dim);
    b.vector("layer_output_norm.weight", l, spec.dim);
    b.vector("layer_output_norm.bias", l, spec.dim);
  }
  return plan;
}

}  // namespace

void ModelSpec::validate() const {
  if (arch != "llama" && arch != "qwen2" && arch != "qwen3" && arch != "phi3" && arch != "gemma" && arch != "gemma2" &&
      arch != "gemma3" && !encoder())
    throw Error("unknown architecture '" + arch + "': use llama, qwen2, qwen3, phi3, gemma, gemma2, gemma3, bert or nomic-bert");
  if (pooling < 0 || pooling > 3) throw Error("pooling_type must be 0 (none), 1 (mean), 2 (cls) or 3 (last)");
  if (vocab_size <= 0 || dim <= 0 || n_layers <= 0 || n_heads <= 0 || n_kv_heads <= 0 || ffn_dim <= 0 ||
      context_length <= 0 || head_dim < 0)
    throw Error("model sizes must be positive (vocab " + std::to_string(vocab_size) + ", dim " + std::to_string(dim) +
                ", layers " + std::to_string(n_layers) + ", heads " + std::to_string(n_heads) + "/" +
                std::to_string(n_kv_heads) + ", ffn " + std::to_string(ffn_dim) + ", context " +
                std::to_string(context_length) + ")");
  if (n_heads % n_kv_heads != 0)
    throw Error("head count " + std::to_string(n_heads) + " is not a multiple of the key/value head count " +
                std::to_string(n_kv_heads));
  if (head_dim == 0 && dim % n_heads != 0)
    throw Error("dim " + std::to_string(dim) + " is not a multiple of the head count " + std::to_string(n_heads));
  if (head_size() % 2 != 0) throw Error("the head size must be even for RoPE, got " + std::to_string(head_size()));
  if (rotary_dims() % 2 != 0 || rotary_dims() > head_size())
    throw Error("the rotary dims must be even and at most the head size, got " + std::to_string(rotary_dims()));
}

float ModelSpec::rope_attn_factor() const {
  if (rope_original_context <= 0 || context_length <= rope_original_context) return 1.0f;
  const double scale = static_cast<double>(context_length) / static_cast<double>(rope_original_context);
  return static_cast<float>(std::sqrt(1 + std::log(scale) / std::log(static_cast<double>(rope_original_context))));
}

TensorType storage_type(TensorType requested, uint64_t row_length) {
  if (fits_blocks(requested, row_length)) return requested;
  TensorType fallback = TensorType::F16;
  switch (requested) {
    case TensorType::Q2_K:
    case TensorType::Q3_K: fallback = TensorType::Q4_0; break;
    case TensorType::IQ4_XS: fallback = TensorType::IQ4_NL; break;
    case TensorType::Q4_K: fallback = TensorType::Q5_0; break;
    case TensorType::Q5_K: fallback = TensorType::Q5_1; break;
    case TensorType::Q6_K: fallback = TensorType::Q8_0; break;
    default: break;
  }
  return fits_blocks(fallback, row_length) ? fallback : TensorType::F16;
}

uint32_t gguf_file_type(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::F32: return 0;
    case TensorType::F16: return 1;
    case TensorType::Q4_0: return 2;
    case TensorType::Q4_1: return 3;
    case TensorType::Q8_0: return 7;
    case TensorType::Q5_0: return 8;
    case TensorType::Q5_1: return 9;
    case TensorType::Q2_K: return 10;
    case TensorType::Q3_K: return 11;  // Q3_K_S: every matrix Q3_K
    case TensorType::Q4_K: return 14;  // Q4_K_S: every matrix Q4_K
    case TensorType::Q5_K: return 16;  // Q5_K_S
    case TensorType::Q6_K: return 18;
    case TensorType::IQ4_NL: return 25;
    case TensorType::IQ4_XS: return 30;
    case TensorType::BF16: return 32;
    default: throw Error(std::string("no GGUF file type for tensor type ") + type_traits(weight_type).name);
  }
}

std::vector<TensorPlan> plan_tensors(const ModelSpec& spec, TensorType weight_type) {
  spec.validate();
  if (spec.encoder()) return plan_encoder_tensors(spec, weight_type);
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  std::vector<TensorPlan> plan;
  const auto vector = [&](const std::string& kind, int layer, int64_t n) {
    const std::string prefix = layer < 0 ? "" : "blk." + std::to_string(layer) + ".";
    plan.push_back({prefix + kind, kind, layer, {u(n)}, TensorType::F32});
  };
  // A matrix mapping `cols` inputs to `rows` outputs.
  const auto matrix = [&](const std::string& kind, int layer, int64_t rows, int64_t cols) {
    const std::string prefix = layer < 0 ? "" : "blk." + std::to_string(layer) + ".";
    plan.push_back({prefix + kind, kind, layer, {u(cols), u(rows)}, storage_type(weight_type, u(cols))});
  };

  matrix("token_embd.weight", -1, spec.vocab_size, spec.dim);
  if (spec.llama3_rope) vector("rope_freqs.weight", -1, spec.head_size() / 2);
  if (spec.rope_original_context > 0) {
    vector("rope_factors_long.weight", -1, spec.rotary_dims() / 2);
    vector("rope_factors_short.weight", -1, spec.rotary_dims() / 2);
  }
  for (int l = 0; l < spec.n_layers; ++l) {
    vector("attn_norm.weight", l, spec.dim);
    if (spec.fused_projections()) {
      matrix("attn_qkv.weight", l, spec.q_dim() + 2 * spec.kv_dim(), spec.dim);
    } else {
      matrix("attn_q.weight", l, spec.q_dim(), spec.dim);
      matrix("attn_k.weight", l, spec.kv_dim(), spec.dim);
      matrix("attn_v.weight", l, spec.kv_dim(), spec.dim);
    }
    if (spec.qkv_bias()) {
      vector("attn_q.bias", l, spec.q_dim());
      vector("attn_k.bias", l, spec.kv_dim());
      vector("attn_v.bias", l, spec.kv_dim());
    }
    if (spec.qk_norm()) {
      vector("attn_q_norm.weight", l, spec.head_size());
      vector("attn_k_norm.weight", l, spec.head_size());
    }
    matrix("attn_output.weight", l, spec.dim, spec.q_dim());
    if (spec.post_norms()) vector("post_attention_norm.weight", l, spec.dim);
    vector("ffn_norm.weight", l, spec.dim);
    if (spec.fused_projections()) {
      matrix("ffn_up.weight", l, 2 * spec.ffn_dim, spec.dim);  // gate rows, then up rows
      matrix("ffn_down.weight", l, spec.dim, spec.ffn_dim);
    } else {
      matrix("ffn_gate.weight", l, spec.ffn_dim, spec.dim);
      matrix("ffn_down.weight", l, spec.dim, spec.ffn_dim);
      matrix("ffn_up.weight", l, spec.ffn_dim, spec.dim);
    }
    if (spec.post_norms()) vector("post_ffw_norm.weight", l, spec.dim);
  }
  vector("output_norm.weight", -1, spec.dim);
  if (!spec.output_tied()) matrix("output.weight", -1, spec.vocab_size, spec.dim);
  return plan;
}

void write_hyperparameters(gguf::Writer& w, const ModelSpec& spec, TensorType weight_type) {
  using gguf::Value;
  const auto u32 = [](int64_t v) { return Value::of_u32(static_cast<uint32_t>(v)); };
  const std::string a = spec.arch + ".";
  w.set("general.architecture", Value::of_string(spec.arch));
  w.set("general.name", Value::of_string(spec.name));
  w.set("general.file_type", Value::of_u32(gguf_file_type(weight_type)));
  w.set(a + "vocab_size", u32(spec.vocab_size));
  w.set(a + "context_length", u32(spec.context_length));
  w.set(a + "embedding_length", u32(spec.dim));
  w.set(a + "block_count", u32(spec.n_layers));
  w.set(a + "feed_forward_length", u32(spec.ffn_dim));
  w.set(a + "attention.head_count", u32(spec.n_heads));
  w.set(a + "attention.head_count_kv", u32(spec.n_kv_heads));
  if (spec.encoder()) {
    w.set(a + "attention.layer_norm_epsilon", Value::of_f32(spec.norm_eps));
    w.set(a + "attention.causal", Value::of_bool(false));
    w.set("tokenizer.ggml.token_type_count", u32(2));
  } else {
    w.set(a + "attention.layer_norm_rms_epsilon", Value::of_f32(spec.norm_eps));
  }
  if (spec.pooling > 0) w.set(a + "pooling_type", u32(spec.pooling));
  w.set(a + "rope.freq_base", Value::of_f32(spec.rope_base));
  w.set(a + "rope.dimension_count", u32(spec.rotary_dims()));
  if (spec.rope_original_context > 0) {
    w.set(a + "rope.scaling.original_context_length", u32(spec.rope_original_context));
    w.set(a + "rope.scaling.attn_factor", Value::of_f32(spec.rope_attn_factor()));
  }
  if (spec.rope_base_local > 0) w.set(a + "rope.freq_base_swa", Value::of_f32(spec.rope_base_local));
  if (spec.sliding_window > 0) w.set(a + "attention.sliding_window", u32(spec.sliding_window));
  if (spec.sliding_window_pattern > 0) w.set(a + "attention.sliding_window_pattern", u32(spec.sliding_window_pattern));
  if (spec.attn_soft_cap > 0) w.set(a + "attn_logit_softcapping", Value::of_f32(spec.attn_soft_cap));
  if (spec.final_soft_cap > 0) w.set(a + "final_logit_softcapping", Value::of_f32(spec.final_soft_cap));
  if (spec.head_size() * spec.n_heads != spec.dim || spec.arch.rfind("gemma", 0) == 0) {  // Gemma's converter always writes it
    w.set(a + "attention.key_length", u32(spec.head_size()));
    w.set(a + "attention.value_length", u32(spec.head_size()));
  }
}

}  // namespace tabllm::tools
