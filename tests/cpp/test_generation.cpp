// Generation, the stepwise generator behind the C ABI, gives what Session::generate gives (text, tokens,
// finish reason, prompt reuse) and behaves step by step: the finishing step carries the held-back text,
// nothing comes after it, an abort ends it.
#include <gtest/gtest.h>

#include "common/error.h"
#include "backend/cpu/forward.h"
#include "runtime/generation.h"
#include "runtime/session.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

std::unique_ptr<Model> stories() { return Model::load(test::build_dir() + "/models/stories260K-f32.gguf"); }

std::unique_ptr<Backend> cpu_backend(const Model& model, int64_t context_size = 0) {
  CpuOptions o;
  o.context_size = context_size;
  return std::make_unique<CpuForward>(model, o);
}

GenerateRequest request(const std::string& prompt, int max_tokens, std::vector<std::string> stop = {}) {
  GenerateRequest req;
  req.prompt = prompt;
  req.max_tokens = max_tokens;
  req.sampling.temperature = 0.7f;
  req.sampling.seed = 11;
  req.stop = std::move(stop);
  return req;
}

// Steps to the end; returns the chunks.
std::vector<std::string> run(Generation& g) {
  std::vector<std::string> chunks;
  std::string chunk;
  while (g.step(chunk)) chunks.push_back(chunk);
  return chunks;
}

std::string joined(const std::vector<std::string>& chunks) {
  std::string all;
  for (const auto& c : chunks) all += c;
  return all;
}

}  // namespace

TEST(Generation, GivesWhatSessionGenerateGives) {
  const auto model = stories();
  Session session(*model, cpu_backend(*model));
  auto backend = cpu_backend(*model);
  std::vector<int32_t> cached;
  GenerateRequest stopped = request("Lily and her dog", 64, {"play"});
  stopped.sampling.temperature = 0;  // greedy: ", Max, who lived in a big house. They liked to play"
  const std::vector<GenerateRequest> requests = {request("Once upon a time", 64), stopped,
                                                 request("Lily and her dog went", 40)};  // extends the second prompt
  std::vector<GenerateResult> results;
  for (const auto& req : requests) {
    const GenerateResult expected = session.generate(req);
    Generation g(*model, *backend, cached, req);
    const auto chunks = run(g);
    const GenerateResult& got = g.result();
    EXPECT_EQ(joined(chunks), expected.text);
    EXPECT_EQ(got.text, expected.text);
    EXPECT_EQ(got.tokens, expected.tokens);
    EXPECT_EQ(got.finish, expected.finish);
    EXPECT_EQ(got.timings.prompt_tokens_reused, expected.timings.prompt_tokens_reused);
    EXPECT_EQ(got.timings.generated_tokens, expected.timings.generated_tokens);
    results.push_back(got);
  }
  EXPECT_EQ(results[1].finish, FinishReason::Stop);
  EXPECT_GE(results[2].timings.prompt_tokens_reused, 5);
}

TEST(Generation, EndsAtContextFullLikeSession) {
  const auto model = stories();
  Session session(*model, cpu_backend(*model, 16));
  auto backend = cpu_backend(*model, 16);
  std::vector<int32_t> cached;
  const auto req = request("Once upon a time", 100);
  const GenerateResult expected = session.generate(req);
  Generation g(*model, *backend, cached, req);
  run(g);
  EXPECT_EQ(g.result().finish, FinishReason::Length);
  EXPECT_EQ(g.result().tokens, expected.tokens);
}

TEST(Generation, NothingFollowsTheFinishingStep) {
  const auto model = stories();
  auto backend = cpu_backend(*model);
  std::vector<int32_t> cached;
  Generation g(*model, *backend, cached, request("Once upon a time", 3));
  std::string chunk;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(g.step(chunk));
  EXPECT_TRUE(g.finished());
  EXPECT_EQ(g.result().timings.generated_tokens, 3);
  EXPECT_FALSE(g.step(chunk));
  EXPECT_EQ(chunk, "");
}

TEST(Generation, ZeroTokensFinishesAtTheFirstStep) {
  const auto model = stories();
  auto backend = cpu_backend(*model);
  std::vector<int32_t> cached;
  Generation g(*model, *backend, cached, request("Once upon a time", 0));
  std::string chunk;
  EXPECT_TRUE(g.step(chunk));
  EXPECT_EQ(chunk, "");
  EXPECT_TRUE(g.finished());
  EXPECT_EQ(g.result().finish, FinishReason::Length);
  EXPECT_FALSE(g.step(chunk));
}

TEST(Generation, AbortEndsItAndTheCacheServesTheNextOne) {
  const auto model = stories();
  auto backend = cpu_backend(*model);
  std::vector<int32_t> cached;
  {
    Generation g(*model, *backend, cached, request("Once upon a time", 64));
    std::string chunk;
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(g.step(chunk));
    g.abort();
    EXPECT_EQ(g.result().finish, FinishReason::Aborted);
    EXPECT_EQ(g.result().timings.generated_tokens, 5);
    EXPECT_FALSE(g.step(chunk));
  }
  Generation next(*model, *backend, cached, request("Once upon a time", 8));
  run(next);
  EXPECT_GT(next.result().timings.prompt_tokens_reused, 0);
  EXPECT_EQ(next.result().finish, FinishReason::Length);
}

TEST(Generation, RejectsInvalidRequestsAtOnce) {
  const auto model = stories();
  auto backend = cpu_backend(*model, 8);
  std::vector<int32_t> cached;
  EXPECT_THROW(Generation(*model, *backend, cached, request("", 4)), Error);
  EXPECT_THROW(Generation(*model, *backend, cached, request("Once", -1)), Error);
  EXPECT_THROW(Generation(*model, *backend, cached, request("Once upon a time there was a little girl", 4)), Error);
}
