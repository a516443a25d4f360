// Speculative decoding changes speed, never output: greedy output is the plain decoding's token for token
// (held references, scalar and SIMD, each drafting method: prompt lookup, layer skip, a Q8_0 draft model), sampled output has the plain decoding's
// distribution (χ² over seeds), and constraints, stop strings, logprobs, max_tokens and context shifts
// behave as without it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "backend/cpu/forward.h"
#include "common/error.h"
#include "grammar/output_format.h"
#include "grammar/vocabulary.h"
#include "runtime/generation.h"
#include "runtime/prompt_lookup.h"
#include "runtime/session.h"
#include "sampling/speculative_sampling.h"
#include "greedy_references.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

std::unique_ptr<Model> stories() { return Model::load(test::build_dir() + "/models/stories260K-f32.gguf"); }

// The draft of method "draft": stories260K in Q8_0, for the F32 model.
const Model& draft_model() {
  static const auto draft = Model::load(test::build_dir() + "/models/stories260K-q8_0.gguf");
  return *draft;
}

std::unique_ptr<Session> make_session(const Model& model, cpu::Path path = cpu::Path::Simd, int64_t context = 0) {
  CpuOptions o;
  o.path = path;
  o.context_size = context;
  auto session = std::make_unique<Session>(model, std::make_unique<CpuForward>(model, o));
  o.context_size = 0;  // the draft's cache does not shift: it holds the whole history
  session->set_draft_model(draft_model().config(), std::make_unique<CpuForward>(draft_model(), o));
  return session;
}

GenerateRequest greedy(const std::string& prompt, int n) {
  GenerateRequest req;
  req.prompt = prompt;
  req.max_tokens = n;
  req.sampling.temperature = 0;
  req.ignore_eos = true;
  return req;
}

GenerateRequest speculative(GenerateRequest req, SpeculativeMethod method, int k = 8) {
  req.speculative.method = method;
  req.speculative.k = k;
  return req;
}

const SpeculativeMethod kMethods[] = {SpeculativeMethod::PromptLookup, SpeculativeMethod::Self, SpeculativeMethod::Draft};

// Two samples of equal size from one distribution? χ² over the tokens seen at least 10 times in all,
// the rest pooled, against the 0.999 quantile (Wilson–Hilferty).
void expect_same_distribution(const std::map<int32_t, int>& a, const std::map<int32_t, int>& b, const std::string& what) {
  std::map<int32_t, std::pair<int, int>> bins;
  for (const auto& [id, n] : a) bins[id].first += n;
  for (const auto& [id, n] : b) bins[id].second += n;
  double chi2 = 0;
  int df = -1, rest_a = 0, rest_b = 0;
  for (const auto& [id, n] : bins) {
    if (n.first + n.second < 10) {
      rest_a += n.first;
      rest_b += n.second;
      continue;
    }
    chi2 += std::pow(n.first - n.second, 2) / (n.first + n.second);
    ++df;
  }
  if (rest_a + rest_b > 0) {
    chi2 += std::pow(rest_a - rest_b, 2) / (rest_a + rest_b);
    ++df;
  }
  ASSERT_GE(df, 2) << what << ": too few distinct tokens to test";
  const double z = 3.09, h = 2.0 / (9.0 * df);
  const double critical = df * std::pow(1 - h + z * std::sqrt(h), 3);
  EXPECT_LT(chi2, critical) << what << ": χ² " << chi2 << " over " << df << " degrees of freedom";
}

}  // namespace

class SpeculativeGreedy : public ::testing::TestWithParam<std::tuple<SpeculativeMethod, cpu::Path>> {};

