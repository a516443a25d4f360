#include "grammar/json_schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "grammar/gbnf_text.h"
#include "grammar/grammar.h"
#include "grammar/regex.h"
#include "grammar/schema_parts.h"

namespace tabllm::grammar {
namespace {

using json = nlohmann::ordered_json;

// Keywords that only annotate; they never constrain an instance.
const std::set<std::string, std::less<>> kAnnotations = {
    "$schema", "$id", "id", "$comment", "title", "description", "default", "examples", "example", "readOnly",
    "writeOnly", "deprecated", "$deprecated", "definitions", "$defs", "$anchor", "$vocabulary", "contentMediaType",
    "contentEncoding", "contentSchema", "discriminator", "nullable", "xml", "externalDocs"};

// Constraints no grammar here enforces.
const std::set<std::string, std::less<>> kUnenforceable = {
    "not", "if", "then", "else", "dependencies", "dependentRequired", "dependentSchemas", "contains", "minContains",
    "maxContains", "unevaluatedProperties",
    "unevaluatedItems", "$dynamicRef", "$recursiveRef"};

// Every keyword that constrains instances (the rest annotate, or belong to no vocabulary).
const std::set<std::string, std::less<>> kConstraints = {
    "type", "enum", "const", "properties", "required", "additionalProperties", "patternProperties", "items",
    "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems", "contains", "minContains",
    "maxContains", "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "anyOf", "oneOf", "allOf", "not", "if", "then", "else", "$ref",
    "dependencies", "dependentRequired", "dependentSchemas", "minProperties", "maxProperties", "propertyNames",
    "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef"};

// Members (over all subsets of tracked properties) that objects in any order may track, per schema.
constexpr size_t kTrackingBudget = 4096;

enum class Draft { Draft4, Draft6, Draft7, Draft2019, Draft2020, Unknown };

Draft detect_draft(const json& root) {
  if (!root.is_object() || !root.contains("$schema") || !root["$schema"].is_string()) return Draft::Unknown;
  const std::string uri = root["$schema"].get<std::string>();
  if (uri.find("draft-04") != std::string::npos || uri.find("draft-03") != std::string::npos) return Draft::Draft4;
  if (uri.find("draft-06") != std::string::npos) return Draft::Draft6;
  if (uri.find("draft-07") != std::string::npos) return Draft::Draft7;
  if (uri.find("2019-09") != std::string::npos) return Draft::Draft2019;
  if (uri.find("2020-12") != std::string::npos) return Draft::Draft2020;
  return Draft::Unknown;
}

std::string pointer_escape(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The JSON text of a string, as nlohmann writes it (canonical escapes, UTF-8 kept).
std::string json_string_text(const std::string& s) { return json(s).dump(); }

bool is_integral(double v) { return std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9.2e18; }

std::set<std::string> types_of(const json& schema) {
  std::set<std::string> out;
  if (!schema.is_object() || !schema.contains("type")) return out;
  const json& t = schema["type"];
  if (t.is_string()) out.insert(t.get<std::string>());
  if (t.is_array())
    for (const json& e : t)
      if (e.is_string()) out.insert(e.get<std::string>());
  return out;
}

std::string json_type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number_float()) return is_integral(v.get<double>()) ? "integer" : "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

bool type_allows(const std::set<std::string>& types, const std::string& type) {
  if (types.empty()) return true;
  if (types.count(type)) return true;
  return type == "integer" && types.count("number");
}

class Converter {
 public:
  Converter(const json& root, const SchemaOptions& options)
      : root_(root), options_(options), draft_(detect_draft(root)) {
    index_ids(root_, "");
  }

  SchemaGrammar run() {
    define("ws", whitespace_body());
    const std::string root_expr = visit(root_, "", "root-value");
    if (root_expr.empty()) throw SchemaError("", "", "the schema matches no value (it is false or contradictory)");
    rules_.insert(rules_.begin(), {"root", root_expr});
    SchemaGrammar out;
    for (const auto& [name, body] : rules_) out.gbnf += name + " ::= " + body + "\n";
    out.warnings = std::move(warnings_);
    return out;
  }

 private:
  // ---- rules ----

  std::string whitespace_body() const {
    const std::string indent = "[ \\t]{0," + std::to_string(std::max(0, options_.max_indent)) + "}";
    return "( [ \\t] | \"\\r\"? \"\\n\" " + indent + " )?";
  }

