// KV pages: a session's cache copied out as checksummed pages and restored into a new session gives the
// same next tokens as the session that computed it, without prefilling again; a damaged page, a page of
// another cache type, of other tokens or out of order is refused and leaves the cache as it was.
#include <gtest/gtest.h>

#include "backend/cpu/forward.h"
#include "common/error.h"
#include "runtime/kv_pages.h"
#include "runtime/session.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

std::unique_ptr<Session> session(const Model& model, TensorType kv = TensorType::F16) {
  CpuOptions o;
  o.kv_type = kv;
  return std::make_unique<Session>(model, std::make_unique<CpuForward>(model, o));
}

GenerateRequest greedy(const Model& model, const std::string& prompt, int max_tokens) {
  GenerateRequest r;
  r.prompt = prompt;
  r.prompt_tokens = model.tokenizer().encode(prompt, true);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  return r;
}

void expect_refused(Session& s, std::span<const uint8_t> page, std::span<const int32_t> prompt, const std::string& why) {
  const std::vector<int32_t> before = s.cached_tokens();
  try {
    s.import_kv_page(page, prompt);
    FAIL() << "accepted a page that should be refused: " << why;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
  EXPECT_LE(s.cached_tokens().size(), before.size());
}

}  // namespace

TEST(KvPages, ARestoredCacheAnswersAsTheOneThatComputedIt) {
  const auto model = Model::load(test::build_dir() + "/models/stories260K-f32.gguf");
  const std::string story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
  auto first = session(*model);
  const GenerateResult told = first->generate(greedy(*model, story, 300));  // 300+ positions: two pages
  const std::vector<int32_t> history = first->cached_tokens();
  ASSERT_GT(history.size(), 256u);
  const auto page0 = first->export_kv_page(0, 256);
  const auto page1 = first->export_kv_page(256, static_cast<int64_t>(history.size()));

  // The next turn: the history plus more text, answered by the first session and by a restored one.
  GenerateRequest next = greedy(*model, story, 24);
  next.prompt_tokens = history;
  const auto more = model->tokenizer().encode(" The end.", false);
  next.prompt_tokens.insert(next.prompt_tokens.end(), more.begin(), more.end());
  const GenerateResult expected = first->generate(next);

  auto restored = session(*model);
  EXPECT_EQ(restored->import_kv_page(page0, next.prompt_tokens), 256);
  EXPECT_EQ(restored->import_kv_page(page1, next.prompt_tokens), static_cast<int64_t>(history.size()));
  const GenerateResult got = restored->generate(next);
  EXPECT_EQ(got.tokens, expected.tokens);
  EXPECT_EQ(got.timings.prompt_tokens_reused, static_cast<int64_t>(history.size()));
  (void)told;

  // A prompt that parts from the stored history inside the second page: the shared part of that page is
  // restored, and the answer is a fresh session's.
  GenerateRequest parted = next;
  parted.prompt_tokens[300] = parted.prompt_tokens[300] == 5 ? 6 : 5;
  auto partial = session(*model);
  EXPECT_EQ(partial->import_kv_page(page0, parted.prompt_tokens), 256);
  EXPECT_EQ(partial->import_kv_page(page1, parted.prompt_tokens), 300);
  EXPECT_EQ(partial->generate(parted).tokens, session(*model)->generate(parted).tokens);
}

TEST(KvPages, RefusesWhatItCannotUse) {
  const auto model = Model::load(test::build_dir() + "/models/stories260K-f32.gguf");
  auto first = session(*model);
  first->generate(greedy(*model, "Once upon a time", 280));
  const std::vector<int32_t> history = first->cached_tokens();
  const auto page0 = first->export_kv_page(0, 256);
  const auto page1 = first->export_kv_page(256, static_cast<int64_t>(history.size()));

  auto s = session(*model);
  auto damaged = page0;
  damaged[damaged.size() / 2] ^= 0x10;
  expect_refused(*s, damaged, history, "checksum");
  expect_refused(*s, std::span(page0).first(page0.size() - 9), history, "truncated");
  expect_refused(*s, page1, history, "restore pages in order");
  std::vector<int32_t> other = history;
  other[0] = other[0] == 5 ? 6 : 5;
  expect_refused(*s, page0, other, "other tokens");
  expect_refused(*session(*model, TensorType::Q8_0), page0, history, "another model or cache type");
  const std::vector<uint8_t> junk(64, 7);
  expect_refused(*s, junk, history, "not a KV page");
  EXPECT_TRUE(s->cached_tokens().empty());
  // A prompt that parts from the page at position 10 gets its first 10 positions.
  std::vector<int32_t> parted = history;
  parted[10] = parted[10] == 5 ? 6 : 5;
  EXPECT_EQ(session(*model)->import_kv_page(page0, parted), 10);
  // After the refusals the good pages still restore.
  EXPECT_EQ(s->import_kv_page(page0, history), 256);
  EXPECT_EQ(s->import_kv_page(page1, history), static_cast<int64_t>(history.size()));
}
