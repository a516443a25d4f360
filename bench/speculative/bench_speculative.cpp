// tabllm_bench_speculative -m MODEL [--tasks bench/speculative/tasks.json] [--threads 1] [--reps 3] [--k 8]
// [--draft-layers L] [--draft-model FILE]: greedy decode speed without and with speculative decoding
// (prompt-lookup, self, and draft with --draft-model), per
// task of the tasks file (a prompt, max_tokens and an optional response_format), as one JSON object:
// median decode tokens/s over the repetitions, the speed-up over plain decoding, the draft's counts, and
// whether the output equals plain decoding's (it must).
//
// --forced 0.5,0.7,0.9 [--gen-tokens 128]: FORCED acceptance instead, for models with random weights (a
// synthetic model of a real shape): the model's forward passes run as speculative decoding runs them — one
// pass over the k + 1 positions of a step, all rows' logits — and which drafts are kept is drawn at the given
// rate, each in turn up to the first miss; the draft length adapts as the core's does. The draft itself is
// free here (as prompt lookup nearly is). Against plain one-token passes over the same positions. Beside the wall-clock speed, the speed per second
// of process CPU time (prefill included) is given: on a busy machine it is the steadier of the two.
#include <algorithm>
#include <chrono>
#include <sstream>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "backend/cpu/forward.h"
#include "cli/args.h"
#include "common/error.h"
#include "grammar/output_format.h"
#include "grammar/vocabulary.h"
#include "runtime/session.h"
#include "runtime/speculative.h"

