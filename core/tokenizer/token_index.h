// Token text → id lookup shared by the encoders. Keys view the Vocab's strings, which must outlive the index.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tabllm {

class TokenIndex {
 public:
  explicit TokenIndex(const std::vector<std::string>& tokens) {
    ids_.reserve(tokens.size());
    // The first id wins when a text repeats (padding rows of some converters).
    for (size_t i = 0; i < tokens.size(); ++i) ids_.emplace(tokens[i], static_cast<int32_t>(i));
  }
  int32_t find(std::string_view text) const {
    const auto it = ids_.find(text);
    return it == ids_.end() ? -1 : it->second;
  }

 private:
  std::unordered_map<std::string_view, int32_t> ids_;
};

}  // namespace tabllm
