// Objects exactly as the schema says, in schema order and in any order: each key once, declared keys only
// with their declared values, required keys present, undeclared keys (however spelled) only where allowed.
#include <gtest/gtest.h>

#include <string>

#include "test_grammar_schema_util.h"

namespace {

using tabllm::grammar::SchemaOptions;
using tabllm::test::Checked;

SchemaOptions any_order() {
  SchemaOptions o;
  o.any_property_order = true;
  return o;
}

// Both property order modes.
struct BothOrders {
  Checked ordered, any;
  explicit BothOrders(const std::string& schema) : ordered(schema), any(schema, any_order()) {}
  bool accepts(const std::string& document) const { return ordered.accepts(document) && any.accepts(document); }
  bool rejects(const std::string& document) const { return !ordered.accepts(document) && !any.accepts(document); }
  bool rejects_text(const std::string& text) const { return !ordered.accepts_text(text) && !any.accepts_text(text); }
};

constexpr const char* kOpen = R"({"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}})";

TEST(GrammarSchemaObjects, DeclaredKeyIsNeverAnAdditionalOne) {
  const BothOrders o(kOpen);
  EXPECT_TRUE(o.accepts(R"({"id": 1, "extra": "x"})"));
  EXPECT_TRUE(o.accepts(R"({"extra": [1, 2]})"));
  EXPECT_TRUE(o.rejects(R"({"id": "x"})"));               // id must be an integer, even as an extra key
  EXPECT_TRUE(o.rejects(R"({"name": "a", "id": "x"})"));  // in another order too
}

TEST(GrammarSchemaObjects, KeysSharingAPrefixWithDeclaredOnes) {
  const BothOrders open(kOpen);
  EXPECT_TRUE(open.accepts(R"({"i": "x", "idx": "y", "nam": 1, "names": 2, "": 3})"));
  const BothOrders closed(R"({"type": "object", "properties": {"id": {"type": "integer"}}, "additionalProperties": false})");
  EXPECT_TRUE(closed.accepts(R"({"id": 1})"));
  EXPECT_TRUE(closed.rejects(R"({"i": 1})"));
  EXPECT_TRUE(closed.rejects(R"({"idx": 1})"));
  EXPECT_TRUE(closed.rejects(R"({"id": 1, "idx": 1})"));
}

TEST(GrammarSchemaObjects, PatternsThatMatchEveryKeyLeaveNoAdditionalOnes) {
  const BothOrders all(R"({"type": "object", "properties": {"default": {"type": "string"}},
    "patternProperties": {"^[a-z]*": {"type": "string"}}, "required": ["default"]})");
  EXPECT_TRUE(all.accepts(R"({"default": "x", "web": "y", "Print": "z"})"));
  EXPECT_TRUE(all.rejects(R"({"default": "x", "print": 42})"));
  EXPECT_TRUE(all.ordered.converted.warnings.empty());
  const Checked some(R"({"type": "object", "patternProperties": {"^x-": {"type": "string"}}})");
  EXPECT_TRUE(some.accepts(R"({"x-a": "s", "b": 1})"));
  EXPECT_TRUE(some.warned("patternProperties"));  // {"x-a": 1} passes as an additional property
}

TEST(GrammarSchemaObjects, RepeatedKeysAreRejected) {
  const BothOrders o(kOpen);
  EXPECT_TRUE(o.rejects_text(R"({"id":1,"id":2})"));
  EXPECT_TRUE(o.rejects_text(R"({"name":"a","id":1,"name":"b"})"));
  const BothOrders closed(R"({"properties": {"a": {"type": "integer"}, "b": {}}, "additionalProperties": false})");
  EXPECT_TRUE(closed.rejects_text(R"({"a":1,"b":2,"a":3})"));
  EXPECT_FALSE(closed.any.accepts_text(R"({"b":2,"a":1,"b":2})"));
  EXPECT_TRUE(closed.any.accepts_text(R"({"b":2,"a":1})"));
}

