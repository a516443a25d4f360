// JSON Schema → GBNF, keyword by keyword: each grammar is compiled for a byte vocabulary and asked about
// documents it must accept or reject; unenforceable keywords give warnings (or errors when strict), and
// errors name the keyword and the JSON pointer.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "grammar/json_schema.h"
#include "test_grammar_schema_util.h"
#include "test_paths.h"

namespace {

using json = nlohmann::ordered_json;
using tabllm::grammar::json_schema_text_to_gbnf;
using tabllm::grammar::json_schema_to_gbnf;
using tabllm::grammar::SchemaError;
using tabllm::grammar::SchemaGrammar;
using tabllm::grammar::SchemaOptions;
using tabllm::test::Checked;
using tabllm::test::GrammarProbe;

TEST(GrammarSchema, PrimitiveTypesAndUnions) {
  const Checked s(R"({"type": "string"})");
  EXPECT_TRUE(s.accepts(R"("hi \"there\"\n")"));
  EXPECT_FALSE(s.accepts("1"));
  const Checked i(R"({"type": "integer"})");
  EXPECT_TRUE(i.accepts("-42"));
  EXPECT_FALSE(i.accepts("4.5"));
  EXPECT_FALSE(i.accepts_text("012"));
  const Checked n(R"({"type": "number"})");
  EXPECT_TRUE(n.accepts("-4.5e+10"));
  EXPECT_TRUE(n.accepts("3"));
  const Checked u(R"({"type": ["string", "null", "boolean"]})");
  EXPECT_TRUE(u.accepts("null"));
  EXPECT_TRUE(u.accepts("false"));
  EXPECT_TRUE(u.accepts(R"("x")"));
  EXPECT_FALSE(u.accepts("0"));
  const Checked any("{}");
  EXPECT_TRUE(any.accepts(R"({"a": [1, {"b": null}], "c": "d"})"));
  const Checked truth("true");
  EXPECT_TRUE(truth.accepts("[]"));
}

TEST(GrammarSchema, PropertiesInSchemaOrder) {
  const std::string schema = R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"},
    "c": {"type": "boolean"}}, "required": ["b"], "additionalProperties": false})";
  const Checked o(schema);
  EXPECT_TRUE(o.accepts(R"({"a": 1, "b": "x", "c": true})"));
  EXPECT_TRUE(o.accepts(R"({"b": "x"})"));
  EXPECT_TRUE(o.accepts(R"({"a": 1, "b": "x"})"));
  EXPECT_TRUE(o.accepts(R"({"b": "x", "c": false})"));
  EXPECT_FALSE(o.accepts(R"({"a": 1})"));               // b is required
  EXPECT_FALSE(o.accepts(R"({"b": "x", "a": 1})"));     // another order
  EXPECT_FALSE(o.accepts(R"({"b": "x", "d": 1})"));     // additionalProperties: false
  EXPECT_FALSE(o.accepts(R"({"a": "1", "b": "x"})"));   // wrong type
  EXPECT_FALSE(o.accepts_text(R"({"b":"x",})"));

  SchemaOptions any_order;
  any_order.any_property_order = true;
  const Checked a(schema, any_order);
  EXPECT_TRUE(a.accepts(R"({"b": "x", "a": 1})"));
  EXPECT_TRUE(a.accepts(R"({"c": true, "b": "x", "a": 1})"));
  EXPECT_FALSE(a.accepts(R"({"b": "x", "d": 1})"));
  EXPECT_FALSE(a.accepts(R"({"c": true, "a": 1})"));  // b is required in any order too
  EXPECT_TRUE(a.converted.warnings.empty());
}

TEST(GrammarSchema, AdditionalAndPatternProperties) {
  const Checked open(R"({"properties": {"a": {"type": "integer"}}})");
  EXPECT_TRUE(open.accepts(R"({"a": 1, "zz": [1, 2]})"));
  EXPECT_TRUE(open.accepts(R"({"zz": "x"})"));
  EXPECT_FALSE(open.accepts("[]"));  // `properties` implies an object
  const Checked typed(R"({"type": "object", "additionalProperties": {"type": "integer"}})");
  EXPECT_TRUE(typed.accepts(R"({"x": 1, "y": 2})"));
  EXPECT_FALSE(typed.accepts(R"({"x": "1"})"));
  const Checked pattern(R"({"type": "object", "patternProperties": {"^x-[a-z]+$": {"type": "string"}},
    "additionalProperties": false})");
  EXPECT_TRUE(pattern.accepts(R"({"x-abc": "v", "x-d": "w"})"));
  EXPECT_FALSE(pattern.accepts(R"({"y-abc": "v"})"));
  EXPECT_FALSE(pattern.accepts(R"({"x-abc": 1})"));
}