  static std::string sanitize(const std::string& hint) {
    std::string out;
    for (char c : hint) {
      const bool word = std::isalnum(static_cast<unsigned char>(c)) && static_cast<unsigned char>(c) < 0x80;
      if (word) out += c;
      else if (!out.empty() && out.back() != '-') out += '-';
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    if (out.size() > 40) out.resize(40);
    while (!out.empty() && out.back() == '-') out.pop_back();
    if (out.empty()) out = "r";
    return out;
  }

  std::string unique_name(const std::string& hint) {
    const std::string base = sanitize(hint);
    std::string name = base;
    for (int k = 2; used_names_.count(name) || name == "root"; ++k) name = base + "-" + std::to_string(k);
    used_names_.insert(name);
    return name;
  }

  // Fixed-name rules (ws, json-value, ...): defined once.
  void define(const std::string& name, const std::string& body) {
    if (used_names_.count(name)) return;
    used_names_.insert(name);
    rules_.push_back({name, body});
    by_body_[body] = name;
  }

  // A rule for `body`, reusing an identical one.
  std::string rule(const std::string& hint, const std::string& body) {
    if (auto it = by_body_.find(body); it != by_body_.end()) return it->second;
    // A body that is just one rule name needs no rule of its own.
    if (is_rule_name(body)) return body;
    const std::string name = unique_name(hint);
    rules_.push_back({name, body});
    by_body_[body] = name;
    return name;
  }

  static bool is_rule_name(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    return true;
  }

  std::string json_char() {
    define("json-char", std::string(kGbnfJsonCharExpression));
    return "json-char";
  }
  std::string json_string() {
    const std::string c = json_char();
    define("json-string", "\"\\\"\" " + c + "* \"\\\"\"");
    return "json-string";
  }
  // Any string content, as one recursive rule: recursion keeps the automaton from copying it into every
  // node of a key trie, so all of them share its states (and their token masks).
  std::string string_rest() {
    define("string-rest", "( " + json_char() + " string-rest )?");
    return "string-rest";
  }
  std::string json_integer() {
    define("json-integer", "\"-\"? ( \"0\" | [1-9] [0-9]* )");
    return "json-integer";
  }
  std::string json_number() {
    define("json-number", "\"-\"? ( \"0\" | [1-9] [0-9]* ) ( \".\" [0-9]+ )? ( [eE] [\\-+]? [0-9]+ )?");
    return "json-number";
  }
  std::string json_value() {
    if (!used_names_.count("json-value")) {
      used_names_.insert("json-value");
      const std::string s = json_string(), n = json_number();
      used_names_.insert("json-object");
      used_names_.insert("json-array");
      rules_.push_back({"json-value", "json-object | json-array | " + s + " | " + n +
                                          " | \"true\" | \"false\" | \"null\""});
      rules_.push_back({"json-object", "\"{\" ws ( " + s + " \":\" ws json-value ( \",\" ws " + s +
                                           " \":\" ws json-value )* ws )? \"}\""});
      rules_.push_back({"json-array", "\"[\" ws ( json-value ( \",\" ws json-value )* ws )? \"]\""});
    }
    return "json-value";
  }

  // ---- warnings and errors ----

  void unenforced(const std::string& keyword, const std::string& pointer, const std::string& what) {
    if (options_.strict)
      throw SchemaError(keyword, pointer, what + "; a grammar cannot enforce it (remove it, or turn strict mode off to ignore it with a warning)");
    std::string line = (pointer.empty() ? "/" : pointer) + ": " + what;
    if (warned_.insert(line).second) warnings_.push_back(std::move(line));
  }

  // ---- $ref ----

  void index_ids(const json& node, const std::string& pointer) {
    if (!node.is_object()) return;
    for (const char* key : {"$id", "id"}) {
      if (node.contains(key) && node[key].is_string()) {
        std::string id = node[key].get<std::string>();
        if (!id.empty()) ids_.emplace(id, pointer);
        if (const size_t hash = id.find('#'); hash != std::string::npos && hash + 1 < id.size())
          ids_.emplace(id.substr(hash), pointer);  // draft-6 style "#anchor" ids
      }
    }
    if (node.contains("$anchor") && node["$anchor"].is_string()) ids_.emplace("#" + node["$anchor"].get<std::string>(), pointer);
    for (const auto& [key, value] : node.items()) {
      if (key == "enum" || key == "const" || key == "default" || key == "examples" || key == "example") continue;
      const std::string child = pointer + "/" + pointer_escape(key);
      if (value.is_object()) {
        index_ids(value, child);
      } else if (value.is_array()) {
        for (size_t i = 0; i < value.size(); ++i) index_ids(value[i], child + "/" + std::to_string(i));
      }
    }
  }

  // The JSON pointer (into the root) that `ref` names, or nullopt for a document this converter cannot see.
  std::optional<std::string> ref_pointer(const std::string& ref) const {
    if (auto it = ids_.find(ref); it != ids_.end()) return it->second;
    const size_t hash = ref.find('#');
    const std::string base = hash == std::string::npos ? ref : ref.substr(0, hash);
    const std::string fragment = hash == std::string::npos ? "" : percent_decode(ref.substr(hash + 1));
    if (!base.empty()) {
      // The root's own id, or a subschema's id.
      const auto it = ids_.find(base);
      if (it == ids_.end()) return std::nullopt;
      if (fragment.empty()) return it->second;
      if (fragment.front() == '/') return it->second + fragment;
      if (auto anchor = ids_.find("#" + fragment); anchor != ids_.end()) return anchor->second;
      return std::nullopt;
    }
    if (fragment.empty() || fragment.front() == '/') return fragment;
    if (auto anchor = ids_.find("#" + fragment); anchor != ids_.end()) return anchor->second;
    return std::nullopt;
  }

  const json* at_pointer(const std::string& pointer) const {
    try {
      const json::json_pointer p(pointer);
      if (!root_.contains(p)) return nullptr;
      return &root_.at(p);
    } catch (const std::exception&) {
      return nullptr;
    }
  }

  // The schema `ref` names; throws (strict) or returns nullptr (with a warning) when it cannot be found.
  const json* resolve(const std::string& ref, const std::string& pointer, std::string* target_pointer) {
    const auto target = ref_pointer(ref);
    const json* schema = target ? at_pointer(*target) : nullptr;
    if (!schema) {
      const std::string what = "$ref \"" + ref + "\" " +
                               (target ? "points to nothing in this schema" : "names another document, which is not available");
      if (options_.strict || target) throw SchemaError("$ref", pointer, what + "; inline the referenced schema");
      unenforced("$ref", pointer, what + "; any value is accepted there");
      return nullptr;
    }
    if (target_pointer) *target_pointer = *target;
    return schema;
  }

  // A rule for the schema at `target`: one per target, so recursive schemas become recursive rules.
  std::string ref_rule(const std::string& target) {
    if (auto it = ref_rules_.find(target); it != ref_rules_.end()) return it->second;
    std::string hint = target.empty() ? "root-ref" : target.substr(target.rfind('/') + 1);
    const std::string name = unique_name(hint);
    ref_rules_[target] = name;
    const size_t slot = rules_.size();
    rules_.push_back({name, ""});
    std::string body = visit(*at_pointer(target), target, name);
    if (body.empty()) {
      never_refs_.insert(name);
      body = "\"\\x00\" \"never\"";  // unreachable: refs to a false schema are pruned by the callers
    }
    rules_[slot].second = body;
    return name;
  }

  // ---- allOf merging ----

  // `schema` with its $ref (and allOf) replaced by what they name, for merging; `depth` bounds cycles.
  json expand(const json& schema, const std::string& pointer, int depth) {
    if (schema.is_boolean()) return schema.get<bool>() ? json::object() : json{{"not", json::object()}};
    if (!schema.is_object()) throw SchemaError("", pointer, "a schema must be an object or a boolean");
    if (depth > 24) throw SchemaError("allOf", pointer, "allOf/$ref nesting is too deep or cyclic to merge");
    json out = schema;
    if (out.contains("$ref") && out["$ref"].is_string()) {
      const std::string ref = out["$ref"].get<std::string>();
      std::string target;
      const json* resolved = resolve(ref, pointer, &target);
      json base = resolved ? expand(*resolved, target, depth + 1) : json::object();
      out.erase("$ref");
      if (draft_ <= Draft::Draft7 && draft_ != Draft::Unknown) {
        out = std::move(base);  // siblings of $ref are ignored before 2019-09
      } else {
        out = merge(std::move(base), out, pointer, depth);
      }
    }
    if (out.contains("allOf") && out["allOf"].is_array()) {
      const json parts = out["allOf"];
      out.erase("allOf");
      for (size_t i = 0; i < parts.size(); ++i)
        out = merge(std::move(out), expand(parts[i], pointer + "/allOf/" + std::to_string(i), depth + 1), pointer, depth);
    }
    return out;
  }

  // Both schemas hold; merges keyword by keyword, keeping the first value (with a warning) where two
  // constraints cannot be combined.
  json merge(json a, const json& b, const std::string& pointer, int depth) {
    // Each schema holds on its own, so one side's additionalProperties also judges the properties only
    // the other side declares; the merged schema applies it to their union instead: reported.
    const auto judges_others = [](const json& x, const json& y) {
      if (!x.contains("additionalProperties") || x["additionalProperties"] == json(true)) return false;
      for (const char* k : {"properties", "patternProperties"})
        if (y.contains(k) && y[k].is_object())
          for (const auto& item : y[k].items())
            if (!x.contains(k) || !x[k].is_object() || !x[k].contains(item.key())) return true;
      return false;
    };
    if (judges_others(a, b) || judges_others(b, a))
      unenforced("additionalProperties", pointer,
                 "additionalProperties beside allOf or $ref also judges the properties the other schemas declare; not enforced on those");
    for (const auto& [key, vb] : b.items()) {
      if (!a.contains(key)) {
        a[key] = vb;
        continue;
      }
      json& va = a[key];
      if (va == vb || kAnnotations.count(key)) continue;
      if ((key == "properties" || key == "patternProperties") && va.is_object() && vb.is_object()) {
        for (const auto& [name, sub] : vb.items()) {
          if (!va.contains(name)) va[name] = sub;
          else va[name] = merge(expand(va[name], pointer, depth + 1), expand(sub, pointer, depth + 1), pointer, depth + 1);
        }
      } else if (key == "required" && va.is_array() && vb.is_array()) {
        for (const json& r : vb)
          if (std::find(va.begin(), va.end(), r) == va.end()) va.push_back(r);
      } else if (key == "type") {
        std::set<std::string> ta = types_of(a), tb = types_of(json{{"type", vb}});
        json both = json::array();
        for (const std::string& t : ta) {
          if (tb.count(t)) both.push_back(t);
          else if (t == "integer" && tb.count("number")) both.push_back("integer");
          else if (t == "number" && tb.count("integer")) both.push_back("integer");
        }
        va = both.size() == 1 ? both[0] : both;
      } else if (key == "enum" && va.is_array() && vb.is_array()) {
        json both = json::array();
        for (const json& v : va)
          if (std::find(vb.begin(), vb.end(), v) != vb.end()) both.push_back(v);
        va = both;
      } else if ((key == "minimum" || key == "minLength" || key == "minItems" || key == "exclusiveMinimum") &&
                 va.is_number() && vb.is_number()) {
        if (vb.get<double>() > va.get<double>()) va = vb;
      } else if ((key == "maximum" || key == "maxLength" || key == "maxItems" || key == "exclusiveMaximum") &&
                 va.is_number() && vb.is_number()) {
        if (vb.get<double>() < va.get<double>()) va = vb;
      } else if ((key == "items" || key == "additionalProperties" || key == "additionalItems") &&
                 (va.is_object() || va.is_boolean()) && (vb.is_object() || vb.is_boolean())) {
        if (va.is_boolean() && !va.get<bool>()) continue;
        if (vb.is_boolean() && !vb.get<bool>()) {
          va = vb;
          continue;
        }
        va = merge(expand(va, pointer, depth + 1), expand(vb, pointer, depth + 1), pointer, depth + 1);
      } else if ((key == "anyOf" || key == "oneOf") && va.is_array() && vb.is_array() && va.size() * vb.size() <= 16) {
        json product = json::array();
        for (const json& x : va)
          for (const json& y : vb)
            product.push_back(merge(expand(x, pointer, depth + 1), expand(y, pointer, depth + 1), pointer, depth + 1));
        va = product;
      } else if (kConstraints.count(key) && !kUnenforceable.count(key)) {
        unenforced(key, pointer, "allOf combines two different '" + key + "' values; only the first is enforced");
      }
    }
    return a;
  }

  // ---- schemas ----

  // A GBNF expression for the JSON texts valid under `schema`; "" when none is.
  std::string visit(const json& schema, const std::string& pointer, const std::string& hint) {
    if (++depth_ > 200) throw SchemaError("", pointer, "the schema nests too deeply (more than 200 levels)");
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};

    if (schema.is_boolean()) return schema.get<bool>() ? json_value() : "";
    if (!schema.is_object()) throw SchemaError("", pointer, "a schema must be an object or a boolean, not " + std::string(schema.type_name()));

    if (schema.contains("$ref")) {
      if (!schema["$ref"].is_string()) throw SchemaError("$ref", pointer, "$ref must be a string");
      const bool siblings_ignored = draft_ != Draft::Unknown && draft_ <= Draft::Draft7;
      if (siblings_ignored || !has_constraints(schema, {"$ref"})) {
        std::string target;
        if (!resolve(schema["$ref"].get<std::string>(), pointer, &target)) return json_value();
        const std::string name = ref_rule(target);
        return never_refs_.count(name) ? "" : name;
      }
      // Sibling constraints (2019-09 on): merge them into the target, unless that target is already being
      // inlined above us (a recursive schema), where the recursive rule is used and the siblings dropped.
      std::string target;
      if (!resolve(schema["$ref"].get<std::string>(), pointer, &target)) return json_value();
      if (inlining_.count(target)) {
        unenforced("$ref", pointer, "keywords beside a recursive $ref are not enforced");
        const std::string name = ref_rule(target);
        return never_refs_.count(name) ? "" : name;
      }
      inlining_.insert(target);
      std::string out = visit(expand(schema, pointer, 0), pointer, hint);
      inlining_.erase(target);
      return out;
    }
    if (schema.contains("allOf")) {
      if (!schema["allOf"].is_array()) throw SchemaError("allOf", pointer, "allOf must be an array of schemas");
      return visit(expand(schema, pointer, 0), pointer, hint);
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!schema.contains(key)) continue;
      return visit_alternatives(schema, key, pointer, hint);
    }