TEST(GrammarSchemaObjects, EscapedSpellingsDoNotBypassTheExclusion) {
  const BothOrders o(kOpen);
  EXPECT_TRUE(o.rejects_text(R"({"\u0069d":"x"})"));        // "id"
  EXPECT_TRUE(o.rejects_text(R"({"i\u0044":1,"\u0069\u0064":"x"})"));
  EXPECT_TRUE(o.rejects_text(R"({"nam\u0065":1})"));
  EXPECT_TRUE(o.accepts(R"({"\u0069x": "y"})"));             // "ix" is not declared
  EXPECT_TRUE(o.ordered.accepts_text(R"({"id":1,"i\u0044":"x"})"));  // "iD" differs from "id"
  const BothOrders slash(R"({"properties": {"a/b": {"type": "integer"}, "q\"": {"type": "integer"}}})");
  EXPECT_TRUE(slash.rejects_text(R"({"a\/b":"x"})"));
  EXPECT_TRUE(slash.rejects_text(R"({"q\u0022":"x"})"));
  EXPECT_TRUE(slash.rejects_text(R"({"q\"":"x"})"));
  EXPECT_TRUE(slash.any.accepts_text(R"({"a\/c":"x","q\"":1})"));
  const BothOrders unicode(R"({"properties": {"é": {"type": "integer"}}, "additionalProperties": false})");
  EXPECT_TRUE(unicode.accepts(R"({"é": 1})"));
  EXPECT_TRUE(unicode.rejects_text(R"({"\u00e9":"x"})"));
  EXPECT_TRUE(unicode.rejects_text(R"({"\u00E9":1})"));
}

TEST(GrammarSchemaObjects, RequiredKeysInAnyOrder) {
  const Checked o(R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {}},
    "required": ["b", "a"]})", any_order());
  EXPECT_TRUE(o.accepts(R"({"b": "x", "a": 1})"));
  EXPECT_TRUE(o.accepts(R"({"z": 0, "c": null, "a": 1, "y": 1, "b": "x"})"));
  EXPECT_FALSE(o.accepts(R"({"a": 1})"));
  EXPECT_FALSE(o.accepts(R"({"b": "x", "c": 1})"));
  EXPECT_FALSE(o.accepts("{}"));
  EXPECT_TRUE(o.converted.warnings.empty());
  // Required keys without a schema are tracked the same way.
  const Checked bare(R"({"type": "object", "required": ["k"]})", any_order());
  EXPECT_TRUE(bare.accepts(R"({"x": 1, "k": [1]})"));
  EXPECT_FALSE(bare.accepts(R"({"x": 1})"));
  EXPECT_FALSE(bare.accepts_text(R"({"k":1,"k":2})"));
}

TEST(GrammarSchemaObjects, ManyPropertiesInAnyOrderAreTrackedUpToALimit) {
  std::string properties, required;
  for (int i = 0; i < 10; ++i) {
    properties += std::string(i ? ", " : "") + "\"p" + std::to_string(i) + "\": {\"type\": \"integer\"}";
    if (i < 3) required += std::string(i ? ", " : "") + "\"p" + std::to_string(i) + "\"";
  }
  const std::string schema = "{\"type\": \"object\", \"properties\": {" + properties + "}, \"required\": [" + required + "]}";
  const Checked o(schema, any_order());
  EXPECT_TRUE(o.accepts(R"({"p9": 1, "p2": 2, "p0": 0, "p1": 1})"));
  EXPECT_FALSE(o.accepts(R"({"p9": 1, "p2": 2, "p0": 0})"));         // p1 is required
  EXPECT_FALSE(o.accepts_text(R"({"p0":0,"p1":1,"p2":2,"p2":2,"p0":0})"));  // tracked: once
  EXPECT_FALSE(o.accepts(R"({"p0": 0, "p1": 1, "p2": 2, "p9": "x"})"));
  EXPECT_TRUE(o.warned("may be repeated"));  // the last ones are not tracked
  EXPECT_FALSE(o.warned("required"));
}

}  // namespace
