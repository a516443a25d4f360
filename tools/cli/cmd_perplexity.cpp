// tabllm perplexity: how well the model predicts a text. The text is split into windows of --ctx
// tokens, each starting with BOS; every token after the window's first is scored.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/engine_setup.h"
#include "common/error.h"

namespace tabllm::cli {

int cmd_perplexity(int argc, char** argv) {
  std::vector<std::string> options = {"f|file", "max-windows"};
  options.insert(options.end(), kEngineOptions.begin(), kEngineOptions.end());
  const Args args(argc, argv, options, {},
                  std::string("usage: tabllm perplexity -m MODEL -f TEXT [--ctx N] [--max-windows N] [options]\n") + kEngineUsage);
  const std::string path = args.require("f");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (text.empty()) throw Error(path + " is empty");

  Engine engine = open_engine(args);
  const Tokenizer& tok = engine.model->tokenizer();
  const std::vector<int32_t> tokens = tok.encode(text, /*add_bos=*/false);
  const int64_t window = std::min<int64_t>(engine.session->backend().context_size(), args.get_int("ctx", 512));
  const int64_t max_windows = args.get_int("max-windows", 1 << 30);
  const int64_t step = window - 1;  // one slot for BOS
  const int64_t n_vocab = engine.model->config().n_vocab;
  double nll = 0.0;
  int64_t scored = 0, windows = 0;
  for (size_t start = 0; start + 1 < tokens.size() && windows < max_windows; start += static_cast<size_t>(step), ++windows) {
    std::vector<int32_t> chunk;
    if (tok.vocab().bos >= 0) chunk.push_back(tok.vocab().bos);
    const size_t end = std::min(tokens.size(), start + static_cast<size_t>(window - static_cast<int64_t>(chunk.size())));
    chunk.insert(chunk.end(), tokens.begin() + static_cast<std::ptrdiff_t>(start), tokens.begin() + static_cast<std::ptrdiff_t>(end));
    const std::vector<float> logits = engine.session->logits_all(chunk);
    for (size_t i = 1; i < chunk.size(); ++i) {
      const float* row = &logits[(i - 1) * static_cast<size_t>(n_vocab)];
      float max = row[0];
      for (int64_t v = 1; v < n_vocab; ++v) max = std::max(max, row[v]);
      double sum = 0.0;
      for (int64_t v = 0; v < n_vocab; ++v) sum += std::exp(static_cast<double>(row[v] - max));
      nll += std::log(sum) + max - row[chunk[i]];
      ++scored;
    }
    if (end == tokens.size()) break;
  }
  std::printf("{\"model\": \"%s\", \"file\": \"%s\", \"tokens_scored\": %lld, \"windows\": %lld, \"window\": %lld, \"perplexity\": %.4f}\n",
              engine.model->config().name.c_str(), path.c_str(), static_cast<long long>(scored), static_cast<long long>(windows + 1),
              static_cast<long long>(window), std::exp(nll / static_cast<double>(scored)));
  return 0;
}

}  // namespace tabllm::cli
