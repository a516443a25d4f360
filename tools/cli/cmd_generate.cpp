// tabllm generate: continue a prompt. stdout carries only the generated text; timings go to stderr.
#include <cstdio>
#include <random>

#include "cli/commands.h"
#include "cli/engine_setup.h"
#include "cli/output_format_options.h"
#include "common/error.h"
#include "grammar/vocabulary.h"

namespace tabllm::cli {

int cmd_generate(int argc, char** argv) {
  std::vector<std::string> options = {"p|prompt", "n|n-predict", "temp", "top-k", "top-p", "min-p", "seed",
                                      "repeat-penalty", "repeat-last-n", "stop", "speculative", "draft-k", "draft-layers", "draft-model"};
  options.insert(options.end(), kEngineOptions.begin(), kEngineOptions.end());
  options.insert(options.end(), kOutputFormatOptions.begin(), kOutputFormatOptions.end());
  std::vector<std::string> flags = {"ignore-eos"};
  flags.insert(flags.end(), kOutputFormatFlags.begin(), kOutputFormatFlags.end());
  const Args args(argc, argv, options, flags,
                  std::string("usage: tabllm generate -m MODEL -p PROMPT [options]\n"
                              "  -p, --prompt TEXT    text to continue\n"
                              "  -n, --n-predict N    tokens to generate (default 128)\n"
                              "  --temp T             temperature, 0 = greedy (default 0.8)\n"
                              "  --top-k K --top-p P --min-p P   sampling filters (defaults 40, 0.95, 0.05)\n"
                              "  --seed S             random seed (default: random)\n"
                              "  --repeat-penalty R   penalty for repeating the last 64 tokens (default 1.0)\n"
                              "  --stop TEXT          stop before this text\n"
                              "  --ignore-eos         keep generating after end-of-sequence\n"
                              "  --speculative METHOD speculative decoding: prompt-lookup, self or draft (same output, fewer passes)\n"
                              "  --draft-k K          most tokens drafted per step (default 8)\n"
                              "  --draft-layers L     self: the first layers the draft runs (default half)\n"
                              "  --draft-model FILE   draft: a smaller model with the same vocabulary\n") +
                      kOutputFormatUsage + kEngineUsage);
  if (!args.positional().empty()) throw Error("unexpected argument '" + args.positional().front() + "'\n" + args.usage());
  GenerateRequest req;
  req.prompt = args.require("p");
  req.max_tokens = args.get_int("n", 128);
  req.sampling.temperature = static_cast<float>(args.get_double("temp", 0.8));
  req.sampling.top_k = args.get_int("top-k", 40);
  req.sampling.top_p = static_cast<float>(args.get_double("top-p", 0.95));
  req.sampling.min_p = static_cast<float>(args.get_double("min-p", 0.05));
  req.sampling.repeat_penalty = static_cast<float>(args.get_double("repeat-penalty", 1.0));
  req.sampling.repeat_last_n = args.get_int("repeat-last-n", 64);
  req.sampling.seed = args.get("seed") ? static_cast<uint64_t>(std::stoull(*args.get("seed"))) : std::random_device{}();
  if (auto stop = args.get("stop")) req.stop.push_back(*stop);
  req.ignore_eos = args.flag("ignore-eos");
  if (auto method = args.get("speculative")) req.speculative.method = speculative_method_from_name(*method);
  req.speculative.k = args.get_int("draft-k", req.speculative.k);
  req.speculative.draft_layers = args.get_int("draft-layers", 0);

  const auto format = output_format(args);
  Engine engine = open_engine(args);
  if (format) {
    grammar::ConstraintFactory formats(grammar::TokenVocabulary::from_tokenizer(engine.model->tokenizer()));
    const auto compiled = formats.compile(*format);
    for (const std::string& warning : compiled.warnings) std::fprintf(stderr, "[tabllm] not enforced: %s\n", warning.c_str());
    req.constraint = formats.constraint(*format);
  }
  const GenerateResult r = engine.session->generate(req, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  const Timings& t = r.timings;
  std::fprintf(stderr,
               "\n[tabllm] prompt %lld tokens, %.1f tok/s | generated %lld tokens, %.1f tok/s | TTFT %.1f ms | "
               "finish %s | %d threads, %s\n",
               static_cast<long long>(t.prompt_tokens), t.prefill_tokens_per_s(), static_cast<long long>(t.generated_tokens),
               t.decode_tokens_per_s(), t.ttft_ms, finish_reason_name(r.finish), engine.threads, engine.kernels.c_str());
  if (req.speculative.method != SpeculativeMethod::Off) {
    const SpeculativeStats& s = r.speculative;
    std::fprintf(stderr, "[tabllm] speculative %s: drafted %lld, accepted %lld (%.0f%%), %lld forward passes after the first token\n",
                 speculative_method_name(req.speculative.method), static_cast<long long>(s.drafted), static_cast<long long>(s.accepted),
                 100 * s.acceptance_rate(), static_cast<long long>(s.forward_passes));
  }
  return 0;
}

}  // namespace tabllm::cli