TEST_P(SpeculativeGreedy, EqualsHeldReferences) {
  const auto [method, path] = GetParam();
  const auto model = stories();
  const auto refs = test::load_greedy_references();
  ASSERT_EQ(refs.size(), 2u);
  int64_t drafted = 0, accepted = 0;
  for (const auto& ref : refs) {
    auto session = make_session(*model, path);
    const GenerateResult r = session->generate(speculative(greedy(ref.prompt, 64), method));
    EXPECT_EQ(r.tokens, ref.ids) << ref.prompt;
    EXPECT_EQ(r.timings.generated_tokens, 64);
    // Fewer forward passes than tokens after the first, by the kept drafts.
    EXPECT_EQ(r.speculative.forward_passes, 63 - r.speculative.accepted);
    drafted += r.speculative.drafted;
    accepted += r.speculative.accepted;
  }
  EXPECT_GT(drafted, 0);
  EXPECT_GT(accepted, 0);
}

INSTANTIATE_TEST_SUITE_P(Stories260K, SpeculativeGreedy,
                         ::testing::Combine(::testing::ValuesIn(kMethods), ::testing::Values(cpu::Path::Scalar, cpu::Path::Simd)),
                         [](const auto& info) {
                           std::string method = speculative_method_name(std::get<0>(info.param));
                           std::replace(method.begin(), method.end(), '-', '_');
                           return method +
                                  (std::get<1>(info.param) == cpu::Path::Scalar ? "_scalar" : "_simd");
                         });

TEST(PromptLookup, ContinuesTheLatestEarlierOccurrenceOfTheLongestSuffix) {
  std::vector<int32_t> out;
  prompt_lookup(std::vector<int32_t>{1, 2, 3, 9, 9, 1, 2, 3, 7, 8, 5, 2, 3}, 4, 3, out);
  EXPECT_EQ(out, (std::vector<int32_t>{7, 8, 5, 2}));  // "2 3" last seen before 7; "5 2 3" never
  prompt_lookup(std::vector<int32_t>{4, 5, 6, 4, 5}, 8, 3, out);
  EXPECT_EQ(out, (std::vector<int32_t>{6, 4, 5}));  // cut at the end of history
  prompt_lookup(std::vector<int32_t>{1, 2, 3}, 4, 3, out);
  EXPECT_TRUE(out.empty());
}

TEST(SpeculativeSampling, OutputFollowsTheTargetWhateverTheDraft) {
  // p and q over 4 tokens, the draft drawn from q (or a fixed guess): the kept-or-replaced token must
  // follow p. Exact frequencies over a fine grid of the two uniforms, no randomness.
  const std::vector<TokenProb> p = {{0, 0.5}, {1, 0.3}, {2, 0.15}, {3, 0.05}};
  const std::vector<TokenProb> q = {{3, 0.4}, {1, 0.3}, {0, 0.2}, {2, 0.1}};
  constexpr int kGrid = 400;
  for (const bool point_mass : {false, true}) {
    std::map<int32_t, double> freq;
    for (const TokenProb& d : point_mass ? std::vector<TokenProb>{{1, 1.0}} : q) {
      for (int i = 0; i < kGrid; ++i)
        for (int j = 0; j < kGrid; ++j) {
          const Verdict v = verify_drafted(p, point_mass ? std::span<const TokenProb>() : std::span<const TokenProb>(q), d.id,
                                           (i + 0.5) / kGrid, (j + 0.5) / kGrid);
          freq[v.token] += d.p / (kGrid * kGrid);
          if (v.accepted) {
            EXPECT_EQ(v.token, d.id);
          }
        }
    }
    for (const TokenProb& t : p) EXPECT_NEAR(freq[t.id], t.p, 2.0 / kGrid) << "token " << t.id << (point_mass ? " (point mass)" : "");
  }
}