    if (const auto shapes = dependency_shapes(schema, pointer)) return visit(*shapes, pointer, hint);

    report_unenforceable(schema, pointer);

    if (schema.contains("const")) return literal_for(schema, schema["const"], pointer, "const");
    if (schema.contains("enum")) {
      if (!schema["enum"].is_array()) throw SchemaError("enum", pointer, "enum must be an array");
      std::vector<std::string> options;
      for (const json& v : schema["enum"]) {
        std::string lit = literal_for(schema, v, pointer, "enum");
        if (!lit.empty() && std::find(options.begin(), options.end(), lit) == options.end()) options.push_back(lit);
      }
      if (options.empty()) return "";
      return rule(hint, join_alternatives(options));
    }

    std::set<std::string> types = types_of(schema);
    if (schema.contains("type") && !schema["type"].is_string() && !schema["type"].is_array())
      throw SchemaError("type", pointer, "type must be a string or an array of strings");
    if (schema.contains("type") && types.empty()) return "";
    if (types.empty()) types = inferred_types(schema);
    if (const auto excluded = excluded_types(schema)) {
      if (types.empty()) types = {"null", "boolean", "object", "array", "number", "string"};
      if (types.count("number") && !excluded->count("number") && excluded->count("integer"))
        unenforced("not", pointer + "/not", "'not' of integers beside numbers is not enforced");
      for (const std::string& t : *excluded) types.erase(t);
      if (types.empty()) return "";
    }
    if (types.empty()) return json_value();
    if (types.count("number")) types.erase("integer");

    std::vector<std::string> options;
    for (const std::string& type : types) {
      std::string e;
      if (type == "null") e = "\"null\"";
      else if (type == "boolean") e = "( \"true\" | \"false\" )";
      else if (type == "string") e = string_grammar(schema, pointer, hint);
      else if (type == "integer") e = integer_grammar(schema, pointer);
      else if (type == "number") e = number_grammar(schema, pointer);
      else if (type == "object") e = object_grammar(schema, pointer, hint);
      else if (type == "array") e = array_grammar(schema, pointer, hint);
      else throw SchemaError("type", pointer + "/type", "unknown type \"" + type + "\" (expected null, boolean, object, array, number, integer or string)");
      if (!e.empty()) options.push_back(e);
    }
    if (options.empty()) return "";
    if (options.size() == 1 && is_rule_name(options[0])) return options[0];
    return rule(hint, join_alternatives(options));
  }

  // dependencies / dependentRequired / dependentSchemas as a union of object shapes: for each trigger
  // property, one shape without it and one with it (and what it depends on). Up to 4 triggers (16 shapes);
  // nullopt when there are none, or too many (then reported).
  std::optional<json> dependency_shapes(const json& schema, const std::string& pointer) {
    constexpr size_t kMaxTriggers = 4;
    std::vector<std::tuple<std::string, std::string, json>> triggers;  // keyword, property, dependency
    for (const char* keyword : {"dependencies", "dependentRequired", "dependentSchemas"}) {
      if (!schema.contains(keyword)) continue;
      if (!schema[keyword].is_object()) throw SchemaError(keyword, pointer + "/" + keyword, std::string(keyword) + " must be an object");
      for (const auto& [name, dependency] : schema[keyword].items()) triggers.emplace_back(keyword, name, dependency);
    }
    if (triggers.empty() || triggers.size() > kMaxTriggers) return std::nullopt;
    const std::set<std::string> types = types_of(schema);
    if (!types.empty() && !types.count("object")) return std::nullopt;  // they only constrain objects
    json base = schema;
    for (const char* keyword : {"dependencies", "dependentRequired", "dependentSchemas"}) base.erase(keyword);
    std::vector<json> shapes{base};
    for (const auto& [keyword, name, dependency] : triggers) {
      const std::string at = pointer + "/" + keyword + "/" + pointer_escape(name);
      std::vector<json> next;
      for (const json& shape : shapes) {
        json absent = shape;
        if (!absent.contains("properties") || !absent["properties"].is_object()) absent["properties"] = json::object();
        absent["properties"][name] = false;
        next.push_back(std::move(absent));
        json present = shape;
        json needs = json::array({name});
        if (dependency.is_array()) {
          for (const json& d : dependency) needs.push_back(d);
        } else {
          present = merge(std::move(present), expand(dependency, at, 0), at, 0);
        }
        present = merge(std::move(present), json{{"required", needs}}, at, 0);
        next.push_back(std::move(present));
      }
      shapes = std::move(next);
    }
    return json{{"anyOf", shapes}};
  }

  // `not` in the forms a grammar enforces: {"type": ...} (those types left out), and a list of strings
  // (const/enum) beside a plain string schema (those strings left out).
  static std::optional<std::set<std::string>> excluded_types(const json& schema) {
    if (!schema.contains("not") || !schema["not"].is_object() || schema["not"].size() != 1 || !schema["not"].contains("type"))
      return std::nullopt;
    std::set<std::string> out = types_of(schema["not"]);
    if (out.count("number")) out.insert("integer");
    return out.empty() ? std::nullopt : std::optional<std::set<std::string>>(out);
  }
  static std::optional<std::vector<std::string>> excluded_strings(const json& schema) {
    if (!schema.contains("not") || !schema["not"].is_object()) return std::nullopt;
    for (const char* key : {"pattern", "format", "minLength", "maxLength"})
      if (schema.contains(key)) return std::nullopt;
    if (types_of(schema) != std::set<std::string>{"string"}) return std::nullopt;
    const json& n = schema["not"];
    std::vector<std::string> out;
    for (const auto& [key, value] : n.items()) {
      if (key == "type" && types_of(n) == std::set<std::string>{"string"}) continue;
      if (key != "const" && key != "enum") return std::nullopt;
      for (const json& v : key == "const" ? json::array({value}) : value) {
        if (!v.is_string()) return std::nullopt;
        out.push_back(v.get<std::string>());
      }
    }
    return out.empty() ? std::nullopt : std::optional<std::vector<std::string>>(out);
  }

  void report_unenforceable(const json& schema, const std::string& pointer) {
    for (const auto& [key, value] : schema.items()) {
      if (!kUnenforceable.count(key)) continue;
      if (key == "not" && (excluded_types(schema) || excluded_strings(schema))) continue;
      if (key == "not" || key == "if") {
        if (value.is_boolean() ? value.get<bool>() : (value.is_object() && value.empty())) continue;
      }
      unenforced(key, pointer + "/" + key, "'" + key + "' is not enforced");
    }
  }

  static std::string join_alternatives(const std::vector<std::string>& options) {
    std::string out;
    for (size_t i = 0; i < options.size(); ++i) out += (i ? " | " : "") + options[i];
    return out;
  }

  // True when `schema` has a keyword (other than `ignored` and annotations) that constrains instances.
  static bool has_constraints(const json& schema, std::initializer_list<const char*> ignored) {
    for (const auto& [key, value] : schema.items()) {
      if (!kConstraints.count(key)) continue;
      const std::string& name = key;  // (clang 14 cannot capture a structured binding)
      if (std::find_if(ignored.begin(), ignored.end(), [&](const char* k) { return name == k; }) != ignored.end()) continue;
      return true;
    }
    return false;
  }

  static std::set<std::string> inferred_types(const json& schema) {
    std::set<std::string> out;
    for (const auto& [key, value] : schema.items()) {
      if (key == "properties" || key == "required" || key == "additionalProperties" || key == "patternProperties")
        out.insert("object");
      else if (key == "items" || key == "prefixItems" || key == "minItems" || key == "maxItems" || key == "additionalItems")
        out.insert("array");
      else if (key == "minLength" || key == "maxLength" || key == "pattern" || key == "format")
        out.insert("string");
      else if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" || key == "exclusiveMaximum" || key == "multipleOf")
        out.insert("number");
    }
    // `format` alone often annotates non-strings too (int64, double): then it says nothing about the type.
    if (out == std::set<std::string>{"string"} && !schema.contains("minLength") && !schema.contains("maxLength") &&
        !schema.contains("pattern") && schema.contains("format") && schema["format"].is_string() &&
        !schema::string_format_expression(schema["format"].get<std::string>()))
      out.clear();
    return out;
  }

