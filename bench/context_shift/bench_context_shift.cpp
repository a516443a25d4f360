// tabllm_bench_context_shift -m MODEL -f TEXT [--window 256] [--full 512] [--keep 4] [--threads 2]: how much
// a context shift costs in quality. Prints one JSON object with the perplexity of the text read, for
// N = --full and --window,
//   windows    in windows of N tokens, each from BOS (as `tabllm perplexity`),
//   shift      in one pass through a context of N tokens that shifts when full, as a generation does
//              (runtime/context_shift.h: the first --keep tokens stay, the older half of the rest goes),
//   reprefill  the same pass, with the kept tokens prefilled again at each shift instead: the exact
//              cache the in-place shift approximates.
// Every token of the text is scored once in each, from the logits of the position before it.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "backend/cpu/forward.h"
#include "cli/args.h"
#include "common/error.h"
#include "runtime/context_shift.h"
#include "sampling/logprobs.h"

namespace {

using namespace tabllm;

struct Score {
  double nll = 0;
  int64_t scored = 0, shifts = 0;
  double perplexity() const { return std::exp(nll / static_cast<double>(scored)); }
};

struct Reader {
  const Model& model;
  CpuOptions options;
  int32_t bos;

  // Scores `seq[from + 1 .. from + n]` from rows [0, n) of `logits`, rows that stop at the sequence's end.
  void score(const std::vector<float>& logits, const std::vector<int32_t>& seq, size_t from, size_t n, Score& s) const {
    const auto V = static_cast<size_t>(model.config().n_vocab);
    for (size_t j = 0; j < n && from + j + 1 < seq.size(); ++j) {
      s.nll -= token_logprob(&logits[j * V], static_cast<int32_t>(V), seq[from + j + 1], 0).logprob;
      s.scored++;
    }
  }

  // Windows of `window` positions, each BOS and the next window - 1 tokens of the text.
  Score windows(const std::vector<int32_t>& text, int64_t window) const {
    CpuOptions o = options;
    o.context_size = window;
    o.max_batch = window;
    CpuForward forward(model, o);
    Score s;
    std::vector<float> logits(static_cast<size_t>(window * model.config().n_vocab));
    for (size_t start = 0; start < text.size(); start += static_cast<size_t>(window - 1)) {
      std::vector<int32_t> seq{bos};
      seq.insert(seq.end(), text.begin() + static_cast<std::ptrdiff_t>(start),
                 text.begin() + static_cast<std::ptrdiff_t>(std::min(text.size(), start + static_cast<size_t>(window - 1))));
      forward.forward(seq, 0, Logits::All, logits.data());
      score(logits, seq, 0, seq.size(), s);
    }
    return s;
  }

  // BOS and the whole text through a context of `window` positions that shifts when full (with
  // `reprefill`, the kept tokens are run again from position 0 instead). Tokens go in batches that fill the
  // context: each is predicted from everything the cache holds, as in decoding.
  Score shifting(const std::vector<int32_t>& text, int64_t window, int64_t keep, bool reprefill = false) const {
    CpuOptions o = options;
    o.context_size = window;
    o.max_batch = window;
    CpuForward forward(model, o);
    std::vector<int32_t> seq{bos};
    seq.insert(seq.end(), text.begin(), text.end());
    Score s;
    std::vector<float> logits(static_cast<size_t>(window * model.config().n_vocab));
    int64_t n_past = 0;
    std::vector<int32_t> cached;
    for (size_t at = 0; at + 1 < seq.size();) {
      if (n_past == window) {
        const KvShift shift = plan_context_shift(n_past, keep, window);
        cached.erase(cached.begin() + shift.keep, cached.begin() + shift.keep + shift.discard);
        if (reprefill) forward.forward(cached, 0, Logits::Last, logits.data());
        else forward.shift(shift);
        n_past -= shift.discard;
        s.shifts++;
      }
      const size_t n = std::min(static_cast<size_t>(window - n_past), seq.size() - 1 - at);
      forward.forward(std::span(seq).subspan(at, n), n_past, Logits::All, logits.data());
      cached.insert(cached.end(), seq.begin() + static_cast<std::ptrdiff_t>(at), seq.begin() + static_cast<std::ptrdiff_t>(at + n));
      score(logits, seq, at, n, s);
      at += n;
      n_past += static_cast<int64_t>(n);
    }
    return s;
  }
};

std::string json_score(const Score& s, int64_t window) {
  char out[200];
  std::snprintf(out, sizeof out, "{\"window\": %lld, \"tokens_scored\": %lld, \"shifts\": %lld, \"perplexity\": %.4f}",
                static_cast<long long>(window), static_cast<long long>(s.scored), static_cast<long long>(s.shifts), s.perplexity());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const cli::Args args(argc, argv, {"m|model", "f|file", "window", "full", "keep", "threads"}, {},
                         "usage: tabllm_bench_context_shift -m MODEL -f TEXT [--window 256] [--full 512] [--keep 4] [--threads 2]");
    const auto model = Model::load(args.require("m"));
    std::ifstream in(args.require("f"), std::ios::binary);
    if (!in) throw Error("cannot read " + args.require("f"));
    std::stringstream text;
    text << in.rdbuf();
    const std::vector<int32_t> tokens = model->tokenizer().encode(text.str(), false);
    const int64_t window = args.get_int("window", 256), full = args.get_int("full", 512), keep = args.get_int("keep", kDefaultKeep);
    CpuOptions options;
    options.n_threads = args.get_int("threads", 2);
    const Reader reader{*model, options, model->tokenizer().vocab().bos};
    const Score whole = reader.windows(tokens, full), small = reader.windows(tokens, window);
    const Score shift_whole = reader.shifting(tokens, full, keep), shift_small = reader.shifting(tokens, window, keep);
    const Score again_whole = reader.shifting(tokens, full, keep, true), again_small = reader.shifting(tokens, window, keep, true);
    std::printf("{\"model\": \"%s\", \"text_tokens\": %zu, \"keep\": %lld, \"windows_full\": %s, \"windows_small\": %s, "
                "\"shift_full\": %s, \"shift_small\": %s, \"reprefill_full\": %s, \"reprefill_small\": %s, "
                "\"shift_small_vs_windows_full\": %.4f, \"shift_small_vs_reprefill_small\": %.4f}\n",
                model->config().name.c_str(), tokens.size(), static_cast<long long>(keep), json_score(whole, full).c_str(),
                json_score(small, window).c_str(), json_score(shift_whole, full).c_str(), json_score(shift_small, window).c_str(),
                json_score(again_whole, full).c_str(), json_score(again_small, window).c_str(),
                shift_small.perplexity() / whole.perplexity() - 1, shift_small.perplexity() / again_small.perplexity() - 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