TEST(Speculative, SampledTokensFollowThePlainDistribution) {
  // Temperature 1 with penalties: the second and third tokens (the first ones a draft can propose) over
  // many seeds, with and without speculation.
  const auto model = stories();
  auto session = make_session(*model);
  constexpr int kSeeds = 1500;
  for (const SpeculativeMethod method : kMethods) {
    std::map<int32_t, int> plain[2], spec[2];
    int64_t drafted = 0;
    for (int seed = 0; seed < kSeeds; ++seed) {
      GenerateRequest req;
      req.prompt = "Lily saw a cat. Lily saw a dog. Lily saw a";
      req.max_tokens = 3;
      req.ignore_eos = true;
      req.sampling.temperature = 1.0f;
      req.sampling.repeat_penalty = 1.2f;
      req.sampling.frequency_penalty = 0.3f;
      req.sampling.seed = static_cast<uint64_t>(seed);
      const GenerateResult a = session->generate(req);
      req.sampling.seed = static_cast<uint64_t>(seed) + 1000003;  // an independent sample
      const GenerateResult b = session->generate(speculative(req, method, 2));
      ASSERT_EQ(a.tokens.size(), 3u);
      ASSERT_EQ(b.tokens.size(), 3u);
      for (int i = 0; i < 2; ++i) {
        plain[i][a.tokens[static_cast<size_t>(i) + 1]]++;
        spec[i][b.tokens[static_cast<size_t>(i) + 1]]++;
      }
      drafted += b.speculative.drafted;
    }
    const std::string name = speculative_method_name(method);
    EXPECT_GT(drafted, kSeeds / 2) << name;
    expect_same_distribution(plain[0], spec[0], name + ", second token");
    expect_same_distribution(plain[1], spec[1], name + ", third token");
  }
}

TEST(Speculative, ConstrainedOutputEqualsPlain) {
  const auto model = stories();
  grammar::ConstraintFactory formats(grammar::TokenVocabulary::from_tokenizer(model->tokenizer()));
  grammar::OutputFormat f;
  f.kind = grammar::OutputFormat::Kind::JsonSchema;
  f.text = R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 12},
    "friends": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 4}},
    "required": ["name", "friends"], "additionalProperties": false})";
  auto session = make_session(*model);
  GenerateRequest req = greedy("Once upon a time", 200);
  req.ignore_eos = false;
  req.constraint = formats.constraint(f);
  const GenerateResult plain = session->generate(req);
  ASSERT_EQ(plain.finish, FinishReason::Stop) << plain.text;
  for (const SpeculativeMethod method : kMethods) {
    req.constraint = formats.constraint(f);
    const GenerateResult r = session->generate(speculative(req, method));
    EXPECT_EQ(r.tokens, plain.tokens) << speculative_method_name(method);
    EXPECT_EQ(r.text, plain.text);
    EXPECT_EQ(r.finish, FinishReason::Stop);
    EXPECT_TRUE(nlohmann::json::accept(r.text)) << r.text;
    EXPECT_GT(r.speculative.drafted, 0);
  }
}

TEST(Speculative, StopStringsLogprobsAndMaxTokensAsPlain) {
  const auto model = stories();
  auto session = make_session(*model);
  for (const SpeculativeMethod method : kMethods) {
    GenerateRequest req = greedy("Once upon a time", 40);
    req.logprobs = 2;
    const GenerateResult plain = session->generate(req);
    const GenerateResult r = session->generate(speculative(req, method));
    EXPECT_EQ(r.tokens, plain.tokens);
    ASSERT_EQ(r.logprobs.size(), plain.logprobs.size());
    for (size_t i = 0; i < r.logprobs.size(); ++i) {
      EXPECT_EQ(r.logprobs[i].id, plain.logprobs[i].id);
      EXPECT_NEAR(r.logprobs[i].logprob, plain.logprobs[i].logprob, 1e-4);
      ASSERT_EQ(r.logprobs[i].top.size(), 2u);
      EXPECT_EQ(r.logprobs[i].top[0].first, plain.logprobs[i].top[0].first);
    }
    // A stop string inside a kept draft: the text ends before it, nothing after it is counted.
    req.logprobs = -1;
    req.stop = {"park"};
    const GenerateResult stopped_plain = session->generate(req);
    const GenerateResult stopped = session->generate(speculative(req, method));
    EXPECT_EQ(stopped.text, stopped_plain.text);
    EXPECT_EQ(stopped.tokens, stopped_plain.tokens);
    EXPECT_EQ(stopped.finish, FinishReason::Stop);
    // max_tokens caps the draft: exactly that many tokens.
    for (int n : {1, 2, 5, 13}) {
      const GenerateResult capped = session->generate(speculative(greedy("Once upon a time", n), method));
      EXPECT_EQ(capped.timings.generated_tokens, n);
      EXPECT_EQ(capped.tokens.size(), static_cast<size_t>(n));
    }
  }
}