  std::string visit_alternatives(const json& schema, const char* key, const std::string& pointer, const std::string& hint) {
    const json& branches = schema[key];
    if (!branches.is_array() || branches.empty())
      throw SchemaError(key, pointer, std::string(key) + " must be a non-empty array of schemas");
    json base = schema;
    base.erase(key);
    // Sibling keywords hold in every branch: merged into each, when there is something to enforce.
    bool merge_base = false;
    for (const auto& [k, v] : base.items()) merge_base |= kConstraints.count(k) && !kUnenforceable.count(k);
    if (!merge_base) report_unenforceable(base, pointer);
    std::vector<std::string> options;
    std::vector<json> expanded;
    for (size_t i = 0; i < branches.size(); ++i) {
      const std::string branch_pointer = pointer + "/" + key + "/" + std::to_string(i);
      std::string e;
      std::string target;
      const json& branch = branches[i];
      if (merge_base && branch.is_object() && branch.contains("$ref") && branch["$ref"].is_string()) {
        if (const auto t = ref_pointer(branch["$ref"].get<std::string>())) target = *t;
      }
      if (merge_base && !target.empty() && inlining_.count(target)) {
        // A recursive branch: use its rule; the sibling keywords are not enforced inside it.
        unenforced(key, branch_pointer, "keywords beside a recursive $ref are not enforced");
        e = visit(branch, branch_pointer, hint + "-" + std::to_string(i));
        expanded.push_back(branch);
      } else if (merge_base) {
        if (!target.empty()) inlining_.insert(target);
        json merged = merge(expand(base, pointer, 0), expand(branch, branch_pointer, 0), branch_pointer, 0);
        e = visit(merged, branch_pointer, hint + "-" + std::to_string(i));
        if (!target.empty()) inlining_.erase(target);
        expanded.push_back(std::move(merged));
      } else {
        e = visit(branches[i], branch_pointer, hint + "-" + std::to_string(i));
        expanded.push_back(branches[i].is_object() ? branches[i] : json::object());
      }
      if (!e.empty() && std::find(options.begin(), options.end(), e) == options.end()) options.push_back(e);
    }
    if (std::string(key) == "oneOf" && !branches_disjoint(expanded))
      unenforced("oneOf", pointer + "/oneOf",
                 "'oneOf' is enforced as 'anyOf': a value matching several branches is accepted");
    if (options.empty()) return "";
    if (options.size() == 1) return options[0];
    return rule(hint, join_alternatives(options));
  }

  // Whether no value can match two branches: told apart by type, or by a const/enum discriminator.
  bool branches_disjoint(const std::vector<json>& branches) {
    auto type_set = [&](const json& b) {
      std::set<std::string> t = types_of(deref(b));
      if (t.empty()) t = inferred_types(deref(b));
      if (t.count("number")) t.insert("integer");
      return t;
    };
    auto literal_set = [&](const json& b) -> std::optional<std::vector<json>> {
      const json& s = deref(b);
      if (s.contains("const")) return std::vector<json>{s["const"]};
      if (s.contains("enum") && s["enum"].is_array()) return std::vector<json>(s["enum"].begin(), s["enum"].end());
      return std::nullopt;
    };
    for (size_t i = 0; i < branches.size(); ++i)
      for (size_t j = i + 1; j < branches.size(); ++j) {
        const auto ti = type_set(branches[i]), tj = type_set(branches[j]);
        bool disjoint = false;
        if (!ti.empty() && !tj.empty()) {
          disjoint = true;
          for (const auto& t : ti)
            if (tj.count(t)) disjoint = false;
        }
        if (!disjoint) {
          const auto li = literal_set(branches[i]), lj = literal_set(branches[j]);
          if (li && lj) {
            disjoint = true;
            for (const auto& v : *li)
              if (std::find(lj->begin(), lj->end(), v) != lj->end()) disjoint = false;
          }
        }
        if (!disjoint) disjoint = discriminated(deref(branches[i]), deref(branches[j]));
        if (!disjoint) return false;
      }
    return true;
  }

  // Two object schemas that both require a property whose const/enum values differ.
  bool discriminated(const json& a, const json& b) {
    if (!a.contains("properties") || !b.contains("properties") || !a["properties"].is_object() || !b["properties"].is_object())
      return false;
    for (const auto& [name, pa] : a["properties"].items()) {
      if (!b["properties"].contains(name)) continue;
      const json& x = deref(pa);
      const json& y = deref(b["properties"][name]);
      auto values = [](const json& s) -> std::optional<std::vector<json>> {
        if (!s.is_object()) return std::nullopt;
        if (s.contains("const")) return std::vector<json>{s["const"]};
        if (s.contains("enum") && s["enum"].is_array()) return std::vector<json>(s["enum"].begin(), s["enum"].end());
        return std::nullopt;
      };
      const auto vx = values(x), vy = values(y);
      if (!vx || !vy) continue;
      const std::string& key = name;  // (clang 14 cannot capture a structured binding)
      auto required = [&](const json& s) {
        return s.contains("required") && s["required"].is_array() &&
               std::find(s["required"].begin(), s["required"].end(), key) != s["required"].end();
      };
      if (!required(a) || !required(b)) continue;
      bool overlap = false;
      for (const auto& v : *vx)
        if (std::find(vy->begin(), vy->end(), v) != vy->end()) overlap = true;
      if (!overlap) return true;
    }
    return false;
  }

  const json& deref(const json& s) {
    static const json empty = json::object();
    const json* cur = &s;
    for (int k = 0; k < 16 && cur->is_object() && cur->contains("$ref") && (*cur)["$ref"].is_string(); ++k) {
      const auto target = ref_pointer((*cur)["$ref"].get<std::string>());
      const json* next = target ? at_pointer(*target) : nullptr;
      if (!next) return empty;
      cur = next;
    }
    return cur->is_object() ? *cur : empty;
  }

  // ---- literals (enum, const) ----

  // The literal's grammar when it has a type the schema allows ("" otherwise).
  std::string literal_for(const json& schema, const json& value, const std::string& pointer, const char* keyword) {
    if (!type_allows(types_of(schema), json_type_name(value))) return "";
    return literal(value);
  }

  std::string literal(const json& v) {
    if (v.is_object()) {
      if (v.empty()) return "\"{\" ws \"}\"";
      std::string out = "\"{\" ws ";
      bool first = true;
      for (const auto& [key, value] : v.items()) {
        if (!first) out += " \",\" ws ";
        first = false;
        out += gbnf_literal(json_string_text(key)) + " \":\" ws " + literal(value);
      }
      return "( " + out + " ws \"}\" )";
    }
    if (v.is_array()) {
      if (v.empty()) return "\"[\" ws \"]\"";
      std::string out = "\"[\" ws ";
      for (size_t i = 0; i < v.size(); ++i) out += (i ? " \",\" ws " : "") + literal(v[i]);
      return "( " + out + " ws \"]\" )";
    }
    if (v.is_number_float() && is_integral(v.get<double>())) {
      // 1.0 and 1 are the same JSON Schema value.
      const auto n = static_cast<long long>(v.get<double>());
      return "( " + gbnf_literal(std::to_string(n)) + " | " + gbnf_literal(v.dump()) + " )";
    }
    return gbnf_literal(v.dump());
  }

  // ---- strings ----

  std::optional<int64_t> count_keyword(const json& schema, const char* key, const std::string& pointer) {
    if (!schema.contains(key)) return std::nullopt;
    const json& v = schema[key];
    if (!v.is_number() || v.get<double>() < 0 || !is_integral(v.get<double>()))
      throw SchemaError(key, pointer + "/" + key, std::string(key) + " must be a non-negative integer");
    return static_cast<int64_t>(v.get<double>());
  }

