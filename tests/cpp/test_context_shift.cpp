// Context shift (docs/long-context.md): the rotation back composes with RoPE for every frequency table;
// after a shift the next token's logits equal those of a fresh prefill of the kept tokens at the same
// positions (single-layer models, where a key depends on its token and position only), on the scalar and
// SIMD paths and for global and sliding-window layers; a generation goes on past the context, under
// structured output too, host-driven as on the CPU; the next request reuses only the kept rows; a prompt
// longer than the context is cut to BOS and its end under truncation "auto".
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "backend/cpu/forward.h"
#include "common/error.h"
#include "grammar/output_format.h"
#include "grammar/vocabulary.h"
#include "ops/rope.h"
#include "runtime/context_shift.h"
#include "runtime/generation.h"
#include "runtime/session.h"
#include "synth/model_shapes.h"
#include "one_layer_model.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

std::unique_ptr<Model> stories() { return Model::load(test::build_dir() + "/models/stories260K-f32.gguf"); }

using test::one_layer;

std::vector<int32_t> some_tokens(int64_t n) {
  std::vector<int32_t> t{1};
  for (int64_t i = 1; i < n; ++i) t.push_back(static_cast<int32_t>(3 + (i * 37 + i * i * 11) % 500));
  return t;
}

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

GenerateRequest request(const std::string& prompt, int max_tokens) {
  GenerateRequest r;
  r.prompt = prompt;
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  r.sampling.logit_bias = {{1, -100.0f}, {2, -100.0f}};  // no BOS or EOS: the story never ends
  return r;
}

std::unique_ptr<Backend> cpu_backend(const Model& model, int64_t context, cpu::Path path = cpu::Path::Simd,
                                     TensorType kv_type = TensorType::F32) {
  CpuOptions o;
  o.context_size = context;
  o.path = path;
  o.kv_type = kv_type;
  return std::make_unique<CpuForward>(model, o);
}

}  // namespace

TEST(ContextShift, PlanKeepsTheFirstTokensAndDropsTheOlderHalfOfTheRest) {
  const KvShift s = plan_context_shift(512, 4, 512);
  EXPECT_EQ(s.keep, 4);
  EXPECT_EQ(s.discard, 254);
  EXPECT_EQ(s.end, 512);
  EXPECT_EQ(s.moved(), 254);
  const KvShift odd = plan_context_shift(65, 4, 65);  // the half is rounded up: moved rows never overlap
  EXPECT_EQ(odd.discard, 31);
  EXPECT_EQ(odd.moved(), 30);
  EXPECT_EQ(plan_context_shift(64, 1000, 64).keep, 32);  // a long system prompt keeps half the context at most
  EXPECT_EQ(plan_context_shift(64, 0, 64).discard, 32);
  EXPECT_THROW(plan_context_shift(1, 0, 1), Error);
}

TEST(ContextShift, RotatingBackComposesWithRopeForEveryFrequencyTable) {
  const int64_t dims = 64, pairs = dims / 2;
  const std::vector<float> llama3 = tools::llama3_rope_factors(dims, 500000.0);
  const std::vector<float> longrope = tools::longrope_factors(pairs, true);
  struct Table {
    const char* name;
    float base, linear_scale, attn_factor;
    const float* factors;
  };
  const Table tables[] = {{"plain", 10000, 1, 1, nullptr},
                          {"linear-scaled", 10000, 4, 1, nullptr},
                          {"llama3 factors", 500000, 1, 1, llama3.data()},
                          {"LongRoPE", 10000, 1, 1.19f, longrope.data()}};
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> head(dims), shifted(dims), direct(dims), cos(pairs), sin(pairs);
  for (const Table& t : tables) {
    const std::vector<float> inv_freq = ops::rope_inverse_frequencies(dims, t.base, t.factors, t.linear_scale);
    for (const auto& [p, d] : {std::pair<int64_t, int64_t>{40, 18}, {4095, 2046}, {131000, 65000}}) {
      for (float& x : head) x = normal(rng);
      for (auto pairing : {RopePairing::Interleaved, RopePairing::Halves}) {
        shifted = head;
        ops::rope_cos_sin(p, inv_freq, t.attn_factor, cos.data(), sin.data());
        ops::rope_rotate(shifted.data(), cos.data(), sin.data(), dims, pairing);
        ops::rope_shift_cos_sin(d, inv_freq, cos.data(), sin.data());
        ops::rope_rotate(shifted.data(), cos.data(), sin.data(), dims, pairing);
        direct = head;
        ops::rope_cos_sin(p - d, inv_freq, t.attn_factor, cos.data(), sin.data());
        ops::rope_rotate(direct.data(), cos.data(), sin.data(), dims, pairing);
        // Float cos/sin of angles up to p·θ: a few ulps of the largest angle.
        EXPECT_LT(max_diff(shifted, direct), 2e-5f * max_abs(direct)) << t.name << " p=" << p << " d=" << d;
      }
    }
  }
}

