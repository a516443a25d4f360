// llama2.c checkpoints: the legacy format (7 int32 header, a negative vocab size meaning an unshared
// classifier, trailing RoPE tables) and version 1 ("ak42" magic, 256-byte header, float32 weights).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace tabllm::tools {

struct Llama2cConfig {
  int version = 0;  // 0 = legacy
  int32_t dim = 0;
  int32_t hidden_dim = 0;
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t vocab_size = 0;
  int32_t seq_len = 0;
  bool shared_classifier = true;  // the output projection is the token embedding

  int32_t head_size() const { return dim / n_heads; }
  int32_t kv_dim() const { return n_kv_heads * head_size(); }
};

class Llama2cCheckpoint {
 public:
  // The weights as llama2.c's model.py names them; matrices are row-major [out][in].
  enum class Weight { TokenEmbedding, AttnNorm, Wq, Wk, Wv, Wo, FfnNorm, W1, W2, W3, FinalNorm, Classifier };
  static constexpr size_t kWeightCount = static_cast<size_t>(Weight::Classifier) + 1;

  // Reads the header and checks that the file size matches it exactly; throws Error naming the path.
  explicit Llama2cCheckpoint(const std::string& path);

  const Llama2cConfig& config() const { return config_; }
  // Floats in one layer's slice of `weight` (the layer is ignored for non-layer weights).
  uint64_t element_count(Weight weight) const;
  // Reads those floats from the file. A shared classifier reads the token embedding.
  std::vector<float> read(Weight weight, int layer);

 private:
  // Records where each weight starts; returns the file size the header implies.
  uint64_t locate_weights(uint64_t header_size);

  std::string path_;
  std::ifstream file_;
  Llama2cConfig config_;
  std::array<uint64_t, kWeightCount> offsets_{};  // byte offset of layer 0's slice
};

}  // namespace tabllm::tools