  std::string string_grammar(const json& schema, const std::string& pointer, const std::string& hint) {
    const auto min_length = count_keyword(schema, "minLength", pointer);
    const auto max_length = count_keyword(schema, "maxLength", pointer);
    if (min_length && max_length && *min_length > *max_length) return "";
    const std::string quote = "\"\\\"\"";
    if (const auto excluded = excluded_strings(schema)) {
      const std::string content = schema::key_excluding_expression(
          *excluded, string_rest(), [&](const std::string& body) { return rule(hint + "-other-string", body); });
      return rule(hint + "-string", quote + " " + content + " " + quote);
    }
    if (schema.contains("pattern")) {
      if (!schema["pattern"].is_string()) throw SchemaError("pattern", pointer + "/pattern", "pattern must be a string");
      std::string expression;
      try {
        bool relaxed = false;
        expression = regex_to_gbnf_expression(schema["pattern"].get<std::string>(),
                                              {.json_string_content = true, .search = true, .max_repeat = options_.max_repeat}, &relaxed);
        if (relaxed)
          unenforced("pattern", pointer + "/pattern", "repetition counts above " + std::to_string(options_.max_repeat) + " in the pattern are not enforced");
      } catch (const RegexError& e) {
        if (options_.strict) throw SchemaError("pattern", pointer + "/pattern", e.what());
        unenforced("pattern", pointer + "/pattern", std::string("pattern not enforced: ") + e.what());
      }
      if (!expression.empty()) {
        if (min_length || max_length) unenforced("minLength", pointer, "minLength/maxLength are not enforced together with 'pattern'");
        if (schema.contains("format")) unenforced("format", pointer + "/format", "'format' is not enforced together with 'pattern'");
        return rule(hint + "-string", quote + " " + expression + " " + quote);
      }
    }
    if (schema.contains("format") && schema["format"].is_string()) {
      const std::string format = schema["format"].get<std::string>();
      if (const auto expression = schema::string_format_expression(format)) {
        if (min_length || max_length) unenforced("minLength", pointer, "minLength/maxLength are not enforced together with 'format'");
        return rule(format + "-string", quote + " " + *expression + " " + quote);
      }
      unenforced("format", pointer + "/format", "format \"" + format + "\" is not enforced");
    }
    if (!min_length && !max_length) return json_string();
    int64_t lo = min_length.value_or(0);
    int64_t hi = max_length.value_or(-1);  // -1: no upper bound
    if (lo > options_.max_repeat || hi > options_.max_repeat) {
      unenforced(lo > options_.max_repeat ? "minLength" : "maxLength", pointer,
                 "string lengths above " + std::to_string(options_.max_repeat) + " are not enforced");
      lo = std::min<int64_t>(lo, options_.max_repeat);
      hi = -1;
      if (lo == 0) return json_string();
    }
    std::string count = hi < 0 ? "{" + std::to_string(lo) + ",}"
                        : lo == hi ? "{" + std::to_string(lo) + "}"
                                   : "{" + std::to_string(lo) + "," + std::to_string(hi) + "}";
    if (hi == 0) return rule("empty-string", quote + " " + quote);
    return rule(hint + "-string", quote + " " + json_char() + count + " " + quote);
  }

  // ---- numbers ----

  struct Bound {
    double value;
    bool exclusive;
  };

  std::optional<Bound> lower_bound(const json& schema, const std::string& pointer) {
    std::optional<Bound> out;
    if (schema.contains("minimum")) {
      if (!schema["minimum"].is_number()) throw SchemaError("minimum", pointer + "/minimum", "minimum must be a number");
      const bool exclusive = schema.contains("exclusiveMinimum") && schema["exclusiveMinimum"].is_boolean() &&
                             schema["exclusiveMinimum"].get<bool>();
      out = Bound{schema["minimum"].get<double>(), exclusive};
    }
    if (schema.contains("exclusiveMinimum") && schema["exclusiveMinimum"].is_number()) {
      const double v = schema["exclusiveMinimum"].get<double>();
      if (!out || v >= out->value) out = Bound{v, true};
    }
    return out;
  }

  std::optional<Bound> upper_bound(const json& schema, const std::string& pointer) {
    std::optional<Bound> out;
    if (schema.contains("maximum")) {
      if (!schema["maximum"].is_number()) throw SchemaError("maximum", pointer + "/maximum", "maximum must be a number");
      const bool exclusive = schema.contains("exclusiveMaximum") && schema["exclusiveMaximum"].is_boolean() &&
                             schema["exclusiveMaximum"].get<bool>();
      out = Bound{schema["maximum"].get<double>(), exclusive};
    }
    if (schema.contains("exclusiveMaximum") && schema["exclusiveMaximum"].is_number()) {
      const double v = schema["exclusiveMaximum"].get<double>();
      if (!out || v <= out->value) out = Bound{v, true};
    }
    return out;
  }

  // multipleOf as an integer k > 1, or as 10^-p (decimal places); nullopt when absent or 1.
  struct Multiple {
    uint64_t integer = 0;    // k, when integral
    int decimal_places = 0;  // p, when k = 10^-p
  };
  std::optional<Multiple> multiple_of(const json& schema, const std::string& pointer) {
    if (!schema.contains("multipleOf")) return std::nullopt;
    const json& m = schema["multipleOf"];
    if (!m.is_number() || !(m.get<double>() > 0)) throw SchemaError("multipleOf", pointer + "/multipleOf", "multipleOf must be a number above 0");
    const double k = m.get<double>();
    if (is_integral(k)) return k == 1 ? std::nullopt : std::optional<Multiple>(Multiple{static_cast<uint64_t>(k), 0});
    for (int p = 1; p <= 12; ++p)
      if (std::fabs(k * std::pow(10.0, p) - 1) < 1e-9) return Multiple{0, p};
    return Multiple{};
  }

  std::string integer_grammar(const json& schema, const std::string& pointer) {
    const auto lower = lower_bound(schema, pointer);
    const auto upper = upper_bound(schema, pointer);
    constexpr double kLimit = 9.0e18;
    std::optional<int64_t> lo, hi;
    if (lower && std::fabs(lower->value) < kLimit) {
      double v = lower->exclusive ? std::floor(lower->value) + 1 : std::ceil(lower->value);
      lo = static_cast<int64_t>(v);
    }
    if (upper && std::fabs(upper->value) < kLimit) {
      double v = upper->exclusive ? std::ceil(upper->value) - 1 : std::floor(upper->value);
      hi = static_cast<int64_t>(v);
    }
    if (lo && hi && *lo > *hi) return "";
    const auto multiple = multiple_of(schema, pointer);
    if (multiple && multiple->integer > 1) return integer_multiples(multiple->integer, lo, hi, pointer);
    // Every integer is a multiple of 10^-p; other fractional multipleOf values are reported.
    if (multiple && multiple->integer == 0 && multiple->decimal_places == 0)
      unenforced("multipleOf", pointer + "/multipleOf", "multipleOf " + schema["multipleOf"].dump() + " is not enforced");
    if (!lo && !hi) return json_integer();
    return rule("integer-range", schema::integer_range_expression(lo, hi));
  }

  // Integers in [lo, hi] that are multiples of k: listed when there are few, else the remainder automaton
  // with the bounds' signs (the rest of the bounds reported).
  std::string integer_multiples(uint64_t k, std::optional<int64_t> lo, std::optional<int64_t> hi, const std::string& pointer) {
    constexpr int64_t kMaxListed = 64;
    constexpr uint64_t kMaxModulus = 1000;
    if (lo && hi && k <= static_cast<uint64_t>(INT64_MAX)) {
      const auto kk = static_cast<int64_t>(k);
      auto floor_div = [](int64_t a, int64_t b) { return a / b - ((a % b != 0) && (a < 0)); };
      const int64_t first = -floor_div(-*lo, kk), last = floor_div(*hi, kk);
      if (first > last) return "";
      if (last - first < kMaxListed) {
        std::vector<std::string> values;
        for (int64_t q = first; q <= last; ++q) values.push_back(gbnf_literal(std::to_string(q * kk)));
        return rule("integer-multiples", join_alternatives(values));
      }
    }
    if (k > kMaxModulus) {
      unenforced("multipleOf", pointer + "/multipleOf", "multipleOf above " + std::to_string(kMaxModulus) + " is not enforced");
      if (!lo && !hi) return json_integer();
      return rule("integer-range", schema::integer_range_expression(lo, hi));
    }
    const std::string positive = positive_multiples(k);
    const std::string magnitude = rule("multiple-of-" + std::to_string(k), "\"0\" | " + positive);
    // A bound within k of zero is exact as a sign: the nearest multiple past it is k or -k.
    const bool above_zero = lo && *lo > 0 && static_cast<uint64_t>(*lo) <= k;
    const bool below_zero = hi && *hi < 0 && static_cast<uint64_t>(-*hi) <= k;
    if ((lo && *lo != 0 && !above_zero) || (hi && *hi != 0 && !below_zero))
      unenforced(lo && *lo != 0 && !above_zero ? "minimum" : "maximum", pointer, "with multipleOf, only the signs of the bounds are enforced");
    if (above_zero) return positive;
    if (lo && *lo >= 0) return magnitude;
    if (below_zero) return rule("negative-multiples", "\"-\" " + positive);
    if (hi && *hi <= 0) return rule("non-positive-multiples", "\"0\" | \"-\" " + positive);
    return rule("integer-multiples", "\"-\"? " + magnitude);
  }

  // The rule for the positive decimal magnitudes that are multiples of k, of at most 15 digits: below
  // 2^53, so a parser of doubles reads them exactly (a longer multiple in the text may be read as a
  // non-multiple).
  std::string positive_multiples(uint64_t k) {
    if (auto it = multiple_rules_.find(k); it != multiple_rules_.end()) return it->second;
    const std::string positive = schema::positive_multiples(k, 15, [&](const std::string& hint, const std::string& body) { return rule(hint, body); });
    return multiple_rules_[k] = rule("positive-multiples-of-" + std::to_string(k), positive);
  }

