// The encoder forward pass on the CPU (bert, nomic-bert): several inputs in one pass, every matrix product
// over all their tokens at once, attention within each input only. The blocks are post-norm, as
// llama.cpp's BERT graph builds them:
//   x = LayerNorm(token_embd[t] + token_types[0] + position_embd[p] (bert))
//   per layer: q, k, v = x·W (+ b), RoPE on q, k (nomic-bert); a = attention within the input, ·Wo (+ bo)
//              x = LayerNorm(x + a);  x = LayerNorm(x + ffn(x))
// where ffn is down(gelu(up x + b) + b) (bert) or down(silu(gate x) * up x) (nomic-bert). Kernels and op
// math are the decoder's (kernels.h, core/ops), on the same Path::Scalar / Path::Simd choice.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "backend/cpu/kernels.h"
#include "model/model.h"

namespace tabllm {

class CpuEncoder {
 public:
  CpuEncoder(const Model& model, int n_threads, cpu::Path path);
  // The final hidden state of every token of every input, inputs one after another (dim floats a token).
  // Inputs hold valid token ids, each at most the model's context long (the caller checks).
  void hidden_states(std::span<const std::span<const int32_t>> inputs, float* out);

 private:
  void matmul(const Tensor& w, const float* x, int64_t n, float* y);
  void attention(int64_t n);
  float activation(float x) const;

  const Model& model_;
  const ModelConfig& c_;
  cpu::Path path_;
  cpu::ThreadPool pool_;
  cpu::Scratch scratch_;
  std::vector<float> type_row_;  // token_types row 0: every input is "sentence A"
  std::vector<float> inv_freq_;  // RoPE (nomic-bert)
  // Per token of the batch: where its input starts (batch index), its length and its position in it.
  std::vector<int64_t> start_, length_, position_;
  // Activations of the batch, grown to its token count.
  std::vector<float> x_, xb_, q_, k_, v_, att_, gate_, up_, cos_, sin_, scores_;
};

}  // namespace tabllm
