// `tabllm grammar-check`: compiles a JSON Schema into a grammar for a model's vocabulary and runs each
// document of a tests file ([{"valid": bool, "data": <JSON>}, ...]) through the matcher token by token,
// serialized compact and with 2-space indentation. One JSON line per document and serialization:
//   {"index": i, "serialization": "compact"|"indent2", "valid": bool, "accepted": bool, "rejected_at": N|null}
// rejected_at is the byte offset of the first byte the grammar refused (the text's length when the text
// was refused only for ending early). Exit 0 when the schema compiled; warnings go to stderr.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output_format_options.h"
#include "common/error.h"
#include "grammar/compiled_grammar.h"
#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/vocabulary.h"
#include "tokenizer/tokenizer.h"

namespace tabllm::cli {
namespace {

constexpr const char* kUsage =
    "usage: tabllm grammar-check --schema FILE --tests FILE -m MODEL_OR_VOCAB [--any-order] [--strict]\n"
    "                            [--max-indent N] [--print-grammar]";

struct Outcome {
  bool accepted = false;
  std::optional<size_t> rejected_at;
};

// Feeds `text` token by token; on a refused token, finds the exact byte on a fork.
Outcome run_document(const std::shared_ptr<const grammar::CompiledGrammar>& compiled, const Tokenizer& tokenizer,
                     const std::string& text) {
  grammar::Matcher matcher(compiled);
  const std::vector<int32_t> ids = tokenizer.encode(text, /*add_bos=*/false, /*parse_special=*/false);
  size_t offset = 0;
  for (int32_t id : ids) {
    const std::string& bytes = compiled->vocabulary().bytes(id);
    if (!matcher.accept_token(id)) {
      grammar::Matcher probe = matcher.fork();
      size_t k = 0;
      while (k < bytes.size() && probe.accept_bytes(std::string_view(bytes).substr(k, 1))) ++k;
      return {false, offset + k};
    }
    offset += bytes.size();
  }
  if (!matcher.can_terminate()) return {false, text.size()};
  return {true, std::nullopt};
}

}  // namespace

int cmd_grammar_check(int argc, char** argv) {
  const Args args(argc, argv, {"schema", "tests", "m|model", "max-indent"}, {"any-order", "strict", "print-grammar"}, kUsage);
  const std::string schema_path = args.require("schema");
  const std::string tests_path = args.require("tests");
  const std::string model_path = args.require("m");
  if (!args.positional().empty()) throw Error("unexpected argument " + args.positional().front() + "\n" + kUsage);

  grammar::SchemaOptions options;
  options.any_property_order = args.flag("any-order");
  options.strict = args.flag("strict");
  options.max_indent = args.get_int("max-indent", options.max_indent);
  const grammar::SchemaGrammar converted = grammar::json_schema_text_to_gbnf(read_text_file(schema_path), options);
  for (const std::string& w : converted.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (args.flag("print-grammar")) std::fputs(converted.gbnf.c_str(), stderr);

  grammar::Grammar parsed;
  try {
    parsed = grammar::parse_gbnf(converted.gbnf);
  } catch (const grammar::GrammarError& e) {
    throw Error(std::string("the grammar made from ") + schema_path + " does not parse (a converter bug): " + e.what());
  }

  nlohmann::ordered_json tests;
  try {
    tests = nlohmann::ordered_json::parse(read_text_file(tests_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(tests_path + " is not valid JSON: " + e.what());
  }
  if (!tests.is_array())
    throw Error(tests_path + " must be an array of {\"valid\": bool, \"data\": <JSON>} documents");

  const Tokenizer tokenizer(Vocab::load(model_path));
  const auto compiled = grammar::compile(parsed, grammar::TokenVocabulary::from_tokenizer(tokenizer));

  for (size_t i = 0; i < tests.size(); ++i) {
    const auto& test = tests[i];
    if (!test.is_object() || !test.contains("data"))
      throw Error(tests_path + ": entry " + std::to_string(i) + " has no \"data\"");
    const bool valid = test.contains("valid") && test["valid"].is_boolean() && test["valid"].get<bool>();
    for (const bool indented : {false, true}) {
      const std::string text = indented ? test["data"].dump(2) : test["data"].dump();
      const Outcome outcome = run_document(compiled, tokenizer, text);
      nlohmann::ordered_json line;
      line["index"] = i;
      line["serialization"] = indented ? "indent2" : "compact";
      line["valid"] = valid;
      line["accepted"] = outcome.accepted;
      line["rejected_at"] = outcome.rejected_at ? nlohmann::ordered_json(*outcome.rejected_at) : nlohmann::ordered_json(nullptr);
      std::printf("%s\n", line.dump().c_str());
    }
  }
  return 0;
}

}  // namespace tabllm::cli