TEST(GrammarSchema, Arrays) {
  const Checked items(R"({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3})");
  EXPECT_TRUE(items.accepts("[1, 2]"));
  EXPECT_TRUE(items.accepts("[1, 2, 3]"));
  EXPECT_FALSE(items.accepts("[1]"));
  EXPECT_FALSE(items.accepts("[1, 2, 3, 4]"));
  EXPECT_FALSE(items.accepts(R"([1, "2"])"));
  const Checked empty(R"({"type": "array"})");
  EXPECT_TRUE(empty.accepts("[]"));
  EXPECT_TRUE(empty.accepts(R"([1, "a", null])"));
  const Checked tuple(R"({"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [{"type": "string"},
    {"type": "integer"}], "items": false})");
  EXPECT_TRUE(tuple.accepts(R"(["a", 1])"));
  EXPECT_TRUE(tuple.accepts(R"(["a"])"));
  EXPECT_TRUE(tuple.accepts("[]"));
  EXPECT_FALSE(tuple.accepts(R"(["a", 1, 2])"));
  EXPECT_FALSE(tuple.accepts(R"([1])"));
  const Checked draft7(R"({"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}],
    "additionalItems": {"type": "integer"}, "minItems": 2})");
  EXPECT_TRUE(draft7.accepts(R"(["a", 1, 2])"));
  EXPECT_FALSE(draft7.accepts(R"(["a"])"));
  EXPECT_FALSE(draft7.accepts(R"(["a", "b"])"));
  const Checked unique(R"({"type": "array", "uniqueItems": true})");
  EXPECT_TRUE(unique.warned("uniqueItems"));
}

TEST(GrammarSchema, EnumAndConst) {
  const Checked e(R"({"enum": ["red", "gr\"een", 3, null, {"k": [1, 2]}]})");
  EXPECT_TRUE(e.accepts(R"("red")"));
  EXPECT_TRUE(e.accepts(R"("gr\"een")"));
  EXPECT_TRUE(e.accepts("3"));
  EXPECT_TRUE(e.accepts("null"));
  EXPECT_TRUE(e.accepts(R"({"k": [1, 2]})"));
  EXPECT_FALSE(e.accepts(R"("blue")"));
  EXPECT_FALSE(e.accepts("4"));
  const Checked typed(R"({"type": "string", "enum": ["a", 1]})");
  EXPECT_TRUE(typed.accepts(R"("a")"));
  EXPECT_FALSE(typed.accepts("1"));  // not a string
  const Checked c(R"({"const": "fixed"})");
  EXPECT_TRUE(c.accepts(R"("fixed")"));
  EXPECT_FALSE(c.accepts(R"("other")"));
}

TEST(GrammarSchema, Combinators) {
  const Checked any_of(R"({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 2}]})");
  EXPECT_TRUE(any_of.accepts("5"));
  EXPECT_TRUE(any_of.accepts(R"("ab")"));
  EXPECT_FALSE(any_of.accepts(R"("abc")"));
  // Sibling keywords hold in every branch.
  const Checked distributed(R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "additionalProperties": false, "anyOf": [{"required": ["a"]}, {"required": ["b"]}]})");
  EXPECT_TRUE(distributed.accepts(R"({"a": 1})"));
  EXPECT_TRUE(distributed.accepts(R"({"b": 1})"));
  EXPECT_FALSE(distributed.accepts("{}"));
  // allOf merges properties, required and bounds.
  const Checked all_of(R"({"allOf": [{"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}},
    {"properties": {"a": {"maximum": 9}, "b": {"type": "string"}}, "required": ["a"]}], "additionalProperties": false})");
  EXPECT_TRUE(all_of.accepts(R"({"a": 5, "b": "x"})"));
  EXPECT_FALSE(all_of.accepts(R"({"a": 10})"));
  EXPECT_FALSE(all_of.accepts(R"({"b": "x"})"));
  // oneOf told apart by type: no warning; overlapping branches: a warning (an error when strict).
  const Checked disjoint(R"({"oneOf": [{"type": "string"}, {"type": "integer"}]})");
  EXPECT_TRUE(disjoint.converted.warnings.empty());
  const Checked overlapping(R"({"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]})");
  EXPECT_TRUE(overlapping.warned("oneOf"));
  SchemaOptions strict;
  strict.strict = true;
  EXPECT_THROW(json_schema_text_to_gbnf(R"({"oneOf": [{"type": "string"}, {"maxLength": 3}]})", strict), SchemaError);
  const Checked tagged(R"({"oneOf": [{"properties": {"kind": {"const": "a"}}, "required": ["kind"]},
    {"properties": {"kind": {"const": "b"}, "n": {"type": "integer"}}, "required": ["kind"]}]})");
  EXPECT_FALSE(tagged.warned("oneOf"));
}

