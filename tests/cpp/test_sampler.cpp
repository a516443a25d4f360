#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "common/error.h"
#include "sampling/sampler.h"

namespace tabllm {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Plain sampling: no top-k / top-p / min-p unless a test turns them on.
SamplingParams plain(float temperature = 1.0f, uint64_t seed = 7) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::vector<int> histogram(Sampler& s, const std::vector<float>& logits, int draws,
                           const std::vector<int32_t>& history = {}) {
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i) ++counts[s.sample(logits.data(), history)];
  return counts;
}

// Deterministic pseudo-random logits for large-vocabulary tests.
std::vector<float> noise_logits(size_t n) {
  std::vector<float> l(n);
  uint64_t x = 12345;
  for (float& v : l) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<float>(static_cast<double>(x >> 40) / static_cast<double>(1ull << 24)) * 20.0f - 10.0f;
  }
  return l;
}

TEST(Sampler, GreedyPicksArgmaxAndLowestIdOnTies) {
  Sampler s(plain(0.0f), 5);
  const float logits[] = {0.1f, 3.0f, -1.0f, 3.0f, 2.9f};
  EXPECT_EQ(s.sample(logits, {}), 1);
  const float with_nan[] = {std::nanf(""), -2.0f, -1.0f, -kInf, -1.0f};
  EXPECT_EQ(s.sample(with_nan, {}), 2);
}

TEST(Sampler, GreedyIgnoresDefaultFilters) {
  SamplingParams p;  // defaults: top_k 40, top_p 0.95, min_p 0.05
  p.temperature = 0;
  Sampler s(p, 4);
  const float logits[] = {0.0f, 0.5f, 4.0f, 1.0f};
  EXPECT_EQ(s.sample(logits, {}), 2);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDiffers) {
  const std::vector<float> logits = noise_logits(1000);
  auto run = [&](uint64_t seed) {
    SamplingParams p = plain(1.5f, seed);
    Sampler s(p, 1000);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.sample(logits.data(), {}));
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));

  Sampler s(plain(1.5f, 42), 1000);
  const int32_t first = s.sample(logits.data(), {});
  s.sample(logits.data(), {});
  s.reseed(42);
  EXPECT_EQ(s.sample(logits.data(), {}), first);
}

TEST(Sampler, FrequenciesMatchProbabilities) {
  const std::vector<double> probs = {0.30, 0.20, 0.15, 0.10, 0.08, 0.07, 0.05, 0.03, 0.015, 0.005};
  Sampler s(plain(1.0f, 3), static_cast<int32_t>(probs.size()));
  const int draws = 200000;
  const std::vector<int> counts = histogram(s, logits_of(probs), draws);
  double chi2 = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    const double expected = probs[i] * draws;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  EXPECT_LT(chi2, 27.88) << "chi-square with 9 degrees of freedom above the 0.001 critical value";
}

