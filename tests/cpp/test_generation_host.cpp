// The host-driven step (pending → the host's forward pass → advance), as the WebGPU host uses it: the
// same text and tokens as step(), greedy tokens chosen by the host, log-probabilities, and a
// TokenConstraint that masks, accepts and completes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "backend/cpu/forward.h"
#include "runtime/generation.h"
#include "runtime/session.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

std::unique_ptr<Model> stories() { return Model::load(test::build_dir() + "/models/stories260K-f32.gguf"); }

std::unique_ptr<Backend> cpu_backend(const Model& model) { return std::make_unique<CpuForward>(model, CpuOptions{}); }

GenerateRequest request(float temperature, int max_tokens) {
  GenerateRequest req;
  req.prompt = "Once upon a time";
  req.max_tokens = max_tokens;
  req.sampling.temperature = temperature;
  req.sampling.seed = 5;
  return req;
}

// Drives `g` as a host would: runs `forward` (a CpuForward standing in for the GPU) over pending().
std::string drive(Generation& g, Backend& forward, const Model& model, bool host_argmax) {
  std::vector<float> logits(static_cast<size_t>(model.config().n_vocab));
  std::string text, chunk;
  for (;;) {
    const auto pending = g.pending();
    if (!pending.empty()) forward.forward(pending, g.pending_pos(), Logits::Last, logits.data());
    bool more;
    if (host_argmax && !pending.empty())
      more = g.advance_with_token(static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()), chunk);
    else
      more = g.advance(pending.empty() ? nullptr : logits.data(), chunk);
    if (!more) return text;
    text += chunk;
  }
}

// Allows only the tokens of `allowed_ids` and EOS once `length` tokens are taken; complete at `length`.
class CountingConstraint : public TokenConstraint {
 public:
  CountingConstraint(std::vector<int32_t> allowed_ids, int32_t eos, size_t length) : ids_(std::move(allowed_ids)), eos_(eos), length_(length) {}
  void allowed_tokens(std::span<uint32_t> words) override {
    std::fill(words.begin(), words.end(), 0u);
    auto allow = [&](int32_t id) { words[static_cast<size_t>(id) / 32] |= 1u << (id % 32); };
    if (taken_.size() < length_) for (const int32_t id : ids_) allow(id);
    else allow(eos_);
  }
  bool accept(int32_t token) override {
    if (std::find(ids_.begin(), ids_.end(), token) == ids_.end() || taken_.size() >= length_) return false;
    taken_.push_back(token);
    return true;
  }
  bool is_complete() const override { return taken_.size() >= length_; }
  std::vector<int32_t> taken_;

 private:
  std::vector<int32_t> ids_;
  int32_t eos_;
  size_t length_;
};

}  // namespace

TEST(GenerationHost, AdvanceWithHostLogitsGivesWhatStepGives) {
  const auto model = stories();
  auto stepped_backend = cpu_backend(*model);
  auto gpu_stand_in = cpu_backend(*model);
  HostDrivenBackend host(512);
  std::vector<int32_t> cached_a, cached_b;
  for (const float temperature : {0.0f, 0.8f}) {
    Generation stepped(*model, *stepped_backend, cached_a, request(temperature, 24));
    std::string chunk, expected;
    while (stepped.step(chunk)) expected += chunk;
    Generation driven(model->config(), model->tokenizer(), host, cached_b, request(temperature, 24));
    EXPECT_EQ(drive(driven, *gpu_stand_in, *model, false), expected);
    EXPECT_EQ(driven.result().tokens, stepped.result().tokens);
    EXPECT_EQ(driven.result().finish, stepped.result().finish);
  }
}

TEST(GenerationHost, HostArgmaxOnlyWhenNothingElseIsNeeded) {
  const auto model = stories();
  auto reference = cpu_backend(*model);
  auto gpu_stand_in = cpu_backend(*model);
  HostDrivenBackend host(512);
  std::vector<int32_t> cached_a, cached_b;
  Generation stepped(*model, *reference, cached_a, request(0, 20));
  std::string chunk, expected;
  while (stepped.step(chunk)) expected += chunk;
  Generation greedy(model->config(), model->tokenizer(), host, cached_b, request(0, 20));
  ASSERT_TRUE(greedy.host_can_sample());
  EXPECT_EQ(drive(greedy, *gpu_stand_in, *model, true), expected);

  std::vector<int32_t> cached_c;
  GenerateRequest penalized = request(0, 4);
  penalized.sampling.repeat_penalty = 1.1f;
  Generation needs_logits(model->config(), model->tokenizer(), host, cached_c, penalized);
  EXPECT_FALSE(needs_logits.host_can_sample());
  EXPECT_THROW(needs_logits.advance_with_token(1, chunk), Error);
  EXPECT_THROW(needs_logits.step(chunk), Error);  // a host-driven backend has no forward pass of its own
}

TEST(GenerationHost, LogprobsOfEveryTokenWithSortedAlternatives) {
  const auto model = stories();
  auto backend = cpu_backend(*model);
  std::vector<int32_t> cached;
  GenerateRequest req = request(0.8f, 12);
  req.logprobs = 3;
  Generation g(*model, *backend, cached, req);
  std::string chunk;
  while (g.step(chunk)) EXPECT_LE(g.last_step_tokens(), 1u);
  const GenerateResult& r = g.result();
  ASSERT_EQ(r.logprobs.size(), r.tokens.size());
  for (size_t i = 0; i < r.tokens.size(); ++i) {
    const TokenLogprob& lp = r.logprobs[i];
    EXPECT_EQ(lp.id, r.tokens[i]);
    EXPECT_LE(lp.logprob, 0.0f);
    ASSERT_EQ(lp.top.size(), 3u);
    EXPECT_GE(lp.top[0].second, lp.top[1].second);
    EXPECT_GE(lp.top[1].second, lp.top[2].second);
    EXPECT_GE(lp.top[0].second, lp.logprob);
    double mass = 0;
    for (const auto& [id, p] : lp.top) mass += std::exp(p);
    EXPECT_LE(mass, 1.0 + 1e-5);
  }
  EXPECT_THROW(token_logprob(std::vector<float>(4).data(), 4, 0, 21), Error);
}

TEST(GenerationHost, ConstraintMasksAcceptsAndCompletes) {
  const auto model = stories();
  auto backend = cpu_backend(*model);
  std::vector<int32_t> cached;
  const std::vector<int32_t> letters = model->tokenizer().encode("abc", false);
  auto constraint = std::make_shared<CountingConstraint>(letters, model->tokenizer().vocab().eos, 5);
  GenerateRequest req = request(0.8f, 50);
  req.constraint = constraint;
  Generation g(*model, *backend, cached, req);
  EXPECT_FALSE(g.host_can_sample());
  std::string chunk;
  while (g.step(chunk)) {}
  EXPECT_EQ(g.result().finish, FinishReason::Stop);
  EXPECT_EQ(g.result().tokens, constraint->taken_);
  ASSERT_EQ(g.result().tokens.size(), 5u);
  for (const int32_t id : g.result().tokens) EXPECT_NE(std::find(letters.begin(), letters.end(), id), letters.end());
}
