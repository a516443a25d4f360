// tabllm_bench_kv_budget -m MODEL [--context 32768] [--kv-budget BYTES | --window 4096] [--decode 16]
//                        [--kv-type f16] [--threads 2]
// Decode at a long context with a KV budget (runtime/kv_pager.h) against all-resident KV, on the CPU.
// Prints one JSON object:
//   resident   a cache of --context positions, filled to context - decode, then `decode` greedy steps:
//              tok/s and the cache's bytes;
//   budget     a window of kv_budget_window(--kv-budget) positions (or --window), full, then `decode` steps
//              in it: tok/s; then one context shift with its rows paged out (pages encoded, checksummed and
//              handed to a heap store), timed; `amortized_tok_s` spreads that shift over the tokens between
//              two shifts (the window's moved half), `pages_out_per_token` likewise.
// The cache is filled by copying the rows of a real 256-token prefill, so attention reads real values
// without prefilling tens of thousands of tokens (decode cost depends on the positions, not their tokens).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "backend/cpu/forward.h"
#include "cli/args.h"
#include "common/error.h"
#include "runtime/context_shift.h"
#include "runtime/kv_pager.h"

namespace {

using namespace tabllm;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Filled {
  std::unique_ptr<CpuForward> backend;
  std::vector<int32_t> cached;
};

// A backend of `capacity` positions holding `n` positions: copies of `seed`'s rows, tokens `seed_tokens`.
Filled fill(const Model& model, CpuOptions o, int64_t capacity, int64_t n, const std::vector<uint8_t>& seed,
            const std::vector<int32_t>& seed_tokens) {
  o.context_size = capacity;
  Filled f{std::make_unique<CpuForward>(model, o), {}};
  const auto block = static_cast<int64_t>(seed_tokens.size());
  const size_t bpp = f.backend->kv_layout().bytes_per_position();
  for (int64_t at = 0; at < n; at += block) {
    const int64_t count = std::min(block, n - at);
    if (count == block) {
      f.backend->write_kv(at, count, seed.data());
    } else {  // the first `count` positions of each layer's key and value rows
      const size_t row = f.backend->kv_layout().row_bytes;
      std::vector<uint8_t> part(bpp * static_cast<size_t>(count));
      for (size_t b = 0; b < static_cast<size_t>(2 * f.backend->kv_layout().n_layers); ++b)
        std::copy_n(seed.data() + b * static_cast<size_t>(block) * row, static_cast<size_t>(count) * row,
                    part.data() + b * static_cast<size_t>(count) * row);
      f.backend->write_kv(at, count, part.data());
    }
    f.cached.insert(f.cached.end(), seed_tokens.begin(), seed_tokens.begin() + count);
  }
  return f;
}

// `steps` greedy decode steps from the end of `f`; returns tok/s.
double decode(const Model& model, Filled& f, int64_t steps) {
  std::vector<float> logits(static_cast<size_t>(model.config().n_vocab));
  int32_t next = f.cached.back();
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < steps; ++i) {
    f.backend->forward({&next, 1}, static_cast<int64_t>(f.cached.size()), Logits::Last, logits.data());
    f.cached.push_back(next);
    next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  return static_cast<double>(steps) / seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const cli::Args args(argc, argv, {"m|model", "context", "kv-budget", "window", "decode", "kv-type", "threads"}, {},
                         "usage: tabllm_bench_kv_budget -m MODEL [--context 32768] [--kv-budget BYTES | --window 4096] [--decode 16] "
                         "[--kv-type f16] [--threads 2]");
    const auto model = Model::load(args.require("m"));
    CpuOptions o;
    o.n_threads = args.get_int("threads", 2);
    o.kv_type = kv_cache_type(args.get("kv-type").value_or("f16"));
    const int64_t context = args.get_int("context", 32768), steps = args.get_int("decode", 16);

    // The seed: a real prefill of 256 tokens.
    const int64_t block = KvPager::kPagePositions;
    std::vector<int32_t> seed_tokens;
    for (int64_t i = 0; i < block; ++i) seed_tokens.push_back(static_cast<int32_t>((1000 + i * 7919) % model->config().n_vocab));
    Filled seeded = fill(*model, o, block, 0, {}, {});
    std::vector<float> logits(static_cast<size_t>(model->config().n_vocab));
    seeded.backend->forward(seed_tokens, 0, Logits::Last, logits.data());
    const KvLayout layout = seeded.backend->kv_layout();
    std::vector<uint8_t> seed(layout.bytes_per_position() * static_cast<size_t>(block));
    seeded.backend->read_kv(0, block, seed.data());
    seeded.backend.reset();

    const size_t bpp = layout.bytes_per_position();
    const int64_t window = args.get("kv-budget") ? kv_budget_window(std::stoull(*args.get("kv-budget")), bpp, context)
                                                 : args.get_int("window", 4096);

    Filled resident = fill(*model, o, context, context - steps, seed, seed_tokens);
    const double resident_tok_s = decode(*model, resident, steps);
    const size_t resident_bytes = resident.backend->kv_cache().bytes_allocated();
    resident.backend.reset();

    Filled hot = fill(*model, o, window, window - steps, seed, seed_tokens);
    const double window_tok_s = decode(*model, hot, steps);
    const size_t window_bytes = hot.backend->kv_cache().bytes_allocated();
    // The shift a full window takes, its dropped rows paged out first (as Generation::shift_context does).
    auto store = std::make_unique<MemoryKvPageStore>();
    const MemoryKvPageStore& held = *store;
    KvPager pager(std::move(store), {context, 0});
    const KvShift s = plan_context_shift(static_cast<int64_t>(hot.cached.size()), kDefaultKeep, window);
    const auto t0 = Clock::now();
    pager.page_out(*hot.backend, hot.cached, s);
    hot.backend->shift(s);
    const double shift_s = seconds_since(t0);
    if (!pager.take_warnings().empty()) throw Error("the heap store refused a page");
    // Between two shifts the window takes `discard` new tokens.
    const double per_shift = static_cast<double>(s.discard);
    const double amortized = per_shift / (per_shift / window_tok_s + shift_s);
    std::printf(
        "{\"model\": \"%s\", \"kv_type\": \"%s\", \"threads\": %d, \"context\": %lld, \"decode_steps\": %lld, \"kv_bytes_per_token\": %zu, "
        "\"resident\": {\"positions\": %lld, \"decode_tok_s\": %.3f, \"kv_bytes\": %zu}, "
        "\"budget\": {\"window\": %lld, \"kv_bytes\": %zu, \"decode_tok_s_in_window\": %.3f, \"shift_ms\": %.2f, \"page_out_ms\": %.2f, "
        "\"pages_per_shift\": %lld, \"store_bytes_per_shift\": %lld, \"tokens_per_shift\": %lld, \"pages_out_per_token\": %.5f, "
        "\"amortized_tok_s\": %.3f}, \"amortized_vs_resident\": %.3f}\n",
        model->config().name.c_str(), type_traits(o.kv_type).name, o.n_threads, static_cast<long long>(context), static_cast<long long>(steps), bpp,
        static_cast<long long>(context), resident_tok_s, resident_bytes, static_cast<long long>(window), window_bytes, window_tok_s,
        1000 * shift_s, pager.stats().page_out_ms, static_cast<long long>(pager.stats().pages_out), static_cast<long long>(held.bytes()),
        static_cast<long long>(s.discard), static_cast<double>(pager.stats().pages_out) / per_shift, amortized, amortized / resident_tok_s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
