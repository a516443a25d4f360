#include "grammar/output_format.h"

#include <cstdio>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/regex.h"
#include "grammar/utf8.h"

namespace tabllm::grammar {
namespace {

using nlohmann::ordered_json;

const ordered_json& member(const ordered_json& object, const char* key, const std::string& param) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) throw FormatError(param + "." + key, param + "." + key + " is required");
  return *it;
}

std::string string_member(const ordered_json& object, const char* key, const std::string& param) {
  const ordered_json& v = member(object, key, param);
  if (!v.is_string()) throw FormatError(param + "." + key, param + "." + key + " must be a string, got " + v.dump());
  return v.get<std::string>();
}

bool bool_member(const ordered_json& object, const char* key, const std::string& param, bool fallback) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw FormatError(param + "." + key, param + "." + key + " must be true or false, got " + it->dump());
  return it->get<bool>();
}

}  // namespace

OutputFormat OutputFormat::from_json(const ordered_json& rf) {
  const std::string param = "response_format";
  if (!rf.is_object()) throw FormatError(param, "response_format must be an object {type: ...}, got " + rf.dump());
  const std::string type = string_member(rf, "type", param);
  OutputFormat f;
  if (type == "text") return f;
  if (type == "json_object") {
    f.kind = Kind::JsonObject;
  } else if (type == "json_schema") {
    f.kind = Kind::JsonSchema;
    const std::string inner = param + ".json_schema";
    const ordered_json& js = member(rf, "json_schema", param);
    if (!js.is_object()) throw FormatError(inner, inner + " must be an object {name, schema, strict}, got " + js.dump());
    const auto schema = js.find("schema");
    // OpenAI lets the schema out; any JSON value then does, as with json_object.
    f.text = schema == js.end() || schema->is_null() ? "{}" : schema->dump();
    if (schema != js.end() && !schema->is_null() && !schema->is_object() && !schema->is_boolean())
      throw FormatError(inner + ".schema", inner + ".schema must be a JSON Schema object, got " + schema->dump());
    f.strict = bool_member(js, "strict", inner, false);
    f.any_property_order = bool_member(js, "any_property_order", inner, false);
  } else if (type == "grammar") {
    f.kind = Kind::Grammar;
    f.text = string_member(rf, "grammar", param);
    const auto syntax = rf.find("syntax");
    if (syntax != rf.end() && !syntax->is_null()) {
      f.syntax = syntax->is_string() ? syntax->get<std::string>() : "";
      if (f.syntax != "gbnf" && f.syntax != "ebnf")
        throw FormatError(param + ".syntax", "response_format.syntax must be \"gbnf\" or \"ebnf\", got " + syntax->dump());
    }
  } else if (type == "regex") {
    f.kind = Kind::Regex;
    f.text = string_member(rf, "pattern", param);
  } else if (type == "tool_call") {
    f.kind = Kind::ToolCall;
    const ordered_json& schema = member(rf, "schema", param);
    if (!schema.is_object()) throw FormatError(param + ".schema", param + ".schema must be a JSON Schema object, got " + schema.dump());
    f.text = schema.dump();
    for (auto [key, field] : {std::pair{"prefix", &f.prefix}, std::pair{"suffix", &f.suffix}})
      if (rf.contains(key) && !rf[key].is_null()) *field = string_member(rf, key, param);
    f.allow_text = bool_member(rf, "allow_text", param, false);
  } else {
    throw FormatError(param + ".type",
                      "response_format.type must be \"text\", \"json_object\", \"json_schema\", \"grammar\" or \"regex\", got \"" + type + "\"");
  }
  return f;
}

std::string OutputFormat::key() const {
  const auto sized = [](const std::string& s) { return std::to_string(s.size()) + ":" + s; };
  return std::to_string(static_cast<int>(kind)) + (strict ? "s" : "-") + (any_property_order ? "a" : "-") + (allow_text ? "t" : "-") +
         syntax + "\n" + sized(prefix) + sized(suffix) + text;
}

