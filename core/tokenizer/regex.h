// The regex dialect of tokenizer Split patterns (Oniguruma/PCRE style, as Hugging Face tokenizers and
// tiktoken write them), matched over code points by backtracking, leftmost-first: alternation in order,
// greedy and possessive quantifiers, (?:) (?i:) groups, lookahead, ^ $ \b, classes with \p{..} general
// categories, \p{Han}, nested classes and && intersection. std::regex knows none of \p{..}, and the
// project's grammar regexes are byte automata without lookahead, hence this small engine.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tokenizer/unicode.h"

namespace tabllm {

// The text a regex runs over: code points and their general categories, both `size` long.
struct CodePointText {
  const uint32_t* cp;
  const unicode::GeneralCategory* category;
  size_t size;
};

class TokenizerRegex {
 public:
  // Throws Error naming the position and the construct when `pattern` is malformed or uses a feature
  // outside the dialect (lookbehind, lazy quantifiers, backreferences).
  explicit TokenizerRegex(std::string_view pattern);
  ~TokenizerRegex();
  TokenizerRegex(TokenizerRegex&&) noexcept;
  TokenizerRegex& operator=(TokenizerRegex&&) noexcept;

  // Length of the match that starts exactly at `pos` (the first one in priority order), or nothing.
  // The match may be empty (a bare lookahead). ^, $, \b and lookaheads see `text` as the whole string.
  std::optional<size_t> match_at(const CodePointText& text, size_t pos) const;

  const std::string& pattern() const { return pattern_; }

  struct Node;  // the parsed pattern (defined in regex.cpp)

 private:
  std::string pattern_;
  std::unique_ptr<Node> root_;
};

}  // namespace tabllm