TEST(Speculative, ContextShiftsAsPlain) {
  const auto model = stories();
  for (const SpeculativeMethod method : kMethods) {
    auto plain_session = make_session(*model, cpu::Path::Simd, 48);
    auto session = make_session(*model, cpu::Path::Simd, 48);
    const GenerateRequest req = greedy("Once upon a time", 150);
    const GenerateResult plain = plain_session->generate(req);
    const GenerateResult r = session->generate(speculative(req, method));
    ASSERT_GT(plain.context_shifts, 1);
    EXPECT_EQ(r.context_shifts, plain.context_shifts);
    EXPECT_EQ(r.tokens, plain.tokens) << speculative_method_name(method);
    EXPECT_EQ(session->cached_tokens(), plain_session->cached_tokens());
    EXPECT_GT(r.speculative.accepted, 0);
  }
}

TEST(Speculative, BadParametersAreRefused) {
  const auto model = stories();
  auto session = make_session(*model);
  GenerateRequest req = speculative(greedy("Once", 4), SpeculativeMethod::PromptLookup, 0);
  EXPECT_THROW(session->generate(req), Error);
  req.speculative.k = 4;
  req.speculative.ngram = 0;
  EXPECT_THROW(session->generate(req), Error);
  req = speculative(greedy("Once", 4), SpeculativeMethod::Self);
  req.speculative.draft_layers = static_cast<int>(model->config().n_layers);  // the whole model is no draft
  EXPECT_THROW(session->generate(req), Error);
  EXPECT_THROW(speculative_method_from_name("medusa"), Error);
  // A host-driven backend runs no layer-skip draft: it says so.
  std::vector<int32_t> cached;
  HostDrivenBackend host(64);
  EXPECT_THROW(Generation(model->config(), model->tokenizer(), host, cached, speculative(greedy("Once", 4), SpeculativeMethod::Self)),
               Error);
}

// A host that runs the forward pass itself (WebGPU) verifies the drafts in one call: prompt lookup's
// drafts and the pending token through Logits::All, handed over as logits rows or as each row's argmax.
TEST(Speculative, HostDrivenVerificationEqualsPlain) {
  const auto model = stories();
  const auto n_vocab = static_cast<size_t>(model->config().n_vocab);
  CpuForward forward(*model, CpuOptions{});
  for (const bool argmax : {false, true}) {
    for (const auto& ref : test::load_greedy_references()) {
      HostDrivenBackend host(512);
      std::vector<int32_t> cached;
      Generation g(model->config(), model->tokenizer(), host, cached, speculative(greedy(ref.prompt, 64), SpeculativeMethod::PromptLookup));
      std::vector<float> rows(9 * n_vocab);
      std::vector<int32_t> ids;
      std::string chunk;
      for (;;) {
        const bool drafted = g.draft_pending(8);
        const auto pending = g.pending();
        if (drafted) {
          ASSERT_LE(pending.size(), 9u);  // at most 8 drafts after the pending token
        }
        if (!pending.empty()) forward.forward(pending, g.pending_pos(), drafted ? Logits::All : Logits::Last, rows.data());
        if (!drafted) {
          if (!g.advance(pending.empty() ? nullptr : rows.data(), chunk)) break;
          continue;
        }
        EXPECT_THROW(g.advance(rows.data(), chunk), Error);  // drafts pending: every position's result is needed
        if (!argmax) {
          g.advance_verified(rows.data(), chunk);
          continue;
        }
        ids.clear();
        for (size_t i = 0; i < pending.size(); ++i)
          ids.push_back(static_cast<int32_t>(std::max_element(rows.begin() + i * n_vocab, rows.begin() + (i + 1) * n_vocab) - rows.begin() - i * n_vocab));
        EXPECT_THROW(g.advance_verified_tokens(std::span(ids).first(1), chunk), Error);
        g.advance_verified_tokens(ids, chunk);
      }
      const GenerateResult& r = g.result();
      EXPECT_EQ(r.tokens, ref.ids) << ref.prompt << (argmax ? " (argmax)" : " (rows)");
      EXPECT_GT(r.speculative.drafted, 0);
      EXPECT_GT(r.speculative.accepted, 0);
      EXPECT_EQ(r.speculative.forward_passes, 63 - r.speculative.accepted);
    }
  }
}

