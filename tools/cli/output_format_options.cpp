#include "cli/output_format_options.h"

#include <fstream>
#include <sstream>

#include "common/error.h"

namespace tabllm::cli {

const std::vector<std::string> kOutputFormatOptions = {"json-schema", "grammar", "regex"};
const std::vector<std::string> kOutputFormatFlags = {"json"};
const char* const kOutputFormatUsage =
    "structured output (at most one):\n"
    "  --json               any JSON object\n"
    "  --json-schema FILE   JSON matching this JSON Schema (properties in the schema's order)\n"
    "  --grammar FILE       text of this grammar: GBNF, or EBNF when FILE ends in .ebnf\n"
    "  --regex PATTERN      text matching this regular expression\n";

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path + ": no such readable file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<grammar::OutputFormat> output_format(const Args& args) {
  using Kind = grammar::OutputFormat::Kind;
  std::optional<grammar::OutputFormat> format;
  const auto choose = [&](Kind kind, std::string text) {
    if (format) throw Error("give at most one of --json, --json-schema, --grammar and --regex");
    format.emplace();
    format->kind = kind;
    format->text = std::move(text);
  };
  if (args.flag("json")) choose(Kind::JsonObject, "");
  if (auto file = args.get("json-schema")) choose(Kind::JsonSchema, read_text_file(*file));
  if (auto file = args.get("grammar")) {
    choose(Kind::Grammar, read_text_file(*file));
    if (file->size() >= 5 && file->substr(file->size() - 5) == ".ebnf") format->syntax = "ebnf";
  }
  if (auto pattern = args.get("regex")) choose(Kind::Regex, *pattern);
  return format;
}

}  // namespace tabllm::cli
