// Helpers of the grammar converter tests: a 256-token vocabulary of single bytes (plus an end token), so a
// grammar compiles in milliseconds and any text can be fed byte by byte.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "grammar/compiled_grammar.h"
#include "grammar/grammar.h"
#include "grammar/json_schema.h"
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

// A JSON Schema converted and compiled, asked about documents.
struct Checked {
  grammar::SchemaGrammar converted;
  GrammarProbe probe;
  explicit Checked(const std::string& schema, grammar::SchemaOptions options = {})
      : converted(grammar::json_schema_text_to_gbnf(schema, options)), probe(converted.gbnf) {}
  // The document is accepted compact and with 2-space indentation.
  bool accepts(const std::string& document) const {
    const auto value = nlohmann::ordered_json::parse(document);
    return probe.accepts(value.dump()) && probe.accepts(value.dump(2));
  }
  bool accepts_text(const std::string& text) const { return probe.accepts(text); }
  bool warned(const std::string& words) const {
    for (const std::string& w : converted.warnings)
      if (w.find(words) != std::string::npos) return true;
    return false;
  }
};

}  // namespace tabllm::test
