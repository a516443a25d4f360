#include "model/config.h"

#include "common/error.h"

namespace tabllm {
namespace {

struct ArchTraits {
  const char* name;
  RopePairing pairing;
  bool qkv_bias;
  bool qk_norm;
};

constexpr ArchTraits kArchitectures[] = {
    {"llama", RopePairing::Interleaved, false, false},
    {"qwen2", RopePairing::Halves, true, false},
    {"qwen3", RopePairing::Halves, false, true},
};

}  // namespace

ModelConfig read_config(const gguf::Header& h) {
  ModelConfig c;
  c.arch = h.get_string("general.architecture");
  const ArchTraits* traits = nullptr;
  for (const auto& a : kArchitectures)
    if (c.arch == a.name) traits = &a;
  if (!traits)
    throw Error("unsupported model architecture '" + c.arch + "': tabllm runs llama (Llama 2/3, TinyLlama, SmolLM, Mistral), qwen2 and qwen3");
  c.name = h.get_string_opt("general.name").value_or(c.arch);
  const std::string p = c.arch + ".";
  c.dim = h.get_int(p + "embedding_length");
  c.n_layers = h.get_int(p + "block_count");
  c.n_heads = h.get_int(p + "attention.head_count");
  c.n_kv_heads = h.get_int_opt(p + "attention.head_count_kv").value_or(c.n_heads);
  c.ffn_dim = h.get_int(p + "feed_forward_length");
  c.context_length = h.get_int_opt(p + "context_length").value_or(2048);
  c.norm_eps = static_cast<float>(h.get_float_opt(p + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  c.rope_base = static_cast<float>(h.get_float_opt(p + "rope.freq_base").value_or(10000.0));
  if (c.dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.ffn_dim <= 0 || c.context_length <= 0)
    throw Error("model metadata has a non-positive size (" + p + "embedding_length, block_count, head counts, feed_forward_length, context_length)");
  if (c.n_heads % c.n_kv_heads != 0)
    throw Error("attention.head_count (" + std::to_string(c.n_heads) + ") must be a multiple of head_count_kv (" + std::to_string(c.n_kv_heads) + ")");
  c.head_dim = h.get_int_opt(p + "attention.key_length").value_or(c.dim / c.n_heads);
  const int64_t value_dim = h.get_int_opt(p + "attention.value_length").value_or(c.head_dim);
  if (value_dim != c.head_dim) throw Error("models whose attention key and value lengths differ are not supported");
  if (c.head_dim <= 0 || c.head_dim % 2) throw Error("attention head size must be positive and even, got " + std::to_string(c.head_dim));
  c.rope_dims = h.get_int_opt(p + "rope.dimension_count").value_or(c.head_dim);
  if (c.rope_dims <= 0 || c.rope_dims > c.head_dim || c.rope_dims % 2) throw Error("rope.dimension_count must be even and at most the head size");
  if (auto type = h.get_string_opt(p + "rope.scaling.type")) {
    const double factor = h.get_float_opt(p + "rope.scaling.factor").value_or(1.0);
    if (*type == "linear") {
      if (factor <= 0) throw Error("rope.scaling.factor must be positive");
      c.rope_linear_scale = static_cast<float>(factor);
    } else if (*type != "none") {
      throw Error("RoPE scaling type '" + *type + "' is not supported (supported: none, linear, and llama3 frequency factors)");
    }
  }
  c.rope_pairing = traits->pairing;
  c.qkv_bias = traits->qkv_bias;
  c.qk_norm = traits->qk_norm;
  const gguf::TensorInfo* embd = h.find_tensor("token_embd.weight");
  if (!embd) throw Error("model has no token_embd.weight tensor");
  c.n_vocab = h.get_int_opt(p + "vocab_size").value_or(embd->dims.size() > 1 ? static_cast<int64_t>(embd->dims[1]) : 0);
  return c;
}

}  // namespace tabllm
