// `tabllm embed`: embeddings of texts, as JSON, and their throughput.
//   -p TEXT | --file F    one input, or one input per line of F
//   --repeat N            embed the whole batch N times (after one warm-up) and report embeddings per second
// Prints {"model", "arch", "pooling", "dim", "threads", "kernels", "inputs": [{"tokens": [...], "embedding": [...]}]}
// (with --repeat: the timing instead of the vectors).
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/cpu/thread_pool.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/engine_setup.h"
#include "common/error.h"
#include "runtime/embedder.h"

namespace tabllm::cli {
namespace {

constexpr const char* kUsage = "usage: tabllm embed -m MODEL (-p TEXT | --file F) [--threads N] [--kernels simd|scalar] [--repeat N]";

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read " + path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  if (lines.empty()) throw Error(path + " holds no input: write one text a line");
  return lines;
}

}  // namespace

int cmd_embed(int argc, char** argv) {
  const Args args(argc, argv, {"m|model", "p|prompt", "f|file", "threads|t", "kernels", "repeat"}, {}, kUsage);
  const auto prompt = args.get("p");
  const auto file = args.get("f");
  if (prompt.has_value() == file.has_value()) throw Error(std::string("give exactly one of -p TEXT and --file F\n") + kUsage);
  const auto model = load_model(args.require("m"));
  EmbedOptions options;
  options.n_threads = args.get_int("threads", cpu::available_cpus());
  if (options.n_threads < 1 || options.n_threads > 512) throw Error("--threads must be between 1 and 512");
  const std::string kernels = args.get("kernels").value_or("simd");
  if (kernels == "scalar") options.path = cpu::Path::Scalar;
  else if (kernels != "simd") throw Error("--kernels must be simd or scalar, got '" + kernels + "'");
  const int repeat = args.get_int("repeat", 0);
  if (repeat < 0) throw Error("--repeat must not be negative");

  const std::vector<std::string> texts = prompt ? std::vector<std::string>{*prompt} : read_lines(*file);
  std::vector<std::vector<int32_t>> inputs;
  for (const std::string& text : texts) inputs.push_back(model->tokenizer().encode_input(text));
  Embedder embedder(*model, options);
  std::vector<float> out(inputs.size() * static_cast<size_t>(embedder.dim()));
  embedder.embed(inputs, out.data());

  const ModelConfig& c = model->config();
  nlohmann::ordered_json report = {{"model", c.name},
                                   {"arch", c.arch},
                                   {"pooling", std::array<const char*, 4>{"none", "mean", "cls", "last"}[static_cast<size_t>(c.pooling)]},
                                   {"dim", c.dim},
                                   {"threads", options.n_threads},
                                   {"kernels", options.path == cpu::Path::Scalar ? "scalar" : cpu::simd_level()}};
  if (repeat > 0) {
    size_t tokens = 0;
    for (const auto& input : inputs) tokens += input.size();
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < repeat; ++r) embedder.embed(inputs, out.data());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report["batch"] = inputs.size();
    report["tokens_per_batch"] = tokens;
    report["repeat"] = repeat;
    report["seconds"] = seconds;
    report["embeddings_per_s"] = static_cast<double>(inputs.size()) * repeat / seconds;
    report["tokens_per_s"] = static_cast<double>(tokens) * repeat / seconds;
  } else {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (size_t i = 0; i < inputs.size(); ++i) {
      const float* e = &out[i * static_cast<size_t>(c.dim)];
      list.push_back({{"tokens", inputs[i]}, {"embedding", std::vector<float>(e, e + c.dim)}});
    }
    report["inputs"] = std::move(list);
  }
  std::printf("%s\n", report.dump().c_str());
  return 0;
}

}  // namespace tabllm::cli