// Prefill `ctx` tokens, shift, take the next token; against a fresh prefill of the kept tokens.
class ShiftedLogits : public testing::TestWithParam<std::tuple<std::string, cpu::Path>> {};

TEST_P(ShiftedLogits, EqualAFreshPrefillOfTheKeptTokensAtTheSamePositions) {
  const auto& [shape, path] = GetParam();
  const auto model = one_layer(shape);
  // gemma2/3's one layer is a sliding-window one; gemma3's rotates with its local base (10,000, not 10^6).
  if (shape == "tiny-gemma3") {
    ASSERT_TRUE(model->config().is_local(0) && model->config().rope_local.base != model->config().rope_base);
  }
  // Past tiny-phi3's original 256 positions, so LongRoPE's long factors and attn_factor are in play.
  const int64_t ctx = 300;
  const std::vector<int32_t> tokens = some_tokens(ctx);
  const int32_t next = 77;
  const KvShift s = plan_context_shift(ctx, kDefaultKeep, ctx);
  const auto n_vocab = static_cast<size_t>(model->config().n_vocab);

  auto shifted = cpu_backend(*model, ctx, path);
  std::vector<float> a(n_vocab), b(n_vocab);
  shifted->forward(tokens, 0, Logits::Last, a.data());
  shifted->shift(s);
  shifted->forward({&next, 1}, s.end - s.discard, Logits::Last, a.data());

  std::vector<int32_t> kept(tokens.begin(), tokens.begin() + s.keep);
  kept.insert(kept.end(), tokens.begin() + s.keep + s.discard, tokens.end());
  kept.push_back(next);
  auto fresh = cpu_backend(*model, ctx, path);
  fresh->forward(kept, 0, Logits::Last, b.data());
  EXPECT_LT(max_diff(a, b), 1e-5f * max_abs(b)) << shape;
}

