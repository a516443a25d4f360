// The forward pass on the CPU, reading top to bottom like the math, with the op math of core/ops and the
// kernels of this folder. Path::Scalar is the reference every other path (SIMD, WebAssembly, WebGPU) is
// checked against.
#pragma once
#include <memory>
#include <vector>

#include "backend/cpu/kernels.h"
#include "model/model.h"
#include "backend/backend.h"
#include "backend/cpu/kv_cache.h"

namespace tabllm {

struct CpuOptions {
  int n_threads = 1;
  cpu::Path path = cpu::Path::Simd;
  int64_t context_size = 0;  // 0 → the model's context length
  int64_t max_batch = 256;   // prompt tokens processed per matrix-matrix step
  TensorType kv_type = TensorType::F16;  // f32, f16 or q8_0 (KvCache)
};

class CpuForward final : public Backend {
 public:
  CpuForward(const Model& model, CpuOptions options);
  ~CpuForward() override;
  void forward(std::span<const int32_t> tokens, int64_t pos, Logits which, float* logits) override;
  // A decoder embedding model's pass over several sequences at once: writes every token's final hidden state
  // (after output_norm, before the output head: dim floats each) instead of logits. The sequences lie one
  // after another in the cache from position 0, each token rotated for its place in its own sequence and
  // attending only to its own sequence; together they must fit in context_size().
  void hidden_states(std::span<const std::span<const int32_t>> sequences, float* out);
  int64_t draft_layers_max() const override { return c_.n_layers - 1; }
  void forward_draft(std::span<const int32_t> tokens, int64_t pos, int64_t n_layers, float* logits) override;
  // Moves the rows and re-rotates the keys of every layer with its own RoPE (global or local), layers
  // split across threads.
  void shift(const KvShift& shift) override;
  int64_t context_size() const override { return kv_.capacity(); }
  const KvCache& kv_cache() const { return kv_; }
  KvLayout kv_layout() const override { return kv_.layout(); }
  void read_kv(int64_t start, int64_t count, uint8_t* out) const override { kv_.read(start, count, out); }
  void write_kv(int64_t start, int64_t count, const uint8_t* in) override { kv_.write(start, count, in); }
  void rotate_kv(int64_t start, int64_t count, int64_t distance) override;

 private:
  // What a pass writes: logits of the last token or of all, or every token's normed hidden state.
  enum class Output { Last, All, Hidden };
  void forward_layers(std::span<const int32_t> tokens, int64_t pos, Output output, float* out, int64_t n_layers);
  // Runs the first n_layers layers (all but a self-speculation draft run them all).
  void forward_batch(const int32_t* tokens, int64_t n, int64_t pos, Output output, float* out, int64_t n_layers);
  void attention(int64_t layer, int64_t n, int64_t pos);
  void matmul(const Tensor& w, const float* x, int64_t n, float* y);
  // Runs per_layer(layer, rotate) for every layer across threads, where rotate(key) turns one key row
  // (kv_dim floats) by `distance` positions with the layer's own RoPE (global or local).
  template <class PerLayer>
  void rotate_layers(int64_t distance, const PerLayer& per_layer);

  const Model& model_;
  const ModelConfig& c_;
  CpuOptions options_;
  cpu::ThreadPool pool_;
  cpu::Scratch scratch_;
  KvCache kv_;
  // RoPE angle per position for each rotated pair, of global and of sliding-window layers.
  std::vector<float> inv_freq_global_, inv_freq_local_;
  struct RopeTable {
    std::vector<float> cos, sin;  // [token][pair] of the current batch
  };
  RopeTable rope_[2];  // global, local
  // Activations for up to max_batch tokens, allocated once.
  std::vector<float> x_, xb_, q_, k_, v_, att_, gate_, up_, scores_;
  std::vector<float> kv_rows_;  // per thread: one key and one value head decoded from the cache
  // A layer's rows that attention reads, decoded once from a rounded cache: [position][key, value][kv_dim].
  static constexpr int64_t kDecodedRowsBytes = 64 << 20;
  std::vector<float> decoded_;
  // While hidden_states runs several sequences: per cache position, its position in its sequence and where
  // its sequence starts (empty otherwise: one sequence, positions as they are).
  std::vector<int64_t> sequence_pos_, sequence_start_;
};

}  // namespace tabllm
