// Log-probabilities of generated tokens (OpenAI's `logprobs` / `top_logprobs`): the log-softmax of the
// logits the sampler chose from, for the chosen token and the most likely alternatives.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace tabllm {

struct TokenLogprob {
  int32_t id = -1;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // most likely first (ties: lower id first)
};

// `logits` has n_vocab entries; -inf entries (banned or masked tokens) have probability 0. `top_n` in
// [0, 20] alternatives are listed.
TokenLogprob token_logprob(const float* logits, int32_t n_vocab, int32_t chosen, int top_n);

}  // namespace tabllm