  std::string number_grammar(const json& schema, const std::string& pointer) {
    const auto lower = lower_bound(schema, pointer);
    const auto upper = upper_bound(schema, pointer);
    std::string fraction = "( \".\" [0-9]+ )?", exponent = "( [eE] [\\-+]? [0-9]+ )?";
    int places = 0;  // most decimal places multipleOf allows (0: any)
    if (const auto multiple = multiple_of(schema, pointer)) {
      if (multiple->integer > 1) {
        // Integral multiples, possibly written with a zero fraction (3.0).
        json as_integer = schema;
        as_integer["type"] = "integer";
        const std::string integers = integer_grammar(as_integer, pointer);
        return integers.empty() ? "" : rule("integral-number", integers + " ( \".\" \"0\"+ )?");
      }
      if (multiple->decimal_places > 0) {
        places = multiple->decimal_places;
        fraction = "( \".\" [0-9]{1," + std::to_string(places) + "} )?";
        exponent = "";
      } else {
        unenforced("multipleOf", pointer + "/multipleOf", "multipleOf " + schema["multipleOf"].dump() + " is not enforced on numbers");
      }
    }
    if (!lower && !upper) {
      if (exponent.empty()) return rule("decimal", "\"-\"? ( \"0\" | [1-9] [0-9]* ) " + fraction);
      return json_number();
    }
    // Bounds other than zero: decimals (without exponent) in the range, digit by digit.
    const bool sign_only = (!lower || lower->value == 0) && (!upper || upper->value == 0);
    if (!sign_only && !exponent.empty()) {
      const auto range = schema::decimal_range_expression(lower ? std::optional<double>(lower->value) : std::nullopt,
                                                          lower && lower->exclusive,
                                                          upper ? std::optional<double>(upper->value) : std::nullopt,
                                                          upper && upper->exclusive);
      if (range) return range->empty() ? "" : rule("number-range", *range);
    }
    // Not zero: a non-zero digit somewhere in the magnitude, which has no exponent, since a parser of
    // doubles reads 1e-400 as 0, which an exclusive bound of 0 refuses.
    const std::string non_zero = [&] {
      std::string small = "\"0\"* [1-9] [0-9]*";
      if (places > 0) {
        std::vector<std::string> by_zeros;
        for (int zeros = 0; zeros < places; ++zeros)
          by_zeros.push_back((zeros ? "\"0\"{" + std::to_string(zeros) + "} " : std::string()) + "[1-9] [0-9]{0," + std::to_string(places - 1 - zeros) + "}");
        small = "( " + join_alternatives(by_zeros) + " )";
      }
      return "( [1-9] [0-9]* " + fraction + " | \"0\" \".\" " + small + " )";
    }();
    std::string body;
    if (lower && lower->value >= 0) {
      if (lower->value == 0 && lower->exclusive) {
        body = non_zero;
      } else {
        body = "( \"0\" | [1-9] [0-9]* ) " + fraction + " " + exponent;
      }
      if (lower->value > 0) unenforced(lower->exclusive ? "exclusiveMinimum" : "minimum", pointer, "only the sign of the lower bound of a number is enforced");
      if (upper) unenforced(upper->exclusive ? "exclusiveMaximum" : "maximum", pointer, "the upper bound of a number is not enforced");
      return rule("number-range", body);
    }
    if (upper && upper->value <= 0 && !lower) {
      if (upper->exclusive) {
        body = "\"-\" " + non_zero;
      } else {
        body = "\"0\" | \"-\"? \"0\" \".\" \"0\"+ | \"-\" ( \"0\" | [1-9] [0-9]* ) " + fraction + " " + exponent;
      }
      if (upper->value < 0) unenforced(upper->exclusive ? "exclusiveMaximum" : "maximum", pointer, "only the sign of the upper bound of a number is enforced");
      return rule("number-range", body);
    }
    if (lower) unenforced(lower->exclusive ? "exclusiveMinimum" : "minimum", pointer, "the lower bound of a number is not enforced");
    if (upper) unenforced(upper->exclusive ? "exclusiveMaximum" : "maximum", pointer, "the upper bound of a number is not enforced");
    if (exponent.empty()) return rule("decimal", "\"-\"? ( \"0\" | [1-9] [0-9]* ) " + fraction);
    return json_number();
  }

  // ---- objects ----

  struct Property {
    std::string name;
    std::string value;  // GBNF expression
    bool required;
  };

  std::string object_grammar(const json& schema, const std::string& pointer, const std::string& hint) {
    std::vector<Property> properties;
    std::set<std::string> required;
    if (schema.contains("required")) {
      if (!schema["required"].is_array()) {
        // draft 3's boolean `required` inside a property: not a constraint of this object.
        if (!schema["required"].is_boolean()) throw SchemaError("required", pointer + "/required", "required must be an array of property names");
      } else {
        for (const json& r : schema["required"]) {
          if (!r.is_string()) throw SchemaError("required", pointer + "/required", "required must list property names (strings)");
          required.insert(r.get<std::string>());
        }
      }
    }
    std::set<std::string> known;
    if (schema.contains("properties")) {
      if (!schema["properties"].is_object()) throw SchemaError("properties", pointer + "/properties", "properties must be an object");
      for (const auto& [name, sub] : schema["properties"].items()) {
        known.insert(name);
        const std::string sub_pointer = pointer + "/properties/" + pointer_escape(name);
        std::string value = visit(sub, sub_pointer, hint + "-" + name);
        if (value.empty()) {
          if (required.count(name)) return "";  // a required property that no value satisfies
          continue;
        }
        properties.push_back({name, value, required.count(name) > 0});
      }
    }
    // Required properties without a schema take any value.
    for (const std::string& name : required) {
      if (known.count(name)) continue;
      known.insert(name);
      properties.push_back({name, json_value(), true});
    }

    // Keys beyond `properties`: patternProperties, then additionalProperties.
    std::vector<std::string> extra;
    if (schema.contains("patternProperties")) {
      if (!schema["patternProperties"].is_object())
        throw SchemaError("patternProperties", pointer + "/patternProperties", "patternProperties must be an object");
      for (const auto& [pattern, sub] : schema["patternProperties"].items()) {
        const std::string sub_pointer = pointer + "/patternProperties/" + pointer_escape(pattern);
        std::string key;
        try {
          bool relaxed = false;
          key = regex_to_gbnf_expression(pattern, {.json_string_content = true, .search = true, .max_repeat = options_.max_repeat}, &relaxed);
          if (relaxed)
            unenforced("patternProperties", sub_pointer, "repetition counts above " + std::to_string(options_.max_repeat) + " in the key pattern are not enforced");
        } catch (const RegexError& e) {
          if (options_.strict) throw SchemaError("patternProperties", sub_pointer, e.what());
          unenforced("patternProperties", sub_pointer, std::string("key pattern not enforced: ") + e.what());
          key = json_char() + "*";
        }
        std::string value = visit(sub, sub_pointer, hint + "-pattern");
        if (value.empty()) continue;
        extra.push_back(rule(hint + "-pattern-kv", "\"\\\"\" " + key + " \"\\\"\" \":\" ws " + value));
      }
    }
    // A key matching a pattern must have the pattern's value, so a pattern that matches every key leaves
    // no additional ones; other patterns cannot be subtracted from the additional keys (reported).
    bool universal_pattern = false, other_pattern = false;
    if (schema.contains("patternProperties"))
      for (const auto& [pattern, sub] : schema["patternProperties"].items()) (matches_every_string(pattern) ? universal_pattern : other_pattern) = true;
    bool additional = !universal_pattern;
    std::string additional_value;
    if (schema.contains("additionalProperties")) {
      const json& ap = schema["additionalProperties"];
      if (ap.is_boolean() && !ap.get<bool>()) additional = false;
      else {
        additional_value = visit(ap, pointer + "/additionalProperties", hint + "-additional");
        if (additional_value.empty()) additional = false;
      }
    }
    std::string additional_key;
    if (additional) {
      additional_key = property_name_key(schema, known, pointer, hint);
      additional = !additional_key.empty();
    }
    if (additional) {
      if (additional_value.empty()) additional_value = json_value();
      if (other_pattern)
        unenforced("patternProperties", pointer + "/patternProperties",
                   "additional properties whose keys match a patternProperties pattern are not held to its schema");
      extra.push_back(rule(hint + "-additional-kv", additional_key + " \":\" ws " + additional_value));
    }

    std::vector<std::string> kvs;
    for (const Property& p : properties)
      kvs.push_back(rule(hint + "-" + p.name + "-kv", gbnf_literal(json_string_text(p.name)) + " \":\" ws " + p.value));
    const std::string extra_kv = extra.empty() ? "" : extra.size() == 1 ? extra[0] : rule(hint + "-extra-kv", join_alternatives(extra));
    const std::string comma = "\",\" ws";

    // minProperties/maxProperties: exact for maps (no declared properties), else when the required
    // properties or the declared ones decide them, or when minProperties 1 only asks for a member.
    const auto min_properties = count_keyword(schema, "minProperties", pointer);
    const auto max_properties = count_keyword(schema, "maxProperties", pointer);
    size_t required_count = 0;
    for (const Property& p : properties) required_count += p.required;
    if (properties.empty() && (min_properties || max_properties)) {
      const int64_t lo = std::min<int64_t>(min_properties.value_or(0), options_.max_repeat);
      if (max_properties && lo > *max_properties) return "";
      if (max_properties && *max_properties == 0) return rule("empty-object", "\"{\" ws \"}\"");
      if (extra_kv.empty()) return lo > 0 ? "" : rule("empty-object", "\"{\" ws \"}\"");
      if (min_properties.value_or(0) > options_.max_repeat || max_properties.value_or(0) > options_.max_repeat)
        unenforced("minProperties", pointer, "property counts above " + std::to_string(options_.max_repeat) + " are not enforced");
      std::optional<int64_t> hi;
      if (max_properties && *max_properties <= options_.max_repeat) hi = *max_properties;
      const std::string more = repeat_count(std::max<int64_t>(0, lo - 1), hi ? std::optional<int64_t>(*hi - 1) : std::nullopt);
      const std::string members = extra_kv + (more == "{0}" ? "" : " ( " + comma + " " + extra_kv + " )" + more);
      if (lo > 0) return rule(hint, "\"{\" ws " + members + " ws \"}\"");
      return rule(hint, "\"{\" ws ( " + members + " ws )? \"}\"");
    }
    bool non_empty = false;
    if (min_properties && static_cast<size_t>(*min_properties) > required_count) {
      if (*min_properties == 1) non_empty = true;
      else unenforced("minProperties", pointer + "/minProperties", "minProperties above 1 is not enforced beside declared properties");
    }
    if (max_properties && (!extra_kv.empty() || static_cast<size_t>(*max_properties) < properties.size()))
      unenforced("maxProperties", pointer + "/maxProperties", "maxProperties is not enforced beside declared properties");

    if (options_.any_property_order) return any_order_object(properties, kvs, extra_kv, non_empty, pointer, hint);

    // Schema order. rest[i]: members from property i on, after something was written (each with its
    // comma); first[i]: the same when nothing was written yet ("" when it must be empty).
    const size_t n = kvs.size();
    const std::string extra_rest = extra_kv.empty() ? "" : "( " + comma + " " + extra_kv + " )*";
    std::vector<std::string> rest(n + 1), first(n + 1);
    rest[n] = extra_rest;
    first[n] = extra_kv.empty() ? "" : extra_kv + (extra_rest.empty() ? "" : " " + extra_rest);
    for (size_t i = n; i-- > 0;) {
      const std::string after = rest[i + 1];
      const std::string piece = comma + " " + kvs[i];
      rest[i] = properties[i].required ? piece + (after.empty() ? "" : " " + after)
                                       : "( " + piece + " )?" + (after.empty() ? "" : " " + after);
      if (!rest[i].empty() && i > 0) rest[i] = rule(hint + "-rest-" + std::to_string(i), rest[i]);
      const std::string with_this = kvs[i] + (after.empty() ? "" : " " + after);
      if (properties[i].required || first[i + 1].empty()) {
        first[i] = with_this;
      } else {
        first[i] = with_this + " | " + first[i + 1];
      }
      if (i > 0 && !properties[i].required) first[i] = rule(hint + "-from-" + std::to_string(i), first[i]);
    }
    bool any_required = false;
    for (const Property& p : properties) any_required |= p.required;
    if (first[0].empty()) return non_empty ? "" : rule("empty-object", "\"{\" ws \"}\"");
    const std::string members = first[0].find(" | ") != std::string::npos ? "( " + first[0] + " )" : first[0];
    if (any_required || non_empty) return rule(hint, "\"{\" ws " + members + " ws \"}\"");
    return rule(hint, "\"{\" ws ( " + members + " ws )? \"}\"");
  }

