// tabllm_greedy_ids MODEL N CONTEXT scalar|simd [--force FILE] [--dump FILE] PROMPT...: the prompt's token
// ids (with BOS when the vocabulary adds one), N greedy token ids (ties to the lowest id; no stop at
// end-of-sequence), and the margin of each choice (top-1 minus top-2 logit), one line each, space-separated:
// the form a greedy loop over another engine's API prints too, so the two outputs compare line by line
// (docs/architectures.md). --force feeds the ids in FILE instead of the argmax (both engines then see the
// same tokens, so their logits compare at every step); --dump writes the N steps' logits as float32 rows.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "backend/cpu/forward.h"
#include "common/error.h"
#include "model/model.h"

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s MODEL N CONTEXT scalar|simd [--force FILE] [--dump FILE] PROMPT...\n", argv[0]);
    return 2;
  }
  try {
    const auto model = tabllm::Model::load(argv[1]);
    const int n = std::atoi(argv[2]);
    tabllm::CpuOptions options;
    options.context_size = std::atoi(argv[3]);
    options.path = std::string(argv[4]) == "scalar" ? tabllm::cpu::Path::Scalar : tabllm::cpu::Path::Simd;
    std::vector<int32_t> force;
    FILE* dump = nullptr;
    int arg = 5;
    for (; arg + 1 < argc; arg += 2) {
      const std::string flag = argv[arg];
      if (flag == "--force") {
        std::ifstream in(argv[arg + 1]);
        for (int32_t t; in >> t;) force.push_back(t);
      } else if (flag == "--dump") {
        dump = std::fopen(argv[arg + 1], "wb");
        if (!dump) throw tabllm::Error(std::string("cannot write ") + argv[arg + 1]);
      } else {
        break;
      }
    }
    if (arg >= argc) throw tabllm::Error("no prompt given");
    std::string prompt = argv[arg];
    for (int i = arg + 1; i < argc; ++i) prompt += std::string(" ") + argv[i];
    const std::vector<int32_t> tokens = model->tokenizer().encode(prompt, model->tokenizer().vocab().add_bos);
    tabllm::CpuForward forward(*model, options);
    std::vector<float> logits(static_cast<size_t>(model->config().n_vocab));
    for (int32_t t : tokens) std::printf("%d ", t);
    std::printf("\n");
    forward.forward(tokens, 0, tabllm::Logits::Last, logits.data());
    int64_t pos = static_cast<int64_t>(tokens.size());
    std::vector<float> margins;
    for (int i = 0; i < n; ++i) {
      const int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      float second = -INFINITY;
      for (size_t v = 0; v < logits.size(); ++v)
        if (static_cast<int32_t>(v) != next) second = std::max(second, logits[v]);
      margins.push_back(logits[static_cast<size_t>(next)] - second);
      std::printf("%d ", next);
      if (dump) std::fwrite(logits.data(), sizeof(float), logits.size(), dump);
      const int32_t fed = i < static_cast<int>(force.size()) ? force[static_cast<size_t>(i)] : next;
      forward.forward({&fed, 1}, pos++, tabllm::Logits::Last, logits.data());
    }
    std::printf("\n");
    for (float m : margins) std::printf("%.4g ", m);
    std::printf("\n");
    if (dump) std::fclose(dump);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
