// Pre-tokenizers of byte-level BPE models: they cut text into words before BPE merges run inside each
// word. Each reproduces the Hugging Face Split regexes of its models (pretokenizer_catalog.h) with the
// project's regex engine; the most common ones also have hand-written matchers over code points, which
// split the same way, faster.
#pragma once
#include <string_view>
#include <vector>

#include "tokenizer/pretokenizer_catalog.h"
#include "tokenizer/regex.h"

namespace tabllm {

class PreTokenizer {
 public:
  enum class Engine { Fastest, Regex };  // Regex: ignore the hand-written matcher (tests compare both)

  // `name` is a tokenizer.ggml.pre value; throws Error naming the supported ones otherwise.
  explicit PreTokenizer(std::string_view name, Engine engine = Engine::Fastest);

  // Appends the words of `text` in order (views into `text`; together they cover it exactly).
  void split(std::string_view text, std::vector<std::string_view>& words) const;

  const PreTokenizerSpec& spec() const { return *spec_; }

 private:
  const PreTokenizerSpec* spec_;
  HandWrittenSplit hand_written_;
  std::vector<TokenizerRegex> regexes_;
};

}  // namespace tabllm