namespace {

using namespace tabllm;
using json = nlohmann::ordered_json;

struct Run {
  double tokens_per_s;      // decode, wall clock
  double tokens_per_cpu_s;  // the whole request, process CPU time
  GenerateResult result;
};

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Decode tokens/s of `n` tokens after a prompt of `prompt` tokens: plain (rate < 0) or with drafts kept at
// `rate`. Returns tokens/s and fills the counts.
double forced_decode(CpuForward& forward, int64_t n_vocab, int prompt, int n, int k_max, double rate, uint64_t seed, SpeculativeStats& s) {
  std::vector<int32_t> tokens(static_cast<size_t>(prompt));
  auto random = [&seed] {  // splitmix64 → [0, 1)
    uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
  };
  for (int32_t& t : tokens) t = static_cast<int32_t>(random() * static_cast<double>(n_vocab));
  std::vector<float> logits(static_cast<size_t>(k_max + 1) * static_cast<size_t>(n_vocab));
  forward.forward(tokens, 0, Logits::Last, logits.data());
  DraftLength length(k_max);
  int generated = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (generated < n) {
    const int64_t pos = prompt + generated;
    const int k = rate < 0 ? 0 : std::min(length.get(), n - generated - 1);
    std::vector<int32_t> step(static_cast<size_t>(k + 1));
    for (int32_t& t : step) t = static_cast<int32_t>(random() * static_cast<double>(n_vocab));
    forward.forward(step, pos, k > 0 ? Logits::All : Logits::Last, logits.data());
    s.forward_passes++;
    int kept = 0;
    while (kept < k && random() < rate) ++kept;
    s.drafted += k;
    s.accepted += kept;
    length.observe(k, kept);
    generated += kept + 1;
  }
  return n / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

json forced(const Model& model, const CpuOptions& options, const std::string& rates, int n, int k_max) {
  const int prompt = 64;
  CpuOptions o = options;
  o.context_size = prompt + n + k_max + 1;
  CpuForward forward(model, o);
  SpeculativeStats plain_stats;
  forced_decode(forward, model.config().n_vocab, prompt, 8, k_max, -1, 1, plain_stats);  // warm-up
  plain_stats = {};
  const double plain = forced_decode(forward, model.config().n_vocab, prompt, n, k_max, -1, 1, plain_stats);
  json rows = json::array();
  std::stringstream list(rates);
  for (std::string item; std::getline(list, item, ',');) {
    const double rate = std::stod(item);
    if (!(rate >= 0 && rate <= 1)) throw Error("--forced takes acceptance rates in [0, 1], got " + item);
    SpeculativeStats s;
    const double speed = forced_decode(forward, model.config().n_vocab, prompt, n, k_max, rate, 2, s);
    rows.push_back({{"forced_acceptance", rate}, {"measured_acceptance", s.acceptance_rate()}, {"decode_tokens_per_s", speed},
                    {"speedup", speed / plain}, {"drafted", s.drafted}, {"accepted", s.accepted}, {"verify_passes", s.forward_passes}});
  }
  return {{"bench", "speculative-forced-acceptance"}, {"backend", "cpu"},
          {"label", "forced acceptance: the model's verification passes run; which drafts are kept is drawn at the given rate; the draft is free"},
          {"threads", options.n_threads}, {"gen_tokens", n}, {"k_max", k_max}, {"plain_decode_tokens_per_s", plain}, {"results", rows}};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const cli::Args args(argc, argv, {"m|model", "tasks", "threads", "reps", "k", "draft-layers", "draft-model", "forced", "gen-tokens"}, {},
                         "usage: tabllm_bench_speculative -m MODEL [--tasks bench/speculative/tasks.json] [--threads 1] [--reps 3] [--k 8] [--draft-layers L] [--draft-model FILE]\n"
                         "       tabllm_bench_speculative -m MODEL --forced 0.5,0.7,0.9 [--gen-tokens 128] [--threads 1] [--k 8]");
    const auto model = Model::load(args.require("m"));
    if (const auto rates = args.get("forced")) {
      CpuOptions options;
      options.n_threads = args.get_int("threads", 1);
      json out = forced(*model, options, *rates, args.get_int("gen-tokens", 128), args.get_int("k", 8));
      out["model"] = args.require("m");
      std::printf("%s\n", out.dump().c_str());
      return 0;
    }
    const std::string tasks_path = args.get("tasks").value_or("bench/speculative/tasks.json");
    std::ifstream in(tasks_path);
    if (!in) throw Error("cannot read " + tasks_path + " (run from the repository root, or give --tasks)");
    const json tasks = json::parse(in);
    CpuOptions options;
    options.n_threads = args.get_int("threads", 1);
    const int reps = std::max(1, args.get_int("reps", 3));
    std::unique_ptr<Model> draft;
    std::vector<SpeculativeMethod> methods = {SpeculativeMethod::Off, SpeculativeMethod::PromptLookup, SpeculativeMethod::Self};
    if (const auto path = args.get("draft-model")) {
      draft = Model::load(*path);
      methods.push_back(SpeculativeMethod::Draft);
    }
    grammar::ConstraintFactory formats(grammar::TokenVocabulary::from_tokenizer(model->tokenizer()));
    json out = {{"bench", "speculative"}, {"backend", "cpu"}, {"model", args.require("m")}, {"threads", options.n_threads}, {"reps", reps}};
    json rows = json::array();
    for (const auto& [name, task] : tasks.items()) {
      std::optional<grammar::OutputFormat> format;
      if (task.contains("response_format")) format = grammar::OutputFormat::from_json(task["response_format"]);
      double plain_speed = 0, plain_cpu_speed = 0;
      std::vector<int32_t> plain_tokens;
      for (const SpeculativeMethod method : methods) {
        std::vector<Run> runs;
        for (int rep = 0; rep < reps; ++rep) {
          Session session(*model, std::make_unique<CpuForward>(*model, options));  // a fresh cache: no prompt reuse
          if (draft) session.set_draft_model(draft->config(), std::make_unique<CpuForward>(*draft, options));
          GenerateRequest req;
          req.prompt = task["prompt"];
          req.max_tokens = task["max_tokens"];
          req.sampling.temperature = 0;
          req.ignore_eos = !format;
          if (format) req.constraint = formats.constraint(*format);
          req.speculative.method = method;
          req.speculative.k = args.get_int("k", req.speculative.k);
          req.speculative.draft_layers = args.get_int("draft-layers", 0);
          const double cpu0 = cpu_seconds();
          GenerateResult r = session.generate(req);
          const double cpu = cpu_seconds() - cpu0;
          const double seconds = r.timings.decode_ms / 1000;
          const auto n = static_cast<double>(r.timings.generated_tokens);
          runs.push_back({seconds > 0 ? (n - 1) / seconds : 0, cpu > 0 ? n / cpu : 0, std::move(r)});
        }
        std::vector<double> wall, per_cpu;
        for (const Run& run : runs) {
          wall.push_back(run.tokens_per_s);
          per_cpu.push_back(run.tokens_per_cpu_s);
        }
        const double speed = median(wall), cpu_speed = median(per_cpu);
        const GenerateResult& last = runs.back().result;  // greedy: every repetition gives the same tokens and counts
        const SpeculativeStats& s = last.speculative;
        if (method == SpeculativeMethod::Off) {
          plain_speed = speed;
          plain_cpu_speed = cpu_speed;
          plain_tokens = last.tokens;
        }
        rows.push_back({{"task", name}, {"method", speculative_method_name(method)}, {"tokens", last.timings.generated_tokens},
                        {"decode_tokens_per_s", speed}, {"speedup", speed / plain_speed},
                        {"tokens_per_cpu_s", cpu_speed}, {"speedup_cpu", cpu_speed / plain_cpu_speed},
                        {"drafted", s.drafted}, {"accepted", s.accepted}, {"acceptance_rate", s.acceptance_rate()},
                        {"forward_passes", s.forward_passes}, {"draft_passes", s.draft_passes},
                        {"same_output", last.tokens == plain_tokens}});
      }
    }
    out["results"] = rows;
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