TEST(Sampler, TopPFrequenciesMatchRenormalizedProbabilities) {
  // Shuffled ids, so that the partition-based top-p works on unsorted candidates.
  const std::vector<double> probs = {0.03, 0.20, 0.005, 0.30, 0.07, 0.15, 0.015, 0.10, 0.05, 0.08};
  SamplingParams p = plain(1.0f, 11);
  p.top_p = 0.88f;  // 0.30 + 0.20 + 0.15 + 0.10 + 0.08 = 0.83 falls short; adding 0.07 reaches 0.90
  Sampler s(p, static_cast<int32_t>(probs.size()));
  const int draws = 100000;
  const std::vector<int> counts = histogram(s, logits_of(probs), draws);
  double chi2 = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] < 0.07) {
      EXPECT_EQ(counts[i], 0) << i;
      continue;
    }
    const double expected = probs[i] / 0.90 * draws;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  EXPECT_LT(chi2, 20.52) << "chi-square with 5 degrees of freedom above the 0.001 critical value";
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  const std::vector<double> probs = {0.5, 0.25, 0.125, 0.125};
  const std::vector<float> logits = logits_of(probs);
  // At temperature T, p_i ∝ probs_i^(1/T): check the ratio of the two most likely tokens.
  for (float t : {0.5f, 2.0f}) {
    Sampler s(plain(t, 99), 4);
    const std::vector<int> counts = histogram(s, logits, 100000);
    const double expected_ratio = std::pow(2.0, 1.0 / t);
    EXPECT_NEAR(static_cast<double>(counts[0]) / counts[1], expected_ratio, 0.06 * expected_ratio) << "T=" << t;
  }
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
  SamplingParams p = plain(5.0f);  // hot, so that excluded tokens would show up if they could
  p.top_k = 3;
  Sampler s(p, 8);
  const std::vector<float> logits = {1.0f, 5.0f, 2.0f, 4.0f, 3.0f, 0.0f, 4.0f, -1.0f};
  const std::vector<int> counts = histogram(s, logits, 20000);
  // Best three: id 1 (5.0), ids 3 and 6 (4.0, tie kept both), not 4 (3.0).
  for (int id : {0, 2, 4, 5, 7}) EXPECT_EQ(counts[id], 0) << id;
  for (int id : {1, 3, 6}) EXPECT_GT(counts[id], 4000) << id;

  p.top_k = 1;
  Sampler one(p, 8);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(one.sample(logits.data(), {}), 1);
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
  const std::vector<float> logits = logits_of({0.1, 0.5, 0.1, 0.3});
  SamplingParams p = plain();
  p.top_p = 0.75f;  // 0.5 < 0.75 <= 0.5 + 0.3
  Sampler s(p, 4);
  std::vector<int> counts = histogram(s, logits, 20000);
  EXPECT_EQ(counts[0] + counts[2], 0);
  EXPECT_NEAR(static_cast<double>(counts[1]) / 20000, 0.5 / 0.8, 0.02);

  p.top_p = 0.85f;  // needs a third token; the tie between ids 0 and 2 goes to the lower id
  Sampler s3(p, 4);
  counts = histogram(s3, logits, 20000);
  EXPECT_GT(counts[0], 0);
  EXPECT_EQ(counts[2], 0);

  // The same through the top-k path (a fifth, negligible token lets top_k = 4 take effect).
  std::vector<float> five = logits;
  five.push_back(-30.0f);
  p.top_k = 4;
  Sampler sk(p, 5);
  counts = histogram(sk, five, 20000);
  EXPECT_GT(counts[0], 0);
  EXPECT_EQ(counts[2], 0);
}

TEST(Sampler, MinPIsRelativeToTheBestToken) {
  const std::vector<float> logits = logits_of({0.4, 0.25, 0.2, 0.15});
  for (int top_k : {0, 4}) {
    SamplingParams p = plain();
    p.top_k = top_k;
    p.min_p = 0.45f;  // keeps p >= 0.18: ids 0, 1, 2
    Sampler s(p, 4);
    const std::vector<int> counts = histogram(s, logits, 20000);
    EXPECT_EQ(counts[3], 0) << "top_k " << top_k;
    EXPECT_GT(counts[2], 0) << "top_k " << top_k;
  }
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  SamplingParams p = plain(0.0f);
  p.repeat_penalty = 2.0f;
  p.repeat_last_n = 2;
  Sampler s(p, 4);
  const float positive[] = {3.0f, 2.0f, 0.0f, 0.0f};
  EXPECT_EQ(s.sample(positive, std::vector<int32_t>{0}), 1);        // 3 / 2 = 1.5 < 2
  EXPECT_EQ(s.sample(positive, std::vector<int32_t>{0, 0, 0}), 1);  // once per distinct token
  EXPECT_EQ(s.sample(positive, std::vector<int32_t>{0, 2, 3}), 0);  // 0 is outside the window of 2
  const float negative[] = {-1.0f, -1.5f, -5.0f, -5.0f};
  EXPECT_EQ(s.sample(negative, std::vector<int32_t>{0}), 1);  // -1 * 2 = -2 < -1.5
  // The caller's logits are untouched.
  EXPECT_EQ(positive[0], 3.0f);
}

TEST(Sampler, FrequencyAndPresencePenalties) {
  const float logits[] = {1.0f, 0.75f, 0.0f};
  SamplingParams p = plain(0.0f);
  p.frequency_penalty = 0.1f;
  Sampler freq(p, 3);
  EXPECT_EQ(freq.sample(logits, std::vector<int32_t>{0, 0}), 0);     // 1 - 0.2 = 0.8 > 0.75
  EXPECT_EQ(freq.sample(logits, std::vector<int32_t>{0, 0, 0}), 1);  // 1 - 0.3 = 0.7 < 0.75

  p = plain(0.0f);
  p.presence_penalty = 0.3f;
  Sampler presence(p, 3);
  EXPECT_EQ(presence.sample(logits, std::vector<int32_t>{2}), 0);
  EXPECT_EQ(presence.sample(logits, std::vector<int32_t>{0}), 1);  // 0.7 < 0.75
  EXPECT_EQ(presence.sample(logits, std::vector<int32_t>{0, 1, 1, 1}), 0);  // both lose 0.3, once each
}

