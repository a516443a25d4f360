#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "sampling/sampler.h"
#include "sampling/token_mask.h"

namespace tabllm {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

bool allowed_at(const std::vector<uint32_t>& words, int32_t id) { return words[static_cast<size_t>(id / 32)] >> (id % 32) & 1u; }

// The reference: every id in order, as the sampler's greedy loop over masked logits.
int32_t naive_argmax(const std::vector<float>& logits, const std::vector<uint32_t>& words) {
  int32_t best = -1;
  float best_logit = -kInf;
  for (int32_t id = 0; id < static_cast<int32_t>(logits.size()); ++id)
    if (allowed_at(words, id) && logits[static_cast<size_t>(id)] > best_logit) best_logit = logits[static_cast<size_t>(best = id)];
  return best;
}

struct Lcg {
  uint64_t s;
  uint32_t next() { return static_cast<uint32_t>((s = s * 6364136223846793005ull + 1442695040888963407ull) >> 33); }
};

// Vocabularies not a multiple of 32 (the last word partial, its spare bits set or not), masks from empty
// to full, ties, NaN and -inf among the logits: the word-at-a-time mask and argmax equal the per-id ones.
TEST(TokenMask, EqualsThePerIdReferenceOnRandomMasks) {
  Lcg rng{42};
  for (int32_t n : {1, 31, 32, 33, 1000, 32000, 128256 + 5}) {
    for (int density : {0, 1, 3, 50, 97, 100}) {
      std::vector<float> logits(static_cast<size_t>(n));
      for (float& l : logits) l = static_cast<float>(rng.next() % 64) / 8.0f;  // coarse values: many ties
      if (n > 40) {
        logits[7] = std::nanf("");
        logits[9] = -kInf;
        logits[static_cast<size_t>(n - 1)] = 100.0f;  // the best logit in the partial last word
      }
      std::vector<uint32_t> words(static_cast<size_t>((n + 31) / 32));
      for (uint32_t& w : words)
        for (int b = 0; b < 32; ++b)
          if (static_cast<int>(rng.next() % 100) < density) w |= 1u << b;
      const int32_t want = naive_argmax(logits, words);
      EXPECT_EQ(argmax_allowed(logits.data(), words, n), want) << "n " << n << ", density " << density;
      std::vector<float> masked(static_cast<size_t>(n));
      mask_logits(logits.data(), words, n, masked.data());
      for (int32_t id = 0; id < n; ++id) {
        const float got = masked[static_cast<size_t>(id)], l = logits[static_cast<size_t>(id)];
        if (!allowed_at(words, id)) ASSERT_EQ(got, -kInf) << id;
        else if (std::isnan(l)) ASSERT_TRUE(std::isnan(got)) << id;
        else ASSERT_EQ(got, l) << id;
      }
    }
  }
}

TEST(TokenMask, NothingAllowedAboveMinusInfinityIsMinusOne) {
  const std::vector<float> logits = {-kInf, std::nanf(""), 3.0f};
  EXPECT_EQ(argmax_allowed(logits.data(), std::vector<uint32_t>{0b011u}, 3), -1);
  EXPECT_EQ(argmax_allowed(logits.data(), std::vector<uint32_t>{0u}, 3), -1);
}

// sample_allowed picks what sample() picks from the masked logits: greedy, and a seeded draw with bias.
TEST(TokenMask, SampleAllowedEqualsSamplingTheMaskedLogits) {
  Lcg rng{5};
  const int32_t n = 5000;
  std::vector<float> logits(static_cast<size_t>(n));
  for (float& l : logits) l = static_cast<float>(rng.next() % 1000) / 100.0f;
  std::vector<uint32_t> words(static_cast<size_t>((n + 31) / 32));
  for (uint32_t& w : words) w = rng.next() % 3 == 0 ? rng.next() : 0u;
  std::vector<float> masked(static_cast<size_t>(n));
  mask_logits(logits.data(), words, n, masked.data());
  const std::vector<int32_t> history = {1, 2, 3};
  for (float temperature : {0.0f, 1.0f}) {
    SamplingParams p;
    p.temperature = temperature;
    p.seed = 11;
    p.logit_bias = {{64, 5.0f}};
    Sampler a(p, n), b(p, n);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(a.sample_allowed(logits.data(), words, history), b.sample(masked.data(), history)) << temperature;
  }
}

}  // namespace
}  // namespace tabllm
