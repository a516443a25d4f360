// Paged KV (runtime/kv_pager.h): rows paged out at a shift come back as they were (bytes equal where they
// return to their own position; a fresh prefill's rows where they land elsewhere, on one-layer models); a
// prompt longer than the window runs through it in pieces; a store that fails, fills up or damages pages
// leaves a plain context shift's answer with a warning; the recall brings back the pages the prompt's end
// names.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "backend/cpu/forward.h"
#include "common/error.h"
#include "one_layer_model.h"
#include "runtime/context_shift.h"
#include "runtime/generation.h"
#include "runtime/kv_pager.h"
#include "runtime/session.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

std::unique_ptr<Model> stories() { return Model::load(test::build_dir() + "/models/stories260K-f32.gguf"); }

std::unique_ptr<CpuForward> cpu_backend(const Model& model, int64_t context, TensorType kv = TensorType::F32) {
  CpuOptions o;
  o.context_size = context;
  o.kv_type = kv;
  return std::make_unique<CpuForward>(model, o);
}

// BOS, then ids in [3, 303): ids from 400 on are free to mark a span no other holds.
std::vector<int32_t> some_tokens(int64_t n) {
  std::vector<int32_t> t{1};
  for (int64_t i = 1; i < n; ++i) t.push_back(static_cast<int32_t>(3 + (i * 37 + i * i * 11) % 300));
  return t;
}

std::vector<uint8_t> rows(const Backend& b, int64_t start, int64_t count) {
  std::vector<uint8_t> out(b.kv_layout().bytes_per_position() * static_cast<size_t>(count));
  b.read_kv(start, count, out.data());
  return out;
}

std::vector<float> as_floats(const std::vector<uint8_t>& bytes) {
  std::vector<float> f(bytes.size() / 4);
  std::memcpy(f.data(), bytes.data(), f.size() * 4);
  return f;
}

// Store faults: every put refused, or every page handed back with one byte flipped.
class RefusingStore final : public KvPageStore {
 public:
  void put(const std::string&, std::vector<uint8_t>) override { throw Error("the disk is unavailable"); }
  std::vector<uint8_t> get(const std::string& name) override { throw Error("no KV page " + name); }
  void remove(const std::string&) override {}
};

class DamagingStore final : public KvPageStore {
 public:
  void put(const std::string& name, std::vector<uint8_t> bytes) override { inner_.put(name, std::move(bytes)); }
  std::vector<uint8_t> get(const std::string& name) override {
    std::vector<uint8_t> bytes = inner_.get(name);
    bytes[bytes.size() / 2] ^= 0x40;
    return bytes;
  }
  void remove(const std::string& name) override { inner_.remove(name); }

 private:
  MemoryKvPageStore inner_;
};

// A store that keeps every page it is given, in order (what a run wrote, to compare two runs).
class RecordingStore final : public KvPageStore {
 public:
  explicit RecordingStore(std::vector<std::vector<uint8_t>>& log) : log_(log) {}
  void put(const std::string& name, std::vector<uint8_t> bytes) override {
    log_.push_back(bytes);
    inner_.put(name, std::move(bytes));
  }
  std::vector<uint8_t> get(const std::string& name) override { return inner_.get(name); }
  void remove(const std::string& name) override { inner_.remove(name); }

 private:
  std::vector<std::vector<uint8_t>>& log_;
  MemoryKvPageStore inner_;
};

GenerateRequest greedy(std::vector<int32_t> prompt, int max_tokens) {
  GenerateRequest r;
  r.prompt = "tokens";
  r.prompt_tokens = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  r.sampling.logit_bias = {{1, -100.0f}, {2, -100.0f}};  // no BOS or EOS: the text goes on
  return r;
}

GenerateResult paged(const Model& model, std::unique_ptr<KvPageStore> store, int64_t recall, const GenerateRequest& r) {
  Session session(model, cpu_backend(model, 64));
  session.set_kv_pager(std::make_unique<KvPager>(std::move(store), KvPagerOptions{512, recall}));
  return session.generate(r);
}

}  // namespace