  // The keys of additional properties (a JSON string with its quotes; "" when none may be): any key but the
  // declared ones, so that a declared key always gets its declared value schema and is written once; with
  // propertyNames, the names it allows (exactly when there are no declared names or it lists its names).
  std::string property_name_key(const json& schema, const std::set<std::string>& known, const std::string& pointer,
                                const std::string& hint) {
    const bool constrained = schema.contains("propertyNames") &&
                             !(schema["propertyNames"].is_boolean() ? schema["propertyNames"].get<bool>()
                                                                    : schema["propertyNames"].is_object() && schema["propertyNames"].empty());
    if (!constrained) return undeclared_key(known, hint);
    const std::string at = pointer + "/propertyNames";
    json names = merge(expand(schema["propertyNames"], at, 0), json{{"type", "string"}}, at, 0);
    const json* listed = names.contains("const") ? &names["const"] : names.contains("enum") ? &names["enum"] : nullptr;
    if (listed) {
      std::vector<std::string> keys;
      for (const json& v : listed->is_array() ? *listed : json::array({*listed}))
        if (v.is_string() && !known.count(v.get<std::string>())) keys.push_back(gbnf_literal(json_string_text(v.get<std::string>())));
      return keys.empty() ? "" : rule(hint + "-names", join_alternatives(keys));
    }
    if (known.empty()) return visit(names, at, hint + "-name");
    unenforced("propertyNames", at, "'propertyNames' is not enforced beside declared properties");
    return undeclared_key(known, hint);
  }

  // Whether a JSON Schema pattern (a search) matches every string: it has no end anchor and matches "".
  static bool matches_every_string(const std::string& pattern) {
    if (pattern.find('$') != std::string::npos) return false;
    try {
      const Grammar g = parse_gbnf("root ::= " + regex_to_gbnf_expression(pattern, {.json_string_content = true}));
      std::function<bool(const Expr&)> nullable = [&](const Expr& e) -> bool {
        switch (e.kind) {
          case Expr::Kind::Empty: return true;
          case Expr::Kind::Literal: return e.text.empty();
          case Expr::Kind::CharClass: return false;
          case Expr::Kind::RuleRef: return false;  // (regex expressions have none)
          case Expr::Kind::Sequence: return std::all_of(e.children.begin(), e.children.end(), nullable);
          case Expr::Kind::Choice: return std::any_of(e.children.begin(), e.children.end(), nullable);
          case Expr::Kind::Repeat: return e.min_count == 0 || nullable(e.children[0]);
        }
        return false;
      };
      return nullable(g.rules[static_cast<size_t>(g.root)].body);
    } catch (const Error&) {
      return false;  // not a pattern the converter reads: it falls back on its own
    }
  }

  // A JSON string (with its quotes) that is none of `names`.
  std::string undeclared_key(const std::set<std::string>& names, const std::string& hint) {
    if (names.empty()) return json_string();
    const std::string content = schema::key_excluding_expression(
        std::vector<std::string>(names.begin(), names.end()), string_rest(),
        [&](const std::string& body) { return rule(hint + "-other-key", body); });
    return "\"\\\"\" " + content + " \"\\\"\"";
  }

  // Members in any order. The rule after each member knows which of the tracked properties were written
  // (a subset of them, as a bit set): each appears at most once and the object closes only when the
  // required ones are all there. The subsets double with every tracked property, and each subset's rule
  // copies the members that may follow it into the automaton, so an object tracks at most
  // kMaxTrackedProperties (required ones first) and the schema at most kTrackingBudget members over all
  // its subsets; the others may repeat (reported).
  std::string any_order_object(const std::vector<Property>& properties, const std::vector<std::string>& kvs,
                               const std::string& extra_kv, bool non_empty, const std::string& pointer,
                               const std::string& hint) {
    constexpr size_t kMaxTrackedProperties = 6;
    std::vector<size_t> tracked, untracked;
    for (size_t i = 0; i < properties.size(); ++i)
      if (properties[i].required) tracked.push_back(i);
    for (size_t i = 0; i < properties.size(); ++i)
      if (!properties[i].required) tracked.push_back(i);
    size_t k = std::min(tracked.size(), kMaxTrackedProperties);
    while (k > 0 && (size_t{1} << k) * k > tracking_budget_) --k;
    tracking_budget_ -= (size_t{1} << k) * k;
    if (tracked.size() > k) {
      untracked.assign(tracked.begin() + static_cast<std::ptrdiff_t>(k), tracked.end());
      tracked.resize(k);
      for (size_t i : untracked) {
        const std::string& name = properties[i].name;
        unenforced(properties[i].required ? "required" : "properties", pointer + "/properties/" + pointer_escape(name),
                   properties[i].required ? "in any order, the required property '" + name + "' is not enforced (too many properties to track)"
                                          : "in any order, the property '" + name + "' may be repeated (too many properties to track)");
      }
    }
    uint32_t required_mask = 0;
    for (size_t t = 0; t < tracked.size(); ++t)
      if (properties[tracked[t]].required) required_mask |= 1u << t;
    // Members that may come any number of times: untracked properties and additional ones.
    std::vector<std::string> free;
    for (size_t i : untracked) free.push_back(kvs[i]);
    if (!extra_kv.empty()) free.push_back(extra_kv);
    const std::string comma = "\",\" ws ";
    const std::string free_kv = free.empty() ? "" : free.size() == 1 ? free[0] : rule(hint + "-free-kv", join_alternatives(free));
    const std::string free_rest = free_kv.empty() ? "" : "( " + comma + free_kv + " )*";
    // after(seen): what may follow once the members of `seen` (and maybe free ones) were written.
    std::map<uint32_t, std::string> memo;
    std::function<std::string(uint32_t)> after = [&](uint32_t seen) -> std::string {
      if (auto it = memo.find(seen); it != memo.end()) return it->second;
      std::vector<std::string> next;
      for (size_t t = 0; t < tracked.size(); ++t) {
        if (seen & (1u << t)) continue;
        const std::string then = after(seen | (1u << t));
        next.push_back(comma + kvs[tracked[t]] + (then.empty() ? "" : " " + then));
      }
      std::string body = free_rest;
      if (!next.empty()) {
        const std::string choice = join_alternatives(next);
        const bool may_end = (seen & required_mask) == required_mask;
        body += (body.empty() ? "" : " ") + ("( " + choice + " )" + (may_end ? "?" : ""));
      }
      return memo[seen] = body.empty() ? "" : rule(hint + "-after-" + std::to_string(seen), body);
    };
    // The first member: a tracked one, or a free one.
    std::vector<std::string> first;
    for (size_t t = 0; t < tracked.size(); ++t) {
      const std::string then = after(1u << t);
      first.push_back(kvs[tracked[t]] + (then.empty() ? "" : " " + then));
    }
    if (!free_kv.empty()) {
      const std::string then = after(0);
      first.push_back(free_kv + (then.empty() ? "" : " " + then));
    }
    if (first.empty()) return non_empty ? "" : rule("empty-object", "\"{\" ws \"}\"");
    const std::string members = first.size() == 1 ? first[0] : "( " + join_alternatives(first) + " )";
    if (required_mask || non_empty) return rule(hint, "\"{\" ws " + members + " ws \"}\"");
    return rule(hint, "\"{\" ws ( " + members + " ws )? \"}\"");
  }

