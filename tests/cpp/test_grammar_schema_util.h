// Helpers of the grammar converter tests: a 256-token vocabulary of single bytes (plus an end token), so a
// grammar compiles in milliseconds and any text can be fed byte by byte.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/compiled_grammar.h"
#include "grammar/grammar.h"
#include "grammar/matcher.h"
#include "grammar/vocabulary.h"

namespace tabllm::test {

inline std::shared_ptr<const grammar::TokenVocabulary> byte_vocabulary() {
  static const auto vocabulary = [] {
    std::vector<std::string> bytes;
    for (int b = 0; b < 256; ++b) bytes.push_back(std::string(1, static_cast<char>(b)));
    bytes.push_back("");  // the end token
    return std::make_shared<const grammar::TokenVocabulary>(std::move(bytes), std::vector<int32_t>{256});
  }();
  return vocabulary;
}

// A grammar compiled once, then asked about many texts.
class GrammarProbe {
 public:
  explicit GrammarProbe(const std::string& gbnf)
      : compiled_(grammar::compile(grammar::parse_gbnf(gbnf), byte_vocabulary())) {}
  // The whole text is a complete match.
  bool accepts(std::string_view text) const {
    grammar::Matcher matcher(compiled_);
    return matcher.accept_bytes(text) && matcher.can_terminate();
  }

 private:
  std::shared_ptr<const grammar::CompiledGrammar> compiled_;
};

}  // namespace tabllm::test