INSTANTIATE_TEST_SUITE_P(
    OneLayer, ShiftedLogits,
    testing::Combine(testing::Values("tiny-llama", "tiny-qwen2", "tiny-qwen3", "tiny-phi3", "tiny-gemma2", "tiny-gemma3"),
                     testing::Values(cpu::Path::Scalar, cpu::Path::Simd)),
    [](const auto& info) {
      std::string name = std::get<0>(info.param) + (std::get<1>(info.param) == cpu::Path::Scalar ? "_scalar" : "_simd");
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

TEST(ContextShift, AGenerationGoesOnPastTheContextAndOnlyTheBudgetEndsIt) {
  const auto model = stories();
  Session session(*model, cpu_backend(*model, 64));
  const GenerateResult r = session.generate(request("Once upon a time", 300));
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_EQ(r.tokens.size(), 300u);
  EXPECT_EQ(r.timings.generated_tokens, 300);
  // A shift whenever the 64 positions are full and a token is still to come; each frees 30 (4 kept).
  const int64_t first = 64 - r.timings.prompt_tokens + 1;  // the token that finds the context full
  EXPECT_EQ(r.context_shifts, (300 - 1 - first) / 30 + 1);
  EXPECT_GT(r.text.size(), 600u);
}

TEST(ContextShift, TheNextRequestReusesOnlyTheKeptRows) {
  const auto model = stories();
  Session session(*model, cpu_backend(*model, 64));
  session.generate(request("Once upon a time", 100));
  const GenerateResult again = session.generate(request("Once upon a time, there was", 20));
  EXPECT_LE(again.timings.prompt_tokens_reused, kDefaultKeep);
  EXPECT_GT(again.timings.prompt_tokens_reused, 0);
  Session fresh(*model, cpu_backend(*model, 64));
  EXPECT_EQ(again.tokens, fresh.generate(request("Once upon a time, there was", 20)).tokens);
}

TEST(ContextShift, HostDrivenGenerationShiftsTheHostCacheWhenTold) {
  const auto model = stories();
  Session on_cpu(*model, cpu_backend(*model, 48));
  const GenerateResult expected = on_cpu.generate(request("Lily and her dog", 150));
  ASSERT_GT(expected.context_shifts, 2);

  HostDrivenBackend host(48);
  auto gpu_stand_in = cpu_backend(*model, 48);
  std::vector<int32_t> cached;
  Generation g(*model, host, cached, request("Lily and her dog", 150));
  std::vector<float> logits(static_cast<size_t>(model->config().n_vocab));
  std::string chunk;
  int shifts = 0;
  for (bool more = true; more;) {
    const auto pending = g.pending();
    if (const auto s = host.take_shift()) {
      gpu_stand_in->shift(*s);
      ++shifts;
    }
    if (!pending.empty()) gpu_stand_in->forward(pending, g.pending_pos(), Logits::Last, logits.data());
    more = g.advance(pending.empty() ? nullptr : logits.data(), chunk);  // the core applies the bias
  }
  EXPECT_EQ(g.result().tokens, expected.tokens);
  EXPECT_EQ(shifts, expected.context_shifts);
  EXPECT_EQ(g.result().context_shifts, expected.context_shifts);
}

TEST(ContextShift, StructuredOutputGoesOnAcrossShifts) {
  const auto model = stories();
  grammar::ConstraintFactory formats(grammar::TokenVocabulary::from_tokenizer(model->tokenizer()));
  const auto format = grammar::OutputFormat::from_json(nlohmann::ordered_json::parse(R"({"type": "regex", "pattern": "(cat |dog ){50}"})"));
  GenerateRequest r = request("Once upon a time", 400);
  r.constraint = formats.constraint(format);
  Session session(*model, cpu_backend(*model, 32));
  const GenerateResult out = session.generate(r);
  EXPECT_EQ(out.finish, FinishReason::Stop);  // complete
  EXPECT_GT(out.context_shifts, 1);
  ASSERT_EQ(out.text.size(), 200u);
  for (size_t i = 0; i < out.text.size(); i += 4) EXPECT_TRUE(out.text.substr(i, 4) == "cat " || out.text.substr(i, 4) == "dog ") << out.text;
}

TEST(ContextShift, ALongPromptIsCutToBosAndItsEndUnderTruncationAuto) {
  const auto model = stories();
  std::string prompt;
  for (int i = 0; i < 30; ++i) prompt += "Lily went to the park with her dog and they played. ";
  GenerateRequest r = request(prompt, 10);
  Session session(*model, cpu_backend(*model, 64));
  try {
    session.generate(r);
    FAIL() << "a prompt longer than the context must be refused without truncation";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncation"), std::string::npos) << e.what();
  }

  r.truncate_prompt = true;
  const GenerateResult cut = session.generate(r);
  const std::vector<int32_t> all = model->tokenizer().encode(prompt, true);
  EXPECT_EQ(cut.timings.prompt_tokens, 64 - 10);  // room for max_tokens
  EXPECT_EQ(cut.truncated_prompt_tokens, static_cast<int64_t>(all.size()) - (64 - 10));
  // The same as the tokens BOS + the prompt's end given as they are.
  GenerateRequest tail = request(prompt, 10);
  tail.prompt_tokens = {all.front()};
  tail.prompt_tokens.insert(tail.prompt_tokens.end(), all.end() - (64 - 10 - 1), all.end());
  Session fresh(*model, cpu_backend(*model, 64));
  EXPECT_EQ(cut.tokens, fresh.generate(tail).tokens);
}
