// The held greedy references of stories260K (../shared/models/stories260K/greedy_reference.jsonl): each
// prompt, its token ids, and the greedy continuation's ids and text.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_paths.h"

namespace tabllm::test {

struct GreedyReference {
  std::string prompt;
  std::vector<int32_t> prompt_ids, ids;
  std::string text;
};

inline std::vector<GreedyReference> load_greedy_references() {
  std::ifstream in(shared_dir() + "/models/stories260K/greedy_reference.jsonl");
  std::vector<GreedyReference> refs;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    refs.push_back({j["prompt"], j["prompt_ids"].get<std::vector<int32_t>>(), j["ids"].get<std::vector<int32_t>>(), j["text"]});
  }
  return refs;
}

}  // namespace tabllm::test