namespace {

// Rule names that cannot clash with those the JSON Schema converter writes (none of its names ends in "-").
constexpr const char* kToolRoot = "tool-call-";

// GBNF rules for a tool call: `prefix` call `suffix`, or, with allow_text, any text that does not start
// like a call (it does when it starts with the prefix, or with '{' when there is none).
std::string tool_call_rules(const OutputFormat& f) {
  std::string call = "root";
  if (!f.prefix.empty()) call = gbnf_literal(f.prefix) + " " + call;
  if (!f.suffix.empty()) call += " " + gbnf_literal(f.suffix);
  std::string rules = std::string(kToolRoot) + " ::= " + call;
  if (!f.allow_text) return rules + "\n";
  rules += " | text-\nany- ::= [^\\x00]*\ntext- ::= \"\"";
  // Every proper prefix of the trigger, alone or followed by a character that leaves it.
  const std::string trigger = f.prefix.empty() ? "{" : f.prefix;
  for (size_t at = 0; at < trigger.size();) {
    uint32_t cp = 0;
    const size_t length = decode_utf8(std::string_view(trigger).substr(at), cp);
    if (length == 0) throw FormatError("tools", "the tool-call prefix is not valid UTF-8");
    char code[16];
    std::snprintf(code, sizeof code, "\\U%08X", cp);
    const std::string seen = trigger.substr(0, at);
    rules += " | " + (seen.empty() ? std::string() : gbnf_literal(seen) + " ") + "[^" + code + "] any-";
    if (at > 0 && !f.prefix.empty()) rules += " | " + gbnf_literal(seen);
    at += length;
  }
  return rules + "\n";
}

}  // namespace

ConstraintFactory::Compiled ConstraintFactory::compile(const OutputFormat& format) {
  if (format.kind == OutputFormat::Kind::Text) return {};
  const std::string key = format.key();
  {
    std::lock_guard lock(mutex_);
    for (auto it = recent_.begin(); it != recent_.end(); ++it)
      if (it->first == key) {
        recent_.splice(recent_.begin(), recent_, it);
        return it->second;
      }
  }
  Compiled made;
  std::string param = "response_format";
  try {
    Grammar grammar;
    switch (format.kind) {
      case OutputFormat::Kind::JsonObject:
        grammar = parse_gbnf(json_object_gbnf());
        break;
      case OutputFormat::Kind::JsonSchema: {
        param = "response_format.json_schema.schema";
        SchemaOptions options;
        options.strict = format.strict;
        options.any_property_order = format.any_property_order;
        SchemaGrammar converted = json_schema_text_to_gbnf(format.text, options);
        made.warnings = std::move(converted.warnings);
        grammar = parse_gbnf(converted.gbnf);
        break;
      }
      case OutputFormat::Kind::Grammar:
        param = "response_format.grammar";
        grammar = format.syntax == "ebnf" ? parse_ebnf(format.text) : parse_gbnf(format.text);
        break;
      case OutputFormat::Kind::Regex:
        param = "response_format.pattern";
        grammar = parse_gbnf(regex_to_gbnf(format.text));
        break;
      case OutputFormat::Kind::ToolCall: {
        param = "tools";
        SchemaGrammar converted = json_schema_text_to_gbnf(format.text, SchemaOptions{});
        made.warnings = std::move(converted.warnings);
        grammar = parse_gbnf(converted.gbnf + "\n" + tool_call_rules(format), kToolRoot);
        break;
      }
      case OutputFormat::Kind::Text:
        break;
    }
    made.grammar = grammar::compile(grammar, vocabulary_);
  } catch (const SchemaError& e) {
    throw FormatError(param, std::string("invalid JSON Schema: ") + e.what());
  } catch (const RegexError& e) {
    throw FormatError(param, std::string("invalid pattern: ") + e.what());
  } catch (const GrammarError& e) {
    throw FormatError(param, std::string("invalid grammar: ") + e.what());
  }
  std::lock_guard lock(mutex_);
  recent_.emplace_front(key, made);
  if (recent_.size() > capacity_) recent_.pop_back();
  return made;
}

std::shared_ptr<TokenConstraint> ConstraintFactory::constraint(const OutputFormat& format) {
  const Compiled c = compile(format);
  if (!c.grammar) return nullptr;
  return make_constraint(c.grammar);
}

}  // namespace tabllm::grammar
