// JSON Schema → GBNF (llama.cpp's dialect, read by parse_gbnf). Drafts 4, 6, 7, 2019-09 and 2020-12.
//
// The grammar describes the JSON text of an instance: compact or pretty-printed the way JSON serializers
// write it. After '{', '[', ',' and ':' and before '}' and ']' it allows nothing, one space or tab, or one
// newline followed by at most `max_indent` spaces/tabs; no blank goes before ',' or ':'. So 2-space
// indentation up to max_indent / 2 levels deep is accepted while a generation can never loop on blanks.
//
// Keywords a grammar cannot enforce (uniqueItems, not, multipleOf, minProperties, ...) are ignored and
// listed in `warnings`, or rejected with a SchemaError when `strict` is set: never silently dropped.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace tabllm::grammar {

// Names the offending keyword and where it is (a JSON pointer into the schema, "" for the root).
class SchemaError : public Error {
 public:
  SchemaError(std::string keyword, std::string pointer, const std::string& what);
  const std::string& keyword() const { return keyword_; }
  const std::string& pointer() const { return pointer_; }

 private:
  std::string keyword_, pointer_;
};

struct SchemaOptions {
  // A keyword that cannot be enforced is an error instead of a warning.
  bool strict = false;
  // Object properties may come in any order (otherwise: the order of `properties` in the schema, as
  // other engines do). Each object tracks which of its first properties (required ones first) were
  // written, up to a budget; properties beyond it are reported (errors when strict).
  bool any_property_order = false;
  // Most spaces/tabs after a newline between two tokens.
  int max_indent = 40;
  // Counts above this (string lengths, item counts, {m,n} in patterns) are not enforced, with a warning:
  // each counted repetition costs automaton states.
  int max_repeat = 64;
};

struct SchemaGrammar {
  std::string gbnf;                   // root rule `root`
  std::vector<std::string> warnings;  // "POINTER: what is not enforced"
};

// `schema` keeps its key order (ordered_json): property order matters to the grammar.
SchemaGrammar json_schema_to_gbnf(const nlohmann::ordered_json& schema, const SchemaOptions& options = {});
// Parses the schema text first (invalid JSON is a SchemaError at the root).
SchemaGrammar json_schema_text_to_gbnf(std::string_view schema_text, const SchemaOptions& options = {});

}  // namespace tabllm::grammar