TEST(KvPager, PagedOutRowsComeBackAsTheyWere) {
  for (TensorType kv : {TensorType::F32, TensorType::F16, TensorType::Q8_0}) {
    const auto model = stories();
    auto backend = cpu_backend(*model, 512, kv);
    const std::vector<int32_t> tokens = some_tokens(512);
    std::vector<float> logits(static_cast<size_t>(model->config().n_vocab));
    backend->forward(tokens, 0, Logits::Last, logits.data());
    const KvShift s{4, 300, 512};  // 300 positions out: two pages, the second partial
    const std::vector<uint8_t> before = rows(*backend, s.keep, s.discard);
    KvPager pager(std::make_unique<MemoryKvPageStore>(), {4096, 0});
    pager.page_out(*backend, tokens, s);
    backend->shift(s);
    ASSERT_EQ(pager.pages().size(), 2u);
    EXPECT_EQ(pager.stats().pages_out, 2);
    // Back at their own positions (nothing rotates): the same bytes.
    const auto first = pager.recall(0, *backend, s.keep);
    const auto second = pager.recall(0, *backend, s.keep + 256);
    EXPECT_EQ(first.size() + second.size(), static_cast<size_t>(s.discard));
    EXPECT_EQ(rows(*backend, s.keep, s.discard), before) << type_traits(kv).name;
    EXPECT_EQ(pager.stats().pages_in, 2);
    EXPECT_GT(pager.stats().bytes_in, 0);
    EXPECT_TRUE(pager.pages().empty());
  }
}