TEST(Speculative, HostDrivenArgmaxNeedsAPlainGreedyRequest) {
  // Logprobs need the rows: the argmax alone is refused.
  const auto model = stories();
  HostDrivenBackend host(512);
  std::vector<int32_t> cached;
  GenerateRequest req = speculative(greedy("Once upon a time there was a girl. Once upon a time there was", 8), SpeculativeMethod::PromptLookup);
  req.logprobs = 0;
  Generation g(model->config(), model->tokenizer(), host, cached, req);
  CpuForward forward(*model, CpuOptions{});
  std::vector<float> logits(static_cast<size_t>(model->config().n_vocab));
  std::string chunk;
  forward.forward(g.pending(), g.pending_pos(), Logits::Last, logits.data());
  g.advance(logits.data(), chunk);
  EXPECT_THROW(g.advance_verified_tokens(std::vector<int32_t>{1}, chunk), Error);
}

TEST(Speculative, DraftModelKeepsNearlyEveryDraftOfItsOwnQuantization) {
  // stories260K Q8_0 drafts for its F32 self: nearly every draft is kept, and the output is the F32
  // model's plain greedy output; the draft's cache follows the history across requests (prompt reuse).
  const auto model = stories();
  const Model& draft = draft_model();
  const auto refs = test::load_greedy_references();
  Session bare(*model, std::make_unique<CpuForward>(*model, CpuOptions{}));
  EXPECT_THROW(bare.generate(speculative(greedy("Once", 4), SpeculativeMethod::Draft)), Error);  // no draft model
  auto session = make_session(*model);
  for (const auto& ref : refs) {
    for (int round = 0; round < 2; ++round) {
      const GenerateResult r = session->generate(speculative(greedy(ref.prompt, 64), SpeculativeMethod::Draft));
      EXPECT_EQ(r.tokens, ref.ids) << ref.prompt;
      EXPECT_GT(r.speculative.acceptance_rate(), 0.8);
      EXPECT_LT(r.speculative.forward_passes, 24);
    }
  }
  // Sampled: the distribution test covers the rule; here the output keeps running and counts add up.
  GenerateRequest sampled = speculative(greedy("Lily and her dog", 40), SpeculativeMethod::Draft);
  sampled.sampling.temperature = 1.0f;
  sampled.sampling.seed = 5;
  const GenerateResult r = session->generate(sampled);
  EXPECT_EQ(r.tokens.size(), 40u);
  EXPECT_EQ(r.speculative.forward_passes + r.speculative.accepted, 39);
  ModelConfig other = draft.config();
  other.n_vocab = 1000;
  EXPECT_THROW(session->set_draft_model(other, std::make_unique<CpuForward>(draft, CpuOptions{})), Error);
}
