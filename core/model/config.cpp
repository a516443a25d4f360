#include "model/config.h"

#include <cmath>

#include "common/error.h"

namespace tabllm {
namespace {

// What tells the architectures apart. Defaults that the files may override are llama.cpp's.
struct ArchTraits {
  const char* name;
  RopePairing pairing;
  bool qkv_bias;
  bool qk_norm;
  bool post_norms;
  bool scale_embedding;
  FfnActivation activation;
  float attn_soft_cap;          // default when the file gives none (0: no capping)
  float final_soft_cap;         // default when the file gives none
  int64_t sliding_window;       // default window (0: only if the file gives one)
  int64_t local_period;         // of each `local_period` layers, all but the last are local (0: none)
  bool local_rope_is_global;    // local layers use the global RoPE (gemma2); else base 10000, unscaled
  int64_t big_model_layers;     // with this many layers, queries scale by sqrt(dim / heads) (gemma 27B)
  bool uses_file_window;        // the file's attention.sliding_window is honoured
  bool encoder;                 // post-LayerNorm encoder blocks, bidirectional by default
  bool ffn_gated;               // the feed-forward block has a gate
};

constexpr ArchTraits kArchitectures[] = {
    // name     pairing                    bias   qknorm post   embed  activation               attn  final  window period local=global big  window? encoder gated
    {"llama", RopePairing::Interleaved, false, false, false, false, FfnActivation::Silu, 0, 0, 0, 0, false, 0, false, false, true},
    {"qwen2", RopePairing::Halves, true, false, false, false, FfnActivation::Silu, 0, 0, 0, 0, false, 0, false, false, true},
    {"qwen3", RopePairing::Halves, false, true, false, false, FfnActivation::Silu, 0, 0, 0, 0, false, 0, false, false, true},
    // llama.cpp turns Phi-3's sliding window off (the files' window values are unreliable): so do we.
    {"phi3", RopePairing::Halves, false, false, false, false, FfnActivation::Silu, 0, 0, 0, 0, false, 0, false, false, true},
    {"gemma", RopePairing::Halves, false, false, false, true, FfnActivation::GeluTanh, 0, 0, 0, 0, false, 0, false, false, true},
    {"gemma2", RopePairing::Halves, false, false, true, true, FfnActivation::GeluTanh, 50, 30, 4096, 2, true, 46, true, false, true},
    {"gemma3", RopePairing::Halves, false, true, true, true, FfnActivation::GeluTanh, 0, 0, 0, 6, false, 62, true, false, true},
    // bert: absolute positions, q/k/v biases; nomic-bert: RoPE (neox pairs), fused attn_qkv, SwiGLU.
    {"bert", RopePairing::Halves, true, false, false, false, FfnActivation::GeluTanh, 0, 0, 0, 0, false, 0, false, true, false},
    {"nomic-bert", RopePairing::Halves, false, false, false, false, FfnActivation::Silu, 0, 0, 0, 0, false, 0, false, true, true},
};

// rope.scaling.type and .factor as llama.cpp reads them: the type defaults to linear, and a factor of f
// divides positions by f. LongRoPE's per-frequency factors are tensors (rope_factors_long/short).
float read_linear_scale(const gguf::Header& h, const std::string& p) {
  const std::string type = h.get_string_opt(p + "rope.scaling.type").value_or("linear");
  const double factor = h.get_float_opt(p + "rope.scaling.factor").value_or(0.0);
  if (type == "none") return 1.0f;
  if (type != "linear" && type != "longrope")
    throw Error("RoPE scaling type '" + type + "' is not supported (supported: none, linear, longrope, and llama3 frequency factors)");
  if (factor < 0) throw Error("rope.scaling.factor must be positive");
  return factor == 0 ? 1.0f : static_cast<float>(factor);
}

}  // namespace

ModelConfig read_config(const gguf::Header& h) {
  ModelConfig c;
  c.arch = h.get_string("general.architecture");
  const ArchTraits* traits = nullptr;
  for (const auto& a : kArchitectures)
    if (c.arch == a.name) traits = &a;
  if (!traits)
    throw Error("unsupported model architecture '" + c.arch +
                "': tabllm runs llama (Llama 2/3, TinyLlama, SmolLM, Mistral), qwen2, qwen3, phi3 (Phi-3, Phi-3.5, Phi-4-mini), gemma, gemma2 and gemma3 (text), and the embedding encoders bert and nomic-bert");
  c.name = h.get_string_opt("general.name").value_or(c.arch);
  const std::string p = c.arch + ".";
  c.dim = h.get_int(p + "embedding_length");
  c.n_layers = h.get_int(p + "block_count");
  c.n_heads = h.get_int(p + "attention.head_count");
  c.n_kv_heads = h.get_int_opt(p + "attention.head_count_kv").value_or(c.n_heads);
  c.ffn_dim = h.get_int(p + "feed_forward_length");
  c.context_length = h.get_int_opt(p + "context_length").value_or(2048);
  c.encoder = traits->encoder;
  c.ffn_gated = traits->ffn_gated;
  c.position_embeddings = c.arch == "bert";
  c.norm_eps = static_cast<float>(
      h.get_float_opt(p + (c.encoder ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon")).value_or(c.encoder ? 1e-12 : 1e-5));
  c.causal = h.get_bool_opt(p + "attention.causal").value_or(!c.encoder);
  const int64_t pooling = h.get_int_opt(p + "pooling_type").value_or(0);
  if (pooling < 0 || pooling > 3)
    throw Error(p + "pooling_type " + std::to_string(pooling) + " is not supported (0 none, 1 mean, 2 cls, 3 last; rank models are not)");
  c.pooling = static_cast<Pooling>(pooling);
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
  c.rope_linear_scale = read_linear_scale(h, p);
  c.rope_attn_factor = static_cast<float>(h.get_float_opt(p + "rope.scaling.attn_factor").value_or(1.0));
  c.rope_original_context = h.get_int_opt(p + "rope.scaling.original_context_length").value_or(c.context_length);

  c.rope_pairing = traits->pairing;
  c.qkv_bias = traits->qkv_bias;
  c.qk_norm = traits->qk_norm;
  c.post_norms = traits->post_norms;
  c.scale_embedding = traits->scale_embedding;
  c.ffn_activation = traits->activation;
  c.output_always_tied = c.arch == "gemma" || c.arch == "gemma2";  // as llama.cpp loads them
  c.attn_soft_cap = traits->attn_soft_cap > 0
                        ? static_cast<float>(h.get_float_opt(p + "attn_logit_softcapping").value_or(traits->attn_soft_cap))
                        : 0.0f;
  c.final_soft_cap = static_cast<float>(h.get_float_opt(p + "final_logit_softcapping").value_or(traits->final_soft_cap));
  // Query scaling: 1/sqrt(head size); Gemma's 27B models use sqrt(dim / heads) (their query_pre_attn_scalar),
  // which llama.cpp recognises by the layer count.
  const bool big = traits->big_model_layers > 0 && c.n_layers == traits->big_model_layers;
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(big ? c.dim / c.n_heads : c.head_dim));

  // Sliding-window layers: gemma2 always (window 4096 unless the file says), gemma3 when the file gives a window.
  if (traits->uses_file_window) c.sliding_window = h.get_int_opt(p + "attention.sliding_window").value_or(traits->sliding_window);
  if (c.sliding_window < 0) throw Error(p + "attention.sliding_window must not be negative");
  if (c.sliding_window > 0) {
    const int64_t period = h.get_int_opt(p + "attention.sliding_window_pattern").value_or(traits->local_period);
    if (period < 0) throw Error(p + "attention.sliding_window_pattern must not be negative");
    c.layer_is_local.resize(static_cast<size_t>(c.n_layers));
    for (int64_t l = 0; l < c.n_layers; ++l) c.layer_is_local[static_cast<size_t>(l)] = period == 0 || l % period < period - 1;
    if (traits->local_rope_is_global) {
      c.rope_local = {c.rope_base, c.rope_linear_scale};
    } else {
      c.rope_local.base = static_cast<float>(h.get_float_opt(p + "rope.freq_base_swa").value_or(10000.0));
    }
  } else {
    c.rope_local = {c.rope_base, c.rope_linear_scale};
  }

  const gguf::TensorInfo* embd = h.find_tensor("token_embd.weight");
  if (!embd) throw Error("model has no token_embd.weight tensor");
  c.n_vocab = h.get_int_opt(p + "vocab_size").value_or(embd->dims.size() > 1 ? static_cast<int64_t>(embd->dims[1]) : 0);
  return c;
}

}  // namespace tabllm
