// Choosing the next token from logits: penalties, logit bias, temperature, top-k, top-p, min-p,
// seeded and reproducible on every platform (own PRNG, no std:: distributions).
#pragma once
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace tabllm {

struct SamplingParams {
  float temperature = 0.8f;  // 0 → greedy (argmax)
  int top_k = 40;            // <= 0 → no limit
  float top_p = 0.95f;       // 1 → off
  float min_p = 0.05f;       // 0 → off
  float repeat_penalty = 1.0f;    // 1 → off; applied over the last repeat_last_n tokens
  int repeat_last_n = 64;
  float frequency_penalty = 0.0f;  // OpenAI-style, over all of history
  float presence_penalty = 0.0f;
  std::vector<std::pair<int32_t, float>> logit_bias;
  uint64_t seed = 0;
};

class Sampler {
 public:
  Sampler(SamplingParams params, int32_t n_vocab);
  // `logits` has n_vocab entries and is not modified; `history` holds prompt and generated ids so far
  // (penalties look at it). Throws Error if the params are invalid (checked at construction).
  int32_t sample(const float* logits, std::span<const int32_t> history);
  void reseed(uint64_t seed);
  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  int32_t n_vocab_;
  uint64_t rng_state_;
  std::vector<std::pair<float, int32_t>> candidates_;  // reused between calls
  std::vector<float> adjusted_;
};

}  // namespace tabllm
