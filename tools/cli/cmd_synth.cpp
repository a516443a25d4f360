// tabllm synth SHAPE OUT.gguf --type T --vocab VOCAB [--seed S] [--layers N] [--context N] [--scale X] [--pooling P] [--threads N]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/error.h"
#include "convert/row_encoding.h"
#include "synth/model_shapes.h"
#include "synth/synthesize.h"
#include "synth/wordpiece_vocab.h"

namespace tabllm::cli {
namespace {

std::string usage() {
  std::string shapes;
  for (const std::string& s : tools::shape_names()) shapes += (shapes.empty() ? "" : ", ") + s;
  return "usage: tabllm synth SHAPE OUT.gguf --type T --vocab VOCAB [--seed S] [--layers N] [--context N] [--scale X] [--pooling P] [--threads N]\n"
         "  SHAPE: " + shapes + "\n"
         "  T: " + supported_type_names() + ", or q4_k_m (llama-quantize's Q4_K_M mix)\n"
         "  VOCAB: a vocab or model GGUF, a tokenizer.json (padded to the shape's vocabulary size), or 'wordpiece' (a small\n"
         "         built-in BERT vocabulary)\n"
         "  P: none, mean, cls or last: the pooling_type of an embedding model (default: the shape's)\n"
         "  X: weight scale, matrices get standard deviation X / sqrt(fan_in) (default 1; larger: larger top-1 margins)";
}

uint64_t parse_seed(const std::string& text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || *end != '\0') throw Error("--seed expects a non-negative integer, got '" + text + "'");
  return v;
}

}  // namespace

int cmd_synth(int argc, char** argv) {
  const Args args(argc, argv, {"type", "vocab", "seed", "layers", "context", "scale", "pooling", "threads"}, {}, usage());
  if (args.positional().size() != 2)
    throw Error("expected SHAPE and OUT.gguf, got " + std::to_string(args.positional().size()) + " arguments\n" + usage());
  tools::SynthOptions options;
  options.shape = args.positional()[0];
  const std::string& out = args.positional()[1];
  const std::string type = args.require("type");
  options.mix = tools::parse_weight_mix(type);
  options.type = options.mix ? tools::weight_mix_base_type(*options.mix) : parse_type_name(type);
  options.seed = parse_seed(args.get("seed").value_or("0"));
  options.layers = args.get_int("layers", 0);
  options.context = args.get_int("context", 0);
  options.n_threads = args.get_int("threads", tools::default_thread_count());
  if (options.layers < 0) throw Error("--layers must be positive");
  if (options.context < 0) throw Error("--context must be positive");
  if (const auto scale = args.get("scale")) {
    char* end = nullptr;
    options.weight_scale = std::strtof(scale->c_str(), &end);
    if (scale->empty() || *end != '\0' || !(options.weight_scale > 0) || !std::isfinite(options.weight_scale))
      throw Error("--scale expects a positive number, got '" + *scale + "'");
  }
  if (options.n_threads < 1) throw Error("--threads must be at least 1");
  if (const auto pooling = args.get("pooling")) {
    const char* names[] = {"none", "mean", "cls", "last"};
    options.pooling = -1;
    for (int i = 0; i < 4; ++i)
      if (*pooling == names[i]) options.pooling = i;
    if (options.pooling < 0) throw Error("--pooling expects none, mean, cls or last, got '" + *pooling + "'");
  }

  tools::find_shape(options.shape, 1);  // an unknown shape fails before the vocabulary is read
  const auto start = std::chrono::steady_clock::now();
  const tools::ModelSpec spec = tools::synthesize_model(
      options, args.require("vocab") == "wordpiece" ? tools::sample_wordpiece_vocab() : Vocab::load(args.require("vocab")), out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %s: %s, %lld layers, vocab %lld, %s, %.1f MB in %.2f s\n", out.c_str(), spec.name.c_str(),
              static_cast<long long>(spec.n_layers), static_cast<long long>(spec.vocab_size),
              options.mix ? tools::weight_mix_name(*options.mix) : type_traits(options.type).name, static_cast<double>(std::filesystem::file_size(out)) / 1e6, seconds);
  return 0;
}

}  // namespace tabllm::cli
