// Cuts text at special tokens (control and user-defined tokens, HF added tokens) before the model's
// tokenizer sees it. Matching is leftmost-longest, as Hugging Face's added-token matcher does.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace tabllm {

class SpecialTokenMatcher {
 public:
  struct Fragment {
    std::string_view text;  // the raw text, or the matched token's text
    int32_t token = -1;     // >= 0: a special token
  };

  // `always`: matched even when the caller does not parse special tokens (user-defined tokens such as
  // "<think>" are plain vocabulary that the normal merges would never produce). `text` must outlive this.
  void add(std::string_view text, int32_t id, bool always);
  // Appends the fragments of `text` in order; raw fragments are never empty.
  void split(std::string_view text, bool parse_special, std::vector<Fragment>& out) const;

 private:
  struct Candidate {
    std::string_view text;
    int32_t id;
    bool always;
  };
  std::array<std::vector<Candidate>, 256> by_first_byte_;  // longest first within each bucket
};

}  // namespace tabllm