TEST(KvPager, APageBackElsewhereHoldsTheRowsAFreshPrefillComputesThere) {
  // One layer: a key depends only on its token and position, so a page rotated to where it lands equals
  // the rows of its tokens prefilled at those positions.
  const auto model = test::one_layer("tiny-llama");
  const std::vector<int32_t> tokens = some_tokens(300);
  std::vector<float> logits(static_cast<size_t>(model->config().n_vocab));
  auto backend = cpu_backend(*model, 512);
  backend->forward(tokens, 0, Logits::Last, logits.data());
  KvPager pager(std::make_unique<MemoryKvPageStore>(), {4096, 0});
  pager.page_out(*backend, tokens, KvShift{40, 100, 300});  // positions [40, 140) as one page
  const int64_t at = 400;
  const std::vector<int32_t> back = pager.recall(0, *backend, at);
  ASSERT_EQ(back, std::vector<int32_t>(tokens.begin() + 40, tokens.begin() + 140));

  auto fresh = cpu_backend(*model, 512);
  fresh->forward(tokens, 0, Logits::Last, logits.data());  // the same rows before `at`...
  fresh->forward(back, at, Logits::Last, logits.data());  // ...and the page's tokens computed at `at`
  const std::vector<float> got = as_floats(rows(*backend, at, 100)), want = as_floats(rows(*fresh, at, 100));
  float diff = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff = std::max(diff, std::fabs(got[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  EXPECT_LT(diff, 1e-5f * scale);
}

TEST(KvPager, APromptLongerThanTheWindowRunsThroughItAndPagesOut) {
  const auto model = stories();
  const GenerateResult r = paged(*model, std::make_unique<MemoryKvPageStore>(), 0, greedy(some_tokens(300), 40));
  EXPECT_EQ(r.tokens.size(), 40u);
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_GT(r.context_shifts, 5);
  EXPECT_GT(r.kv_pages.pages_out, 5);
  EXPECT_EQ(r.kv_pages.pages_in, 0);
  EXPECT_TRUE(r.warnings.empty());

  // Without a pager such a prompt does not fit the window.
  Session plain(*model, cpu_backend(*model, 64));
  EXPECT_THROW(plain.generate(greedy(some_tokens(300), 40)), Error);
  // Paging out never changes the window: a store that refuses every page gives the same tokens, warned.
  const GenerateResult refused = paged(*model, std::make_unique<RefusingStore>(), 0, greedy(some_tokens(300), 40));
  EXPECT_EQ(refused.tokens, r.tokens);
  EXPECT_EQ(refused.kv_pages.pages_out, 0);
  EXPECT_EQ(refused.kv_pages.failures, r.kv_pages.pages_out);
  ASSERT_FALSE(refused.warnings.empty());
  EXPECT_NE(refused.warnings[0].find("the disk is unavailable"), std::string::npos) << refused.warnings[0];
  EXPECT_NE(refused.warnings[0].find("plain context shift"), std::string::npos) << refused.warnings[0];
}

// A host-driven backend (WebGPU) keeps its rows on the host: the pager waits at each shift for the rows
// the host reads back before running it. A CPU backend stands in for the GPU here.
TEST(KvPager, AHostDrivenShiftPagesOutTheRowsItsHostReadsBack) {
  const auto model = stories();
  std::vector<std::vector<uint8_t>> cpu_pages, host_pages;
  const GenerateRequest r = greedy(some_tokens(300), 40);
  const GenerateResult on_cpu = paged(*model, std::make_unique<RecordingStore>(cpu_pages), 0, r);
  ASSERT_GT(on_cpu.kv_pages.pages_out, 5);

  for (const bool host_fails : {false, true}) {
    host_pages.clear();
    auto gpu_stand_in = cpu_backend(*model, 64);
    HostDrivenBackend host(64, gpu_stand_in->kv_layout());
    KvPager pager(std::make_unique<RecordingStore>(host_pages), {512, 0});
    std::vector<int32_t> cached;
    Generation g(model->config(), model->tokenizer(), host, cached, r, &pager);
    std::vector<float> logits(static_cast<size_t>(model->config().n_vocab));
    std::string chunk;
    for (bool more = true; more;) {
      const auto pending = g.pending();
      if (const auto s = host.take_shift()) {
        ASSERT_EQ(pager.awaiting().start, s->keep);
        ASSERT_EQ(pager.awaiting().count, s->discard);
        if (host_fails) {
          pager.complete_page_out(host, "the GPU was lost");
        } else {
          host.stage_rows(s->keep, s->discard, rows(*gpu_stand_in, s->keep, s->discard));
          pager.complete_page_out(host);
          host.clear_staged();
        }
        gpu_stand_in->shift(*s);
      }
      if (!pending.empty()) gpu_stand_in->forward(pending, g.pending_pos(), Logits::Last, logits.data());
      more = g.advance(pending.empty() ? nullptr : logits.data(), chunk);
    }
    EXPECT_EQ(g.result().tokens, on_cpu.tokens);  // paging, or failing to, never changes the window
    if (host_fails) {
      EXPECT_TRUE(host_pages.empty());
      EXPECT_EQ(g.result().kv_pages.failures, on_cpu.kv_pages.pages_out);
      ASSERT_FALSE(g.result().warnings.empty());
      EXPECT_NE(g.result().warnings[0].find("the GPU was lost"), std::string::npos) << g.result().warnings[0];
    } else {
      EXPECT_EQ(host_pages, cpu_pages);  // the same pages, byte for byte
      EXPECT_EQ(g.result().kv_pages.pages_out, on_cpu.kv_pages.pages_out);
      EXPECT_TRUE(g.result().warnings.empty());
    }
  }
}

TEST(KvPager, AHostDrivenBackendHandsImportedRowsToItsHost) {
  const auto model = stories();
  auto cpu = cpu_backend(*model, 64);
  std::vector<float> logits(static_cast<size_t>(model->config().n_vocab));
  const std::vector<int32_t> tokens = some_tokens(40);
  cpu->forward(tokens, 0, Logits::Last, logits.data());
  const std::vector<uint8_t> want = rows(*cpu, 8, 20);
  HostDrivenBackend host(64, cpu->kv_layout());
  EXPECT_THROW(rows(host, 8, 20), Error);  // nothing read back yet
  host.stage_rows(0, 40, rows(*cpu, 0, 40));
  EXPECT_EQ(rows(host, 8, 20), want);
  host.write_kv(30, 20, want.data());
  const auto w = host.take_write();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->start, 30);
  EXPECT_EQ(w->count, 20);
  EXPECT_EQ(w->rows, want);
  EXPECT_FALSE(host.take_write());
  EXPECT_THROW(host.stage_rows(0, 40, want), Error);  // the wrong size
  EXPECT_THROW(HostDrivenBackend(64).write_kv(0, 1, want.data()), Error);  // no layout: the host's alone
}

TEST(KvPager, AFullOrDamagingStoreLeavesAValidGenerationWithAWarning) {
  const auto model = stories();
  const GenerateRequest r = greedy(some_tokens(300), 40);
  const GenerateResult full = paged(*model, std::make_unique<MemoryKvPageStore>(50000), 32, r);  // room for one page of ~30 positions
  EXPECT_EQ(full.tokens.size(), 40u);
  EXPECT_GE(full.kv_pages.pages_out, 1);
  EXPECT_GT(full.kv_pages.failures, 0);
  EXPECT_FALSE(full.warnings.empty());

  const GenerateResult damaged = paged(*model, std::make_unique<DamagingStore>(), 32, r);
  EXPECT_EQ(damaged.tokens.size(), 40u);
  EXPECT_EQ(damaged.kv_pages.pages_in, 0);
  EXPECT_GT(damaged.kv_pages.failures, 0);
  ASSERT_FALSE(damaged.warnings.empty());
  EXPECT_NE(damaged.warnings.back().find("damaged"), std::string::npos) << damaged.warnings.back();
}

TEST(KvPager, TheRecallBringsBackThePagesThePromptsEndNames) {
  const auto model = stories();
  auto backend = cpu_backend(*model, 512);
  // Three pages of filler, the second of which holds tokens 400..431 that nothing else holds.
  std::vector<int32_t> tokens = some_tokens(512);
  for (int32_t i = 0; i < 32; ++i) tokens[300 + static_cast<size_t>(i)] = 400 + i;
  std::vector<float> logits(static_cast<size_t>(model->config().n_vocab));
  backend->forward(tokens, 0, Logits::Last, logits.data());
  KvPager pager(std::make_unique<MemoryKvPageStore>(), {4096, 256});
  pager.page_out(*backend, tokens, KvShift{4, 508, 512});  // [4, 260), [260, 512)
  ASSERT_EQ(pager.pages().size(), 2u);
  std::vector<int32_t> window(tokens.begin(), tokens.begin() + 4);
  const std::vector<int32_t> query{410, 411, tokens[5], tokens[300 + 40]};  // the 2 rare ones decide
  EXPECT_EQ(pager.recall_for(query, *backend, window, 1000, 4), 252);
  ASSERT_EQ(window.size(), 256u);
  EXPECT_EQ(std::vector<int32_t>(window.begin() + 4, window.end()), std::vector<int32_t>(tokens.begin() + 260, tokens.end()));
  EXPECT_EQ(pager.pages().size(), 1u);
  EXPECT_EQ(pager.stats().pages_in, 1);
  // Nothing recalled beyond the room given, nor for a query no page holds.
  EXPECT_EQ(pager.recall_for(query, *backend, window, 100, 4), 0);
  EXPECT_EQ(pager.recall_for({{450, 451}}, *backend, window, 1000, 4), 0);
}

TEST(KvPager, RecalledPagesGoAfterTheKeptRowsAndTheWindowMovesUpExactly) {
  // One layer: every row of the window after the recall equals a fresh prefill of the tokens in their new
  // order (sinks, the recalled page, the rest of the window).
  const auto model = test::one_layer("tiny-llama");
  const std::vector<int32_t> tokens = some_tokens(300);
  std::vector<float> logits(static_cast<size_t>(model->config().n_vocab));
  auto backend = cpu_backend(*model, 512);
  backend->forward(tokens, 0, Logits::Last, logits.data());
  KvPager pager(std::make_unique<MemoryKvPageStore>(), {4096, 256});
  const KvShift s{40, 130, 300};  // [40, 170) out as one page
  pager.page_out(*backend, tokens, s);
  backend->shift(s);
  std::vector<int32_t> window(tokens.begin(), tokens.begin() + 40);
  window.insert(window.end(), tokens.begin() + 170, tokens.end());
  const std::vector<int32_t> query(tokens.begin() + 50, tokens.begin() + 60);
  ASSERT_EQ(pager.recall_for(query, *backend, window, 300, 4), 130);
  std::vector<int32_t> order(tokens.begin(), tokens.begin() + 4);
  order.insert(order.end(), tokens.begin() + 40, tokens.begin() + 170);
  order.insert(order.end(), tokens.begin() + 4, tokens.begin() + 40);
  order.insert(order.end(), tokens.begin() + 170, tokens.end());
  ASSERT_EQ(window, order);

  auto fresh = cpu_backend(*model, 512);
  fresh->forward(order, 0, Logits::Last, logits.data());
  const std::vector<float> got = as_floats(rows(*backend, 0, 300)), want = as_floats(rows(*fresh, 0, 300));
  float diff = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff = std::max(diff, std::fabs(got[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  EXPECT_LT(diff, 1e-5f * scale);
}

TEST(KvPager, ALongPromptRecallsBeforeItsLastPiece) {
  const auto model = stories();
  std::vector<int32_t> prompt = some_tokens(300);
  for (int32_t i = 0; i < 16; ++i) prompt[40 + static_cast<size_t>(i)] = 400 + i;  // early, paged out
  for (int32_t i = 0; i < 8; ++i) prompt[290 + static_cast<size_t>(i)] = 400 + i;  // named again at the end
  const GenerateResult r = paged(*model, std::make_unique<MemoryKvPageStore>(), 32, greedy(prompt, 20));
  EXPECT_EQ(r.tokens.size(), 20u);
  EXPECT_GE(r.kv_pages.pages_in, 1);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(KvPager, ABudgetHoldsWholePagesOfTheWindow) {
  const size_t llama_1b_f16 = 32768;  // 16 layers, 8 KV heads of 64, keys and values
  EXPECT_EQ(kv_budget_window(128u << 20, llama_1b_f16, 32768), 4096);
  EXPECT_EQ(kv_budget_window((128u << 20) + 5 * llama_1b_f16, llama_1b_f16, 32768), 4096);  // rounded down
  EXPECT_EQ(kv_budget_window(2u << 30, llama_1b_f16, 32768), 32768);  // all of it: nothing to page
  try {
    kv_budget_window(4u << 20, llama_1b_f16, 32768);
    FAIL() << "a budget of 128 positions was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at least 8388608 bytes"), std::string::npos) << e.what();
  }
}

TEST(KvPager, RefusesABadConfiguration) {
  EXPECT_THROW(KvPager(nullptr, {512, 0}), Error);
  EXPECT_THROW(KvPager(std::make_unique<MemoryKvPageStore>(), {0, 0}), Error);
  EXPECT_THROW(KvPager(std::make_unique<MemoryKvPageStore>(), {512, -1}), Error);
}