TEST(GrammarSchema, ReferencesAndRecursion) {
  const Checked tree(R"({"$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"},
    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["value"], "additionalProperties": false}},
    "$ref": "#/$defs/node"})");
  EXPECT_TRUE(tree.accepts(R"({"value": 1, "children": [{"value": 2}, {"value": 3, "children": [{"value": 4}]}]})"));
  EXPECT_FALSE(tree.accepts(R"({"value": 1, "children": [{"children": []}]})"));
  const Checked root_ref(R"({"type": "object", "properties": {"next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
    "additionalProperties": false})");
  EXPECT_TRUE(root_ref.accepts(R"({"next": {"next": {"next": null}}})"));
  const Checked escaped(R"({"definitions": {"a/b": {"type": "integer"}, "c~d": {"type": "string"}},
    "type": "array", "items": [{"$ref": "#/definitions/a~1b"}, {"$ref": "#/definitions/c~0d"}]})");
  EXPECT_TRUE(escaped.accepts(R"([1, "x"])"));
  EXPECT_FALSE(escaped.accepts(R"(["x", 1])"));
  const Checked by_id(R"({"$id": "https://example.com/root.json", "definitions": {"n": {"$id": "#num", "type": "number"}},
    "properties": {"a": {"$ref": "#num"}, "b": {"$ref": "https://example.com/root.json#/definitions/n"}},
    "additionalProperties": false})");
  EXPECT_TRUE(by_id.accepts(R"({"a": 1.5, "b": 2})"));
  EXPECT_FALSE(by_id.accepts(R"({"a": "x"})"));
  // Before 2019-09, keywords beside $ref are ignored; from 2019-09 on they apply.
  const Checked draft7(R"({"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"s": {"type": "string"}},
    "$ref": "#/definitions/s", "maxLength": 1})");
  EXPECT_TRUE(draft7.accepts(R"("long")"));
  const Checked draft2020(R"({"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"s": {"type": "string"}},
    "$ref": "#/$defs/s", "maxLength": 1})");
  EXPECT_FALSE(draft2020.accepts(R"("long")"));
  EXPECT_TRUE(draft2020.accepts(R"("l")"));
}