  // ---- arrays ----

  std::string array_grammar(const json& schema, const std::string& pointer, const std::string& hint) {
    int64_t min_items = count_keyword(schema, "minItems", pointer).value_or(0);
    auto max_items = count_keyword(schema, "maxItems", pointer);
    if (schema.contains("uniqueItems") && schema["uniqueItems"].is_boolean() && schema["uniqueItems"].get<bool>())
      unenforced("uniqueItems", pointer + "/uniqueItems", "'uniqueItems' is not enforced");

    std::vector<std::string> prefix;  // schemas of the first items
    std::string rest;                 // schema of the others; "" = none allowed
    bool rest_allowed = true;
    const json* prefix_items = nullptr;
    const json* rest_schema = nullptr;
    std::string rest_pointer;
    if (schema.contains("prefixItems")) {
      prefix_items = &schema["prefixItems"];
      if (schema.contains("items")) rest_schema = &schema["items"], rest_pointer = pointer + "/items";
    } else if (schema.contains("items") && schema["items"].is_array()) {
      prefix_items = &schema["items"];
      if (schema.contains("additionalItems")) rest_schema = &schema["additionalItems"], rest_pointer = pointer + "/additionalItems";
    } else if (schema.contains("items")) {
      rest_schema = &schema["items"], rest_pointer = pointer + "/items";
    }
    if (prefix_items) {
      if (!prefix_items->is_array()) throw SchemaError("prefixItems", pointer, "prefixItems must be an array of schemas");
      for (size_t i = 0; i < prefix_items->size(); ++i) {
        std::string e = visit((*prefix_items)[i], pointer + "/prefixItems/" + std::to_string(i), hint + "-item-" + std::to_string(i));
        if (e.empty()) {
          // No value fits item i: the array must stop before it.
          rest_allowed = false;
          break;
        }
        prefix.push_back(e);
      }
    }
    if (rest_allowed) {
      if (rest_schema) {
        rest = visit(*rest_schema, rest_pointer, hint + "-item");
        if (rest.empty()) rest_allowed = false;
      } else {
        rest = json_value();
      }
    }
    if (min_items > options_.max_repeat || (max_items && *max_items > options_.max_repeat)) {
      unenforced(min_items > options_.max_repeat ? "minItems" : "maxItems", pointer,
                 "item counts above " + std::to_string(options_.max_repeat) + " are not enforced");
      min_items = std::min<int64_t>(min_items, options_.max_repeat);
      max_items.reset();
    }
    const int64_t k = static_cast<int64_t>(prefix.size());
    if (!rest_allowed) max_items = max_items ? std::min<int64_t>(*max_items, k) : k;
    if (max_items && min_items > *max_items) return "";

    // seq(i): items from i on, each after a comma (or not, for item 0).
    const std::string comma = "\",\" ws ";
    std::function<std::string(int64_t)> seq = [&](int64_t i) -> std::string {
      if (max_items && i >= *max_items) return "";
      if (i < k) {
        const std::string after = seq(i + 1);
        std::string piece = (i ? comma : "") + prefix[static_cast<size_t>(i)] + (after.empty() ? "" : " " + after);
        return i >= min_items ? "( " + piece + " )?" : piece;
      }
      // Items i.. all from `rest`: between max(0, min - i) and max - i of them.
      const int64_t need = std::max<int64_t>(0, min_items - i);
      const std::optional<int64_t> most = max_items ? std::optional<int64_t>(*max_items - i) : std::nullopt;
      if (i == 0) {
        // The first item has no comma: item (comma item){need-1, most-1}, optional when need == 0.
        const std::string tail_count = repeat_count(std::max<int64_t>(0, need - 1), most ? std::optional<int64_t>(*most - 1) : std::nullopt);
        std::string piece = rest + (tail_count == "{0}" ? "" : " ( " + comma + rest + " )" + tail_count);
        return need == 0 ? "( " + piece + " )?" : piece;
      }
      const std::string count = repeat_count(need, most);
      if (count == "{0}") return "";
      return "( " + comma + rest + " )" + count;
    };
    const std::string items = seq(0);
    if (items.empty()) return rule("empty-array", "\"[\" ws \"]\"");
    // Wrap so that whitespace before "]" only follows an item.
    if (min_items > 0) return rule(hint, "\"[\" ws " + items + " ws \"]\"");
    const std::string inner = strip_optional(items);
    return rule(hint, "\"[\" ws ( " + inner + " ws )? \"]\"");
  }

  static std::string repeat_count(int64_t lo, std::optional<int64_t> hi) {
    if (!hi) return lo == 0 ? "*" : lo == 1 ? "+" : "{" + std::to_string(lo) + ",}";
    if (lo == *hi) return "{" + std::to_string(lo) + "}";
    if (lo == 0 && *hi == 1) return "?";
    return "{" + std::to_string(lo) + "," + std::to_string(*hi) + "}";
  }

  // "( X )?" → "X" (the caller makes it optional with the whitespace that follows it).
  static std::string strip_optional(const std::string& e) {
    if (e.size() > 5 && e.rfind("( ", 0) == 0 && e.compare(e.size() - 3, 3, " )?") == 0) {
      // Only when the parentheses enclose the whole expression.
      if (gbnf_group_end(e) != e.size() - 2) return e;
      return e.substr(2, e.size() - 5);
    }
    return e;
  }

  const json& root_;
  SchemaOptions options_;
  Draft draft_;
  std::vector<std::pair<std::string, std::string>> rules_;
  std::map<std::string, std::string> by_body_;
  std::set<std::string> used_names_;
  std::map<std::string, std::string> ref_rules_;
  std::map<uint64_t, std::string> multiple_rules_;
  size_t tracking_budget_ = kTrackingBudget;
  std::set<std::string> never_refs_;
  std::set<std::string> inlining_;  // $ref targets merged inline by the visits in progress
  std::map<std::string, std::string> ids_;
  std::vector<std::string> warnings_;
  std::set<std::string> warned_;
  int depth_ = 0;
};

}  // namespace

SchemaError::SchemaError(std::string keyword, std::string pointer, const std::string& what)
    : Error("JSON Schema error at " + (pointer.empty() ? std::string("the root") : "'" + pointer + "'") +
            (keyword.empty() ? std::string() : " (keyword '" + keyword + "')") + ": " + what),
      keyword_(std::move(keyword)),
      pointer_(std::move(pointer)) {}

SchemaGrammar json_schema_to_gbnf(const nlohmann::ordered_json& schema, const SchemaOptions& options) {
  return Converter(schema, options).run();
}

SchemaGrammar json_schema_text_to_gbnf(std::string_view schema_text, const SchemaOptions& options) {
  // Refused while parsing: building and walking JSON recurses, and a deep enough document would exhaust
  // the stack (small in WebAssembly) instead of failing with an error.
  constexpr int kMaxJsonDepth = 512;
  const auto bounded = [](int depth, nlohmann::ordered_json::parse_event_t, nlohmann::ordered_json&) {
    if (depth > kMaxJsonDepth)
      throw SchemaError("", "", "the schema nests too deeply (more than " + std::to_string(kMaxJsonDepth) + " levels of JSON)");
    return true;
  };
  nlohmann::ordered_json schema;
  try {
    schema = nlohmann::ordered_json::parse(schema_text, bounded);
  } catch (const nlohmann::json::exception& e) {  // syntax errors, and numbers beyond a double
    throw SchemaError("", "", std::string("the schema is not valid JSON: ") + e.what());
  }
  return json_schema_to_gbnf(schema, options);
}

}  // namespace tabllm::grammar
