// Choosing the next token from logits: penalties, logit bias, temperature, top-k, top-p, min-p,
// seeded and reproducible on every platform (own PRNG, own exp, no std:: distributions).
//
// Order of operations: logit_bias, repetition penalty, frequency/presence penalties; then either the
// argmax (temperature 0; ties go to the lowest id) or temperature, top-k, top-p, min-p and a draw.
#pragma once
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace tabllm {

// One token of a sampling distribution and its probability.
struct TokenProb {
  int32_t id;
  double p;
};

struct SamplingParams {
  float temperature = 0.8f;  // 0 → greedy (argmax); >= 0
  int top_k = 40;            // <= 0 → no limit
  float top_p = 0.95f;       // in (0, 1]; 1 → off
  float min_p = 0.05f;       // in [0, 1]; 0 → off; relative to the most likely token's probability
  float repeat_penalty = 1.0f;    // > 0; 1 → off; applied over the last repeat_last_n tokens
  int repeat_last_n = 64;         // 0 → off, -1 → all of history
  float frequency_penalty = 0.0f;  // OpenAI-style, in [-2, 2], over all of history
  float presence_penalty = 0.0f;   // in [-2, 2]
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the logit; -inf bans a token
  uint64_t seed = 0;
};

class Sampler {
 public:
  // Throws Error naming the first invalid parameter and its allowed range.
  Sampler(SamplingParams params, int32_t n_vocab);
  // `logits` has n_vocab entries and is not modified; `history` holds prompt and generated ids so far
  // (penalties look at it). Throws Error when no token is left to choose (e.g. all banned).
  int32_t sample(const float* logits, std::span<const int32_t> history);
  // sample() among the tokens of the bitset `allowed` (bit id % 32 of word id / 32; sampling/token_mask.h),
  // the others as if their logits were -inf. Greedy without bias or penalties reads only allowed logits.
  int32_t sample_allowed(const float* logits, std::span<const uint32_t> allowed, std::span<const int32_t> history);
  // The distribution sample() draws from (after penalties, temperature, top-k, top-p and min-p): the
  // tokens it may choose, most likely first, with probabilities summing to 1. Greedy: the argmax alone.
  // Speculative decoding verifies drafted tokens against it (sampling/speculative_sampling.h).
  void distribution(const float* logits, std::span<const int32_t> history, std::vector<TokenProb>& out);
  // A uniform draw in [0, 1) from the sampler's own stream (the seed).
  double uniform() { return next_uniform(); }
  void reseed(uint64_t seed);
  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    float logit;
    int32_t id;
    double weight;  // unnormalized probability: exp((logit - max) / temperature)
  };

  bool adjusts_logits() const;
  // Copies logits into adjusted_ and applies bias and penalties; returns adjusted_.
  const float* adjust(const float* logits, std::span<const int32_t> history);
  int32_t draw(const float* logits);
  // Fills candidates_ (weights unnormalized) and returns how many of its first entries draw() chooses
  // among; a token certain to be drawn (+inf logit) is returned as the only one.
  size_t keep_candidates(const float* logits);
  // Fills candidates_ with the top_k highest logits, sorted best first.
  void select_top_k(const float* logits, int k);
  // Moves the fewest best candidates whose weights reach `goal` to the front (order otherwise
  // unspecified but the same on every platform); returns how many.
  size_t top_p_partition(double goal);
  double weight(float logit, double max_logit) const;
  double next_uniform();  // [0, 1)

  SamplingParams params_;
  int32_t n_vocab_;
  uint64_t rng_state_;
  std::vector<Candidate> candidates_;  // reused between calls
  std::vector<float> adjusted_;
  std::vector<float> masked_;  // sample_allowed's logits, barred tokens at -inf
  std::vector<int32_t> token_counts_;  // all zero between calls
};

}  // namespace tabllm
