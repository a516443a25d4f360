#include "synth/model_shapes.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace tabllm::tools {
namespace {

struct Shape {
  const char* name;
  ModelSpec spec;  // vocab_size 0: taken from the vocabulary
};

ModelSpec make(const char* arch, int64_t vocab, int64_t layers, int64_t dim, int64_t heads, int64_t kv_heads,
               int64_t head_dim, int64_t ffn, int64_t context, float rope_base, float eps, bool tied) {
  ModelSpec s;
  s.arch = arch;
  s.vocab_size = vocab;
  s.n_layers = layers;
  s.dim = dim;
  s.n_heads = heads;
  s.n_kv_heads = kv_heads;
  s.head_dim = head_dim;
  s.ffn_dim = ffn;
  s.context_length = context;
  s.rope_base = rope_base;
  s.norm_eps = eps;
  s.tied_embeddings = tied;
  return s;
}

ModelSpec with_long_rope(ModelSpec s, int64_t rope_dims, int64_t original_context, int64_t sliding_window) {
  s.rope_dims = rope_dims;
  s.rope_original_context = original_context;
  s.sliding_window = sliding_window;
  return s;
}

ModelSpec with_local_layers(ModelSpec s, int64_t window, int64_t pattern, float local_base, float attn_cap, float final_cap) {
  s.sliding_window = window;
  s.sliding_window_pattern = pattern;
  s.rope_base_local = local_base;
  s.attn_soft_cap = attn_cap;
  s.final_soft_cap = final_cap;
  return s;
}

ModelSpec with_pooling(ModelSpec s, int pooling) {
  s.pooling = pooling;
  return s;
}

// Hyperparameters from the models' Hugging Face config.json files (and the keys llama.cpp's converter
// writes from them).
std::vector<Shape> all_shapes() {
  // make(arch, vocab, layers, dim, heads, kv heads, head dim (0: dim / heads), ffn, context, rope base, eps, tied)
  std::vector<Shape> shapes = {
      {"tinyllama-1.1b", make("llama", 32000, 22, 2048, 32, 4, 0, 5632, 2048, 10000.0f, 1e-5f, false)},
      {"llama2-7b", make("llama", 32000, 32, 4096, 32, 32, 0, 11008, 4096, 10000.0f, 1e-5f, false)},
      {"llama3.2-1b", make("llama", 128256, 16, 2048, 32, 8, 0, 8192, 131072, 500000.0f, 1e-5f, true)},
      {"llama-3.2-3b", make("llama", 128256, 28, 3072, 24, 8, 0, 8192, 131072, 500000.0f, 1e-5f, true)},
      {"llama-3.1-8b", make("llama", 128256, 32, 4096, 32, 8, 0, 14336, 131072, 500000.0f, 1e-5f, false)},
      {"qwen2.5-0.5b", make("qwen2", 151936, 24, 896, 14, 2, 0, 4864, 32768, 1000000.0f, 1e-6f, true)},
      {"qwen2.5-1.5b", make("qwen2", 151936, 28, 1536, 12, 2, 0, 8960, 32768, 1000000.0f, 1e-6f, true)},
      {"qwen3-0.6b", make("qwen3", 151936, 28, 1024, 16, 8, 128, 3072, 40960, 1000000.0f, 1e-6f, true)},
      // Phi-3.5-mini: 128K context by LongRoPE over an original 4K (its sliding_window of 262144 is written,
      // and ignored as llama.cpp does).
      {"phi-3.5-mini", with_long_rope(make("phi3", 32064, 32, 3072, 32, 32, 0, 8192, 131072, 10000.0f, 1e-5f, false), 0, 4096, 262144)},
      {"gemma-2b", make("gemma", 256000, 18, 2048, 8, 1, 256, 16384, 8192, 10000.0f, 1e-6f, true)},
      {"gemma-2-2b", with_local_layers(make("gemma2", 256000, 26, 2304, 8, 4, 256, 9216, 8192, 10000.0f, 1e-6f, true), 4096, 0, 0, 50.0f, 30.0f)},
      {"gemma-3-1b", with_local_layers(make("gemma3", 262144, 26, 1152, 4, 1, 256, 6912, 32768, 1000000.0f, 1e-6f, true), 512, 6, 10000.0f, 0, 0)},
      // Embedding models (pooling 1 mean, 2 cls, 3 last). nomic-embed-text-v1.5: RoPE base 1000.
      {"all-minilm-l6-v2", with_pooling(make("bert", 30522, 6, 384, 12, 12, 0, 1536, 512, 10000.0f, 1e-12f, true), 1)},
      {"bge-small-en-v1.5", with_pooling(make("bert", 30522, 12, 384, 12, 12, 0, 1536, 512, 10000.0f, 1e-12f, true), 2)},
      {"bge-base-en-v1.5", with_pooling(make("bert", 30522, 12, 768, 12, 12, 0, 3072, 512, 10000.0f, 1e-12f, true), 2)},
      {"nomic-embed-text-v1.5", with_pooling(make("nomic-bert", 30522, 12, 768, 12, 12, 0, 3072, 2048, 1000.0f, 1e-12f, true), 1)},
      {"qwen3-embedding-0.6b", with_pooling(make("qwen3", 151669, 28, 1024, 16, 8, 128, 3072, 32768, 1000000.0f, 1e-6f, true), 3)},
      // Tiny shapes: rows of 256 so that every type, K-quants included, fits without fallback.
      {"tiny-llama", make("llama", 0, 2, 256, 4, 2, 0, 512, 512, 10000.0f, 1e-5f, false)},
      {"tiny-qwen2", make("qwen2", 0, 2, 256, 4, 2, 0, 768, 512, 1000000.0f, 1e-6f, true)},
      {"tiny-qwen3", make("qwen3", 0, 2, 256, 4, 2, 128, 512, 512, 1000000.0f, 1e-6f, true)},
      // Partial rotary (48 of 64 dims, as Phi-4-mini), LongRoPE over an original 256 positions, a window
      // in the file that llama.cpp ignores.
      {"tiny-phi3", with_long_rope(make("phi3", 0, 2, 256, 4, 2, 0, 512, 1024, 10000.0f, 1e-5f, false), 48, 256, 8)},
      {"tiny-gemma", make("gemma", 0, 2, 256, 2, 1, 128, 512, 512, 10000.0f, 1e-6f, true)},
      // Windows of 8 positions, so that prompts and short generations already slide.
      {"tiny-gemma2", with_local_layers(make("gemma2", 0, 2, 256, 4, 2, 64, 512, 512, 10000.0f, 1e-6f, true), 8, 0, 0, 50.0f, 30.0f)},
      {"tiny-bert", with_pooling(make("bert", 0, 2, 256, 4, 4, 0, 512, 512, 10000.0f, 1e-12f, true), 1)},
      {"tiny-nomic-bert", with_pooling(make("nomic-bert", 0, 2, 256, 4, 4, 0, 512, 512, 1000.0f, 1e-12f, true), 1)},
      {"tiny-qwen3-embedding", with_pooling(make("qwen3", 0, 2, 256, 4, 2, 128, 512, 512, 1000000.0f, 1e-6f, true), 3)},
      {"tiny-gemma3", with_local_layers(make("gemma3", 0, 6, 256, 4, 1, 64, 512, 512, 1000000.0f, 1e-6f, true), 8, 6, 10000.0f, 0, 0)},
  };
  for (Shape& s : shapes) {
    const std::string name = s.name;
    s.spec.name = name + " (synthetic)";
    s.spec.llama3_rope = name == "llama3.2-1b" || name == "llama-3.2-3b" || name == "llama-3.1-8b";
    if (name == "llama-3.1-8b") s.spec.llama3_rope_factor = 8;
  }
  return shapes;
}

}  // namespace

