// Embeddings of whole inputs: the model's pass over many of them at once (the encoder pass of bert and
// nomic-bert; the decoder pass of a decoder embedding model such as Qwen3-Embedding, each input attending
// to itself only), the file's pooling, then L2 normalisation (as llama.cpp's llama-embedding does).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backend/cpu/encoder.h"
#include "backend/cpu/forward.h"
#include "model/model.h"

namespace tabllm {

struct EmbedOptions {
  int n_threads = 1;
  cpu::Path path = cpu::Path::Simd;
  int64_t max_batch_tokens = 2048;  // inputs are grouped into passes of up to this many tokens (decoders: and their context)
};

class Embedder {
 public:
  // Throws Error when the model is no embedding model (an encoder, or a decoder whose file names a pooling).
  Embedder(const Model& model, EmbedOptions options);
  ~Embedder();
  int64_t dim() const { return model_.config().dim; }
  // out: inputs.size() × dim() floats, each input's unit-length embedding. Every input must hold 1 to
  // the model's context of valid token ids; an error names the input at fault.
  void embed(std::span<const std::vector<int32_t>> inputs, float* out);

 private:
  const Model& model_;
  EmbedOptions options_;
  std::unique_ptr<CpuEncoder> encoder_;
  std::unique_ptr<CpuForward> decoder_;
  std::vector<float> hidden_;
};

}  // namespace tabllm