TEST(GrammarSchema, StringLengthPatternAndFormats) {
  const Checked length(R"({"type": "string", "minLength": 2, "maxLength": 3})");
  EXPECT_TRUE(length.accepts(R"("ab")"));
  EXPECT_TRUE(length.accepts(R"("a\"c")"));  // an escape is one character
  EXPECT_FALSE(length.accepts(R"("a")"));
  EXPECT_FALSE(length.accepts(R"("abcd")"));
  const Checked pattern(R"({"type": "string", "pattern": "^[A-Z]{2}-\\d+$"})");
  EXPECT_TRUE(pattern.accepts(R"("AB-12")"));
  EXPECT_FALSE(pattern.accepts(R"("Ab-12")"));
  const Checked unanchored(R"({"type": "string", "pattern": "\\d"})");
  EXPECT_TRUE(unanchored.accepts(R"("abc 1 def")"));
  EXPECT_FALSE(unanchored.accepts(R"("abc")"));
  struct Case {
    const char* format;
    const char* good;
    const char* bad;
  };
  for (const Case& c : {Case{"date-time", R"("2024-02-29T13:45:00.5+01:00")", R"("2024-02-29 13:45")"},
                        Case{"date", R"("2024-12-31")", R"("2024-13-01")"}, Case{"time", R"("23:59:59Z")", R"("24:00:00")"},
                        Case{"uuid", R"("123e4567-e89b-12d3-a456-426614174000")", R"("123e4567")"},
                        Case{"email", R"("first.last@example.com")", R"("no-at-sign")"},
                        Case{"uri", R"("https://example.com/a?b=c#d")", R"("not a uri")"},
                        Case{"ipv4", R"("192.168.0.255")", R"("256.1.1.1")"}}) {
    SCOPED_TRACE(c.format);
    const Checked f(std::string(R"({"type": "string", "format": ")") + c.format + "\"}");
    EXPECT_TRUE(f.accepts(c.good));
    EXPECT_FALSE(f.accepts(c.bad));
  }
  const Checked unknown(R"({"type": "string", "format": "color"})");
  EXPECT_TRUE(unknown.warned("format \"color\""));
  EXPECT_TRUE(unknown.accepts(R"("anything")"));
}

TEST(GrammarSchema, IntegerRangesAreExact) {
  const std::vector<std::pair<const char*, std::pair<int, int>>> cases = {
      {R"("minimum": 0)", {0, 1000}},
      {R"("minimum": 1)", {1, 1000}},
      {R"("minimum": 7, "maximum": 123)", {7, 123}},
      {R"("minimum": -15, "maximum": 42)", {-15, 42}},
      {R"("minimum": -130, "maximum": -7)", {-130, -7}},
      {R"("exclusiveMinimum": 9, "exclusiveMaximum": 100)", {10, 99}},
      {R"("maximum": -3)", {-1000, -3}},
      {R"("maximum": 19.5)", {-1000, 19}},
  };
  for (const auto& [bounds, range] : cases) {
    SCOPED_TRACE(bounds);
    const Checked c(std::string(R"({"type": "integer", )") + bounds + "}");
    for (int v = -200; v <= 200; ++v) {
      const bool inside = v >= range.first && v <= range.second;
      ASSERT_EQ(c.accepts_text(std::to_string(v)), inside) << v;
    }
    EXPECT_EQ(c.accepts_text("1000"), 1000 >= range.first && 1000 <= range.second);
  }
  // draft-04 boolean exclusiveMinimum.
  const Checked draft4(R"({"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer", "minimum": 0,
    "exclusiveMinimum": true})");
  EXPECT_FALSE(draft4.accepts_text("0"));
  EXPECT_TRUE(draft4.accepts_text("1"));
}

TEST(GrammarSchema, NumberSigns) {
  const Checked non_negative(R"({"type": "number", "minimum": 0})");
  EXPECT_TRUE(non_negative.accepts("0.5"));
  EXPECT_TRUE(non_negative.accepts("0"));
  EXPECT_FALSE(non_negative.accepts("-0.5"));
  const Checked positive(R"({"type": "number", "exclusiveMinimum": 0})");
  EXPECT_TRUE(positive.accepts("0.001"));
  EXPECT_FALSE(positive.accepts("0"));
  EXPECT_FALSE(positive.accepts_text("0.0"));
  const Checked bounded(R"({"type": "number", "minimum": 0, "maximum": 1})");
  EXPECT_TRUE(bounded.accepts("0.25"));
  EXPECT_FALSE(bounded.accepts("1.5"));
  EXPECT_TRUE(bounded.converted.warnings.empty());
}

TEST(GrammarSchema, WhitespaceIsBounded) {
  const Checked o(R"({"type": "object", "properties": {"a": {"type": "array"}}})");
  EXPECT_TRUE(o.accepts_text("{\n  \"a\": [\n    1\n  ]\n}"));
  EXPECT_TRUE(o.accepts_text("{\"a\": [1, 2]}"));
  EXPECT_TRUE(o.accepts_text("{\n" + std::string(40, ' ') + "\"a\": []}"));
  EXPECT_FALSE(o.accepts_text("{\n" + std::string(41, ' ') + "\"a\": []}"));
  EXPECT_FALSE(o.accepts_text("{  \"a\": []}"));
  EXPECT_FALSE(o.accepts_text(" {}"));
}

TEST(GrammarSchema, UnenforceableKeywordsWarnOrFail) {
  const std::string schema = R"({"type": "object", "properties": {"n": {"type": "array", "contains": {"type": "integer"}}}, "minProperties": 2})";
  const SchemaGrammar lax = json_schema_text_to_gbnf(schema);
  ASSERT_EQ(lax.warnings.size(), 2u);
  EXPECT_NE((lax.warnings[0] + lax.warnings[1]).find("/properties/n/contains"), std::string::npos);
  EXPECT_NE((lax.warnings[0] + lax.warnings[1]).find("/minProperties"), std::string::npos);
  SchemaOptions strict;
  strict.strict = true;
  try {
    json_schema_text_to_gbnf(schema, strict);
    ADD_FAILURE() << "strict mode accepted contains";
  } catch (const SchemaError& e) {
    EXPECT_EQ(e.keyword(), "contains");  // the first met: properties are converted before the object's counts
    EXPECT_EQ(e.pointer(), "/properties/n/contains");
  }
}

TEST(GrammarSchema, ErrorsNameKeywordAndPointer) {
  struct Case {
    const char* schema;
    const char* keyword;
    const char* pointer;
  };
  for (const Case& c : {Case{R"({"type": "strin"})", "type", "/type"},
                        Case{R"({"properties": {"a": {"pattern": "(x"}}})", "pattern", "/properties/a/pattern"},
                        Case{R"({"items": {"$ref": "#/definitions/missing"}})", "$ref", "/items"},
                        Case{R"({"properties": {"a": {"minLength": -1}}})", "minLength", "/properties/a/minLength"},
                        Case{R"({"anyOf": []})", "anyOf", ""}, Case{"false", "", ""}}) {
    SCOPED_TRACE(c.schema);
    SchemaOptions strict;
    strict.strict = true;
    try {
      json_schema_text_to_gbnf(c.schema, strict);
      ADD_FAILURE() << "no error";
    } catch (const SchemaError& e) {
      EXPECT_EQ(e.keyword(), c.keyword) << e.what();
      EXPECT_EQ(e.pointer(), c.pointer) << e.what();
    }
  }
  EXPECT_THROW(json_schema_text_to_gbnf("{not json"), SchemaError);
  // Without strict, an unsupported pattern falls back to any string, with a warning.
  const SchemaGrammar lax = json_schema_text_to_gbnf(R"({"type": "string", "pattern": "(?!x)y"})");
  ASSERT_EQ(lax.warnings.size(), 1u);
  EXPECT_NE(lax.warnings[0].find("lookaround"), std::string::npos);
}

}  // namespace

namespace {

std::string read_shared(const std::string& name) {
  std::ifstream in(tabllm::test::shared_dir() + "/schemas/" + name, std::ios::binary);
  EXPECT_TRUE(in) << "missing ../shared/schemas/" << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Real schemas of JSONSchemaBench (../shared/schemas): every valid document is accepted, compact and
// indented; invalid ones are rejected where the grammar can tell (all of them for these schemas, but the
// Kubernetes one, whose invalid documents break keywords a grammar does not enforce).
TEST(GrammarSchema, SharedSchemasAcceptTheirValidDocuments) {
  struct Case {
    const char* name;
    bool rejects_all_invalid;
  };
  for (const Case& c : {Case{"BFCL_java_15", true}, Case{"Github_medium---o5268", true}, Case{"Github_trivial---o67196", true},
                        Case{"Glaiveai2K---schedule_meeting_9ed64d34", true}, Case{"JsonSchemaStore---pull-request-labeler", true},
                        Case{"Snowplow---sp_258_Normalized", true}, Case{"WashingtonPost---wp_2_Normalized", true},
                        Case{"Kubernetes---kb_973_Normalized", false},
                        // A universal patternProperties pattern, dependencies, decimal bounds.
                        Case{"Github_easy---o87825", true}, Case{"Snowplow---sp_356_Normalized", true},
                        Case{"Github_easy---o81583", true}, Case{"Github_hard---o90819", true}}) {
    SCOPED_TRACE(c.name);
    const Checked schema(read_shared(std::string(c.name) + ".json"));
    const json tests = json::parse(read_shared(std::string(c.name) + ".tests.json"));
    ASSERT_TRUE(tests.is_array());
    for (size_t i = 0; i < tests.size(); ++i) {
      const std::string document = tests[i]["data"].dump();
      if (tests[i]["valid"].get<bool>()) {
        EXPECT_TRUE(schema.accepts(document)) << "valid document " << i;
      } else if (c.rejects_all_invalid) {
        EXPECT_FALSE(schema.probe.accepts(tests[i]["data"].dump())) << "invalid document " << i;
      }
    }
  }
}

}  // namespace
