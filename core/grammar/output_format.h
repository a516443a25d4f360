// The output format a request asks for (OpenAI's `response_format`, plus grammar and regex extensions),
// and the constraints that enforce it. Compiling a grammar for a 128K-token vocabulary takes milliseconds
// to seconds, so compiled grammars are kept per vocabulary and reused by later requests and choices.
#pragma once
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "grammar/compiled_grammar.h"
#include "runtime/token_constraint.h"

namespace tabllm::grammar {

// A request's format is wrong: `param` names where ("response_format.json_schema.schema"), the message
// says what and how to fix it (grammar errors carry line and column, schema errors the keyword).
class FormatError : public Error {
 public:
  FormatError(std::string param, const std::string& what) : Error(what), param_(std::move(param)) {}
  const std::string& param() const { return param_; }

 private:
  std::string param_;
};

struct OutputFormat {
  enum class Kind { Text, JsonObject, JsonSchema, Grammar, Regex, ToolCall };
  Kind kind = Kind::Text;
  std::string text;            // JsonSchema, ToolCall: the schema as JSON; Grammar: its text; Regex: the pattern
  std::string syntax = "gbnf";  // Grammar: "gbnf" or "ebnf"
  bool strict = false;         // JsonSchema: a keyword that cannot be enforced is an error, not a warning
  bool any_property_order = false;
  // ToolCall: the call is `prefix` JSON `suffix` (the model's tool-call markup); with allow_text the model
  // may instead answer in plain text that does not start like a call.
  std::string prefix, suffix;
  bool allow_text = false;

  // Reads `response_format`: {type: "text" | "json_object"}, {type: "json_schema", json_schema: {name,
  // schema, strict}}, {type: "grammar", grammar, syntax?: "gbnf" | "ebnf"}, {type: "regex", pattern}, and
  // for hosts that serve `tools`: {type: "tool_call", schema, prefix?, suffix?, allow_text?}.
  // Key order is kept: a schema's property order is the output's.
  static OutputFormat from_json(const nlohmann::ordered_json& response_format);
  // What identifies the compiled grammar.
  std::string key() const;
};

// Builds constraints for one vocabulary, keeping the most recently used compiled grammars.
class ConstraintFactory {
 public:
  explicit ConstraintFactory(std::shared_ptr<const TokenVocabulary> vocabulary, size_t capacity = 16)
      : vocabulary_(std::move(vocabulary)), capacity_(capacity) {}

  struct Compiled {
    std::shared_ptr<const CompiledGrammar> grammar;
    std::vector<std::string> warnings;  // keywords not enforced ("POINTER: what")
  };
  // Throws FormatError. Null grammar for Kind::Text. Thread-safe.
  Compiled compile(const OutputFormat& format);
  // A fresh constraint for one generation; null for Kind::Text.
  std::shared_ptr<TokenConstraint> constraint(const OutputFormat& format);

 private:
  std::shared_ptr<const TokenVocabulary> vocabulary_;
  size_t capacity_;
  std::mutex mutex_;
  std::list<std::pair<std::string, Compiled>> recent_;  // most recent first
};

}  // namespace tabllm::grammar
