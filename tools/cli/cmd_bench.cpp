// tabllm bench: prefill and decode speed on a synthetic prompt, as one JSON object on stdout.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/engine_setup.h"
#include "cli/output_format_options.h"
#include "common/error.h"
#include "grammar/vocabulary.h"
#include "sampling/token_mask.h"

namespace tabllm::cli {

int cmd_bench(int argc, char** argv) {
  std::vector<std::string> options = {"prompt-tokens|p", "gen-tokens|n", "repetitions|r", "warmup"};
  options.insert(options.end(), kEngineOptions.begin(), kEngineOptions.end());
  options.insert(options.end(), kOutputFormatOptions.begin(), kOutputFormatOptions.end());
  const Args args(argc, argv, options, kOutputFormatFlags,
                  std::string("usage: tabllm bench -m MODEL [--prompt-tokens 512] [--gen-tokens 128] [--repetitions 1] [--warmup 1] [options]\n"
                              "Untimed warm-up passes (prompt and one decode step) come first: the first pass maps the\n"
                              "weights in and starts the threads; --warmup 0 times that cold pass too.\n"
                              "With a structured-output option, decode runs once more under that format (greedy over the\n"
                              "allowed tokens, a new document whenever one completes) and the JSON adds its speed.\n") +
                      kOutputFormatUsage + kEngineUsage);
  const int n_prompt = args.get_int("prompt-tokens", 512);
  const int n_gen = args.get_int("gen-tokens", 128);
  const int reps = args.get_int("repetitions", 1);
  const int warmups = args.get_int("warmup", 1);
  if (n_prompt < 1 || n_gen < 1 || reps < 1) throw Error("--prompt-tokens, --gen-tokens and --repetitions must be at least 1");
  if (warmups < 0) throw Error("--warmup must be 0 or more");
  Engine engine = open_engine(args);
  Backend& backend = engine.session->backend();
  const ModelConfig& c = engine.model->config();
  if (n_prompt + n_gen > backend.context_size())
    throw Error("prompt + generated tokens (" + std::to_string(n_prompt + n_gen) + ") exceed the context (" +
                std::to_string(backend.context_size()) + "); pass --ctx or fewer tokens");

  // Deterministic pseudo-random prompt: the content does not change the cost.
  std::vector<int32_t> prompt(static_cast<size_t>(n_prompt));
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (auto& t : prompt) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    t = static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(c.n_vocab));
  }
  const auto format = output_format(args);
  std::unique_ptr<grammar::ConstraintFactory> formats;
  if (format) formats = std::make_unique<grammar::ConstraintFactory>(grammar::TokenVocabulary::from_tokenizer(engine.model->tokenizer()));
  const size_t n_vocab = static_cast<size_t>(c.n_vocab);
  std::vector<float> logits(n_vocab);
  std::vector<uint32_t> allowed((n_vocab + 31) / 32);
  using clock = std::chrono::steady_clock;
  double best_prefill = 1e300, best_decode = 1e300, best_constrained = 1e300, best_mask = 1e300;
  int documents = 0;
  for (int w = 0; w < warmups; ++w) {
    backend.forward(prompt, 0, Logits::Last, logits.data());
    const int32_t token[1] = {prompt[0]};
    backend.forward(token, n_prompt, Logits::Last, logits.data());
  }
  for (int r = 0; r < reps; ++r) {
    auto t0 = clock::now();
    backend.forward(prompt, 0, Logits::Last, logits.data());
    best_prefill = std::min(best_prefill, std::chrono::duration<double>(clock::now() - t0).count());
    const std::vector<float> prompt_logits = logits;
    t0 = clock::now();
    for (int i = 0; i < n_gen; ++i) {
      const int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      const int32_t token[1] = {next};
      backend.forward(token, n_prompt + i, Logits::Last, logits.data());
    }
    best_decode = std::min(best_decode, std::chrono::duration<double>(clock::now() - t0).count());
    if (!format) continue;
    // The same decode under the format, doing what a generation does per token: the allowed set, the
    // masked logits, the choice, the constraint's step.
    logits = prompt_logits;
    std::shared_ptr<TokenConstraint> constraint = formats->constraint(*format);
    documents = 1;
    double mask_seconds = 0;  // the format's own work: allowed set, masking, choice, step
    t0 = clock::now();
    for (int i = 0; i < n_gen; ++i) {
      const auto m0 = clock::now();
      if (constraint->is_complete()) {
        constraint = formats->constraint(*format);
        ++documents;
      }
      std::fill(allowed.begin(), allowed.end(), 0u);
      constraint->allowed_tokens(allowed);
      const int32_t next = argmax_allowed(logits.data(), allowed, c.n_vocab);  // as greedy generation chooses
      if (!constraint->accept(next)) throw Error("the format's constraint refused the token it allowed: " + std::to_string(next));
      mask_seconds += std::chrono::duration<double>(clock::now() - m0).count();
      const int32_t token[1] = {next};
      backend.forward(token, n_prompt + i, Logits::Last, logits.data());
    }
    best_constrained = std::min(best_constrained, std::chrono::duration<double>(clock::now() - t0).count());
    best_mask = std::min(best_mask, mask_seconds);
  }
  const Tensor& first_weight = engine.model->weights().layers.front().wq;  // names the file's weight type
  std::printf(
      "{\"model\": \"%s\", \"arch\": \"%s\", \"weights\": \"%s\", \"backend\": \"cpu\", \"kernels\": \"%s\", \"threads\": %d, "
      "\"prompt_tokens\": %d, \"gen_tokens\": %d, \"prefill_tokens_per_s\": %.2f, \"decode_tokens_per_s\": %.2f, "
      "\"prefill_ms\": %.1f, \"decode_ms_per_token\": %.3f",
      c.name.c_str(), c.arch.c_str(), type_traits(first_weight.type).name, engine.kernels.c_str(), engine.threads, n_prompt, n_gen,
      n_prompt / best_prefill, n_gen / best_decode, best_prefill * 1e3, best_decode * 1e3 / n_gen);
  if (format)
    std::printf(", \"constrained_decode_tokens_per_s\": %.2f, \"constrained_decode_ms_per_token\": %.3f, \"constrained_overhead_pct\": %.2f, "
                "\"format_ms_per_token\": %.4f, \"constrained_documents\": %d",
                n_gen / best_constrained, best_constrained * 1e3 / n_gen, (best_constrained / best_decode - 1) * 100, best_mask * 1e3 / n_gen,
                documents);
  std::printf("}\n");
  return 0;
}

}  // namespace tabllm::cli