TEST(Sampler, LogitBiasBansAndPromotes) {
  SamplingParams p = plain(0.0f);
  p.logit_bias = {{0, -kInf}, {2, 1.5f}};
  Sampler s(p, 3);
  const float logits[] = {5.0f, 1.0f, 0.0f};
  EXPECT_EQ(s.sample(logits, {}), 2);

  SamplingParams hot = plain(1.0f);
  hot.logit_bias = {{0, -kInf}};
  Sampler banned(hot, 3);
  const std::vector<float> many = {10.0f, 0.0f, 0.0f};
  EXPECT_EQ(histogram(banned, many, 2000)[0], 0);

  SamplingParams all = plain(1.0f);
  all.logit_bias = {{0, -kInf}, {1, -kInf}};
  Sampler none_left(all, 2);
  const float two[] = {1.0f, 2.0f};
  EXPECT_THROW(none_left.sample(two, {}), Error);
}

TEST(Sampler, RejectsInvalidParameters) {
  auto message = [](SamplingParams p, int32_t n_vocab = 10) -> std::string {
    try {
      Sampler s(p, n_vocab);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  SamplingParams p;
  p.temperature = -0.5f;
  EXPECT_NE(message(p).find("temperature"), std::string::npos);
  p = {};
  p.top_p = 0.0f;
  EXPECT_NE(message(p).find("top_p must be in (0, 1]"), std::string::npos);
  p.top_p = 1.5f;
  EXPECT_NE(message(p).find("top_p"), std::string::npos);
  p = {};
  p.min_p = -0.1f;
  EXPECT_NE(message(p).find("min_p"), std::string::npos);
  p = {};
  p.repeat_penalty = 0.0f;
  EXPECT_NE(message(p).find("repeat_penalty"), std::string::npos);
  p = {};
  p.repeat_last_n = -2;
  EXPECT_NE(message(p).find("repeat_last_n"), std::string::npos);
  p = {};
  p.frequency_penalty = 3.0f;
  EXPECT_NE(message(p).find("frequency_penalty"), std::string::npos);
  p = {};
  p.presence_penalty = -2.5f;
  EXPECT_NE(message(p).find("presence_penalty"), std::string::npos);
  p = {};
  p.logit_bias = {{10, 1.0f}};
  EXPECT_NE(message(p).find("logit_bias"), std::string::npos);
  p = {};
  EXPECT_NE(message(p, 0).find("vocabulary size"), std::string::npos);
  EXPECT_EQ(message(SamplingParams{}), "");
}

TEST(Sampler, RejectsHistoryOutsideTheVocabulary) {
  SamplingParams p = plain(0.0f);
  p.presence_penalty = 0.5f;
  Sampler s(p, 3);
  const float logits[] = {1.0f, 0.0f, 0.0f};
  EXPECT_THROW(s.sample(logits, std::vector<int32_t>{3}), Error);
}

TEST(Sampler, FastOn152KVocabulary) {
  const int32_t n = 151936;
  const std::vector<float> logits = noise_logits(n);
  std::vector<int32_t> history(512);
  for (size_t i = 0; i < history.size(); ++i) history[i] = static_cast<int32_t>(i * 97 % n);

  auto per_call_ms = [&](const SamplingParams& p) {
    Sampler s(p, n);
    s.sample(logits.data(), history);  // warm-up
    const int calls = 50;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) s.sample(logits.data(), history);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / calls;
  };
  SamplingParams defaults;  // top_k 40, top_p 0.95, min_p 0.05
  defaults.repeat_penalty = 1.1f;
  defaults.frequency_penalty = 0.2f;
  SamplingParams no_top_k = plain(1.0f);
  no_top_k.top_p = 0.95f;  // flat-ish distribution: top-p must sort a large prefix
  SamplingParams greedy = plain(0.0f);
  const double t_default = per_call_ms(defaults), t_full = per_call_ms(no_top_k), t_greedy = per_call_ms(greedy);
  std::printf("152K vocab: default chain %.3f ms, top-p without top-k %.3f ms, greedy %.3f ms per token\n",
              t_default, t_full, t_greedy);
  // Generous bounds for shared machines and unoptimized builds (a Release build takes well under half).
  EXPECT_LT(t_default, 5.0);
  EXPECT_LT(t_full, 25.0);
  EXPECT_LT(t_greedy, 2.0);
}

}  // namespace
}  // namespace tabllm