std::vector<std::string> shape_names() {
  std::vector<std::string> names;
  for (const Shape& s : all_shapes()) names.push_back(s.name);
  return names;
}

ModelSpec find_shape(const std::string& name, int64_t vocab_size) {
  for (const Shape& s : all_shapes()) {
    if (name != s.name) continue;
    ModelSpec spec = s.spec;
    if (spec.vocab_size == 0) spec.vocab_size = vocab_size;
    return spec;
  }
  std::string known;
  for (const std::string& n : shape_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown model shape '" + name + "': use one of " + known);
}

std::vector<float> llama3_rope_factors(int64_t head_dim, double rope_base, double factor, double low_freq_factor,
                                       double high_freq_factor, double original_context) {
  const double pi = 3.14159265358979323846;
  const double long_wavelength = original_context / low_freq_factor;
  const double short_wavelength = original_context / high_freq_factor;
  std::vector<float> factors;
  for (int64_t i = 0; i < head_dim; i += 2) {
    const double frequency = std::pow(rope_base, -static_cast<double>(i) / static_cast<double>(head_dim));
    const double wavelength = 2 * pi / frequency;
    double divisor;
    if (wavelength < short_wavelength) {
      divisor = 1;
    } else if (wavelength > long_wavelength) {
      divisor = factor;
    } else {
      // Blend "divide by factor" and "keep" by where the wavelength sits between the two bounds.
      const double keep = (original_context / wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor);
      divisor = 1 / ((1 - keep) / factor + keep);
    }
    factors.push_back(static_cast<float>(divisor));
  }
  return factors;
}

}  // namespace tabllm::tools

namespace tabllm::tools {

std::vector<float> longrope_factors(int64_t pairs, bool long_context) {
  // Divisors that grow with the wavelength, in the ranges of Phi-3.5's (short near 1, long up to ~40).
  std::vector<float> factors(static_cast<size_t>(pairs));
  for (int64_t i = 0; i < pairs; ++i) {
    const double x = static_cast<double>(i) / static_cast<double>(std::max<int64_t>(pairs - 1, 1));
    factors[static_cast<size_t>(i)] = static_cast<float>(long_context ? 1.0 + 39.0 * x * x : 1.0 + 0.5 * x);
  }
  return factors;
}

}  // namespace tabllm::tools
