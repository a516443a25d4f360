// Keywords the JSON Schema converter enforces beyond types and shapes: multipleOf, property counts,
// dependencies, propertyNames and `not` in its finite forms; what stays out of reach is reported.
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

TEST(GrammarSchemaKeywords, IntegerMultipleOf) {
  const Checked three(R"({"type": "integer", "multipleOf": 3})");
  for (const char* ok : {"0", "3", "-3", "99", "123456", "-300000000003"}) EXPECT_TRUE(three.accepts(ok)) << ok;
  for (const char* bad : {"1", "-2", "100", "123457", "4.5"}) EXPECT_FALSE(three.accepts(bad)) << bad;
  EXPECT_TRUE(three.converted.warnings.empty());
  const Checked bounded(R"({"type": "integer", "multipleOf": 5, "minimum": 3, "exclusiveMaximum": 30})");
  for (const char* ok : {"5", "10", "25"}) EXPECT_TRUE(bounded.accepts(ok)) << ok;
  for (const char* bad : {"0", "30", "7", "-5"}) EXPECT_FALSE(bounded.accepts(bad)) << bad;
  const Checked non_negative(R"({"type": "integer", "multipleOf": 7, "minimum": 0})");
  EXPECT_TRUE(non_negative.accepts("49"));
  EXPECT_FALSE(non_negative.accepts("-7"));
  EXPECT_FALSE(non_negative.accepts("50"));
  const Checked large(R"({"type": "integer", "multipleOf": 1000000})");
  EXPECT_TRUE(large.warned("multipleOf"));
}

TEST(GrammarSchemaKeywords, NumberMultipleOf) {
  const Checked cents(R"({"type": "number", "multipleOf": 0.01, "minimum": 0})");
  for (const char* ok : {"0", "1.5", "12.25", "7"}) EXPECT_TRUE(cents.accepts(ok)) << ok;
  for (const char* bad : {"1.255", "-1", "0.001"}) EXPECT_FALSE(cents.accepts(bad)) << bad;
  const Checked integral(R"({"type": "number", "multipleOf": 4})");
  EXPECT_TRUE(integral.accepts("8"));
  EXPECT_TRUE(integral.accepts_text("8.0"));
  EXPECT_FALSE(integral.accepts("6"));
  EXPECT_FALSE(integral.accepts("8.5"));
  const Checked other(R"({"type": "number", "multipleOf": 0.3})");
  EXPECT_TRUE(other.warned("multipleOf"));
}

TEST(GrammarSchemaKeywords, DecimalBounds) {
  const Checked above(R"({"type": "number", "minimum": 0.3})");
  for (const char* ok : {"0.3", "0.31", "0.30001", "5", "12.5"}) EXPECT_TRUE(above.accepts(ok)) << ok;
  for (const char* bad : {"0.29", "0", "-1", "0.2999"}) EXPECT_FALSE(above.accepts(bad)) << bad;
  const Checked between(R"({"type": "number", "exclusiveMinimum": -2.5, "maximum": 10})");
  for (const char* ok : {"-2.49", "0", "-0.5", "9.999", "10"}) EXPECT_TRUE(between.accepts(ok)) << ok;
  for (const char* bad : {"-2.5", "-3", "10.01", "11"}) EXPECT_FALSE(between.accepts(bad)) << bad;
  const Checked narrow(R"({"type": "number", "minimum": 1.25, "maximum": 1.5})");
  for (const char* ok : {"1.25", "1.3", "1.5", "1.4999"}) EXPECT_TRUE(narrow.accepts(ok)) << ok;
  for (const char* bad : {"1.51", "1.2", "1.249", "2"}) EXPECT_FALSE(narrow.accepts(bad)) << bad;
  const Checked negative(R"({"type": "number", "exclusiveMaximum": -0.05})");
  for (const char* ok : {"-0.051", "-1", "-100.5"}) EXPECT_TRUE(negative.accepts(ok)) << ok;
  for (const char* bad : {"-0.05", "0", "-0.04", "3"}) EXPECT_FALSE(negative.accepts(bad)) << bad;
  EXPECT_TRUE(above.converted.warnings.empty());
  EXPECT_TRUE(between.converted.warnings.empty());
}

TEST(GrammarSchemaKeywords, PropertyCounts) {
  for (const SchemaOptions& options : {SchemaOptions{}, any_order()}) {
    const Checked map(R"({"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 1, "maxProperties": 2})", options);
    EXPECT_TRUE(map.accepts(R"({"a": 1})"));
    EXPECT_TRUE(map.accepts(R"({"a": 1, "b": 2})"));
    EXPECT_FALSE(map.accepts("{}"));
    EXPECT_FALSE(map.accepts(R"({"a": 1, "b": 2, "c": 3})"));
    const Checked declared(R"({"type": "object", "properties": {"a": {}, "b": {}}, "minProperties": 1})", options);
    EXPECT_TRUE(declared.accepts(R"({"b": 1})"));
    EXPECT_TRUE(declared.accepts(R"({"x": 1})"));
    EXPECT_FALSE(declared.accepts("{}"));
    EXPECT_TRUE(declared.converted.warnings.empty());
    const Checked beyond(R"({"type": "object", "properties": {"a": {}}, "minProperties": 2})", options);
    EXPECT_TRUE(beyond.warned("minProperties"));
  }
}

TEST(GrammarSchemaKeywords, DependenciesAsObjectShapes) {
  for (const SchemaOptions& options : {SchemaOptions{}, any_order()}) {
    const Checked o(R"({"type": "object", "properties": {"card": {"type": "string"}, "billing": {"type": "string"},
      "kind": {"type": "string"}}, "dependencies": {"card": ["billing"]},
      "dependentSchemas": {"kind": {"properties": {"billing": {"const": "x"}}, "required": ["billing"]}}})", options);
    EXPECT_TRUE(o.accepts(R"({"card": "1", "billing": "y"})"));
    EXPECT_TRUE(o.accepts(R"({"billing": "y"})"));
    EXPECT_TRUE(o.accepts(R"({"billing": "x", "kind": "k"})"));
    EXPECT_FALSE(o.accepts(R"({"card": "1"})"));
    EXPECT_FALSE(o.accepts(R"({"billing": "y", "kind": "k"})"));
    EXPECT_FALSE(o.accepts(R"({"kind": "k"})"));
    EXPECT_TRUE(o.converted.warnings.empty());
    const Checked required(R"({"properties": {"a": {}}, "dependentRequired": {"a": ["b"]}})", options);
    EXPECT_TRUE(required.accepts(R"({"a": 1, "b": 2})"));
    EXPECT_FALSE(required.accepts(R"({"a": 1})"));
  }
}

TEST(GrammarSchemaKeywords, PropertyNames) {
  const Checked pattern(R"({"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}, "additionalProperties": {"type": "integer"}})");
  EXPECT_TRUE(pattern.accepts(R"({"abc": 1, "d": 2})"));
  EXPECT_FALSE(pattern.accepts(R"({"Abc": 1})"));
  const Checked listed(R"({"type": "object", "properties": {"a": {"type": "integer"}}, "propertyNames": {"enum": ["a", "b", "c"]}})",
                       any_order());
  EXPECT_TRUE(listed.accepts(R"({"c": "x", "a": 1})"));
  EXPECT_FALSE(listed.accepts(R"({"d": 1})"));
  EXPECT_FALSE(listed.accepts(R"({"a": "x"})"));
  const Checked beside(R"({"type": "object", "properties": {"a": {}}, "propertyNames": {"maxLength": 3}})");
  EXPECT_TRUE(beside.warned("propertyNames"));
}

TEST(GrammarSchemaKeywords, NotInFiniteForms) {
  const Checked strings(R"({"type": "string", "not": {"enum": ["no", "none"]}})");
  for (const char* ok : {R"("n")", R"("nos")", R"("non")", R"("")", R"("yes")"}) EXPECT_TRUE(strings.accepts(ok)) << ok;
  EXPECT_FALSE(strings.accepts(R"("no")"));
  EXPECT_FALSE(strings.accepts(R"("none")"));
  EXPECT_FALSE(strings.accepts_text(R"("n\u006f")"));
  const Checked types(R"({"not": {"type": ["string", "null"]}})");
  EXPECT_TRUE(types.accepts("1"));
  EXPECT_TRUE(types.accepts(R"({"a": null})"));
  EXPECT_FALSE(types.accepts(R"("a")"));
  EXPECT_FALSE(types.accepts("null"));
  EXPECT_TRUE(types.converted.warnings.empty());
  const Checked other(R"({"type": "string", "not": {"pattern": "^a"}})");
  EXPECT_TRUE(other.warned("not"));
}

TEST(GrammarSchemaKeywords, Ipv6Format) {
  const Checked ip(R"({"type": "string", "format": "ipv6"})");
  for (const char* ok : {R"("::")", R"("::1")", R"("fe80::1")", R"("2001:db8:0:0:0:0:2:1")", R"("2001:DB8::8:800:200C:417A")",
                         R"("::ffff:192.0.2.128")", R"("1:2:3:4:5:6:7::")", R"("1::2:3:4:5:6:7")"})
    EXPECT_TRUE(ip.accepts(ok)) << ok;
  for (const char* bad : {R"("1:2:3:4:5:6:7:8:9")", R"("1::2::3")", R"("12345::")", R"("g::1")", R"(":1")", R"("1:2:3:4:5:6:7")"})
    EXPECT_FALSE(ip.accepts(bad)) << bad;
  EXPECT_TRUE(ip.converted.warnings.empty());
}

// Found by the property tests against ajv (tests/js/grammar-properties.test.mjs): what a parser of doubles
// reads must satisfy the schema too, and formats follow what validators check.
TEST(GrammarSchemaKeywords, ValuesAParserOfDoublesReadsAlike) {
  // Multiples have at most 15 digits: longer ones are rounded when read, and may stop being multiples.
  const Checked seven(R"({"type": "integer", "multipleOf": 7})");
  EXPECT_TRUE(seven.accepts("700000000000007"));
  EXPECT_FALSE(seven.accepts_text("7000000000000007"));
  const Checked big(R"({"type": "integer", "multipleOf": 256})");
  EXPECT_TRUE(big.accepts("256000000000000"));
  EXPECT_FALSE(big.accepts("257"));
  EXPECT_TRUE(big.converted.warnings.empty());
  // A bound within k of zero is a sign.
  const Checked positive_multiples(R"({"type": "integer", "multipleOf": 3, "exclusiveMinimum": 0})");
  for (const char* ok : {"3", "300"}) EXPECT_TRUE(positive_multiples.accepts(ok)) << ok;
  for (const char* bad : {"0", "-3", "4"}) EXPECT_FALSE(positive_multiples.accepts(bad)) << bad;
  EXPECT_TRUE(positive_multiples.converted.warnings.empty());
  const Checked negative_multiples(R"({"type": "integer", "multipleOf": 5, "maximum": -2})");
  EXPECT_TRUE(negative_multiples.accepts("-5"));
  EXPECT_FALSE(negative_multiples.accepts("0"));
  EXPECT_TRUE(negative_multiples.converted.warnings.empty());
  // An exclusive bound of 0: no exponent (1e-400 reads as 0) and no -0.
  const Checked positive(R"({"type": "number", "exclusiveMinimum": 0})");
  for (const char* ok : {"1", "0.5", "0.0001", "12.75"}) EXPECT_TRUE(positive.accepts(ok)) << ok;
  for (const char* bad : {"0", "0.0", "1e-400", "5e3", "-1"}) EXPECT_FALSE(positive.accepts_text(bad)) << bad;
  const Checked negative(R"({"type": "number", "exclusiveMaximum": 0})");
  for (const char* ok : {"-1", "-0.5", "-0.0001"}) EXPECT_TRUE(negative.accepts(ok)) << ok;
  for (const char* bad : {"0", "-0", "-0.0", "-1e-400"}) EXPECT_FALSE(negative.accepts_text(bad)) << bad;
  const Checked cents(R"({"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01})");
  for (const char* ok : {"0.01", "0.5", "3.25"}) EXPECT_TRUE(cents.accepts(ok)) << ok;
  for (const char* bad : {"0", "0.001", "0.00"}) EXPECT_FALSE(cents.accepts_text(bad)) << bad;
}

TEST(GrammarSchemaKeywords, AdditionalPropertiesAcrossAllOfIsReported) {
  // The second schema allows no property at all, the first's `a` included: merged, `a` would pass.
  const Checked split(R"({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}}, {"additionalProperties": false}]})");
  EXPECT_TRUE(split.warned("additionalProperties"));
  const Checked together(R"({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": false}, {"required": ["a"]}]})");
  EXPECT_TRUE(together.converted.warnings.empty());
  EXPECT_TRUE(together.accepts(R"({"a": 1})"));
  EXPECT_FALSE(together.accepts(R"({"a": 1, "b": 2})"));
}

TEST(GrammarSchemaKeywords, FormatsAsValidatorsCheckThem) {
  const Checked time(R"({"type": "string", "format": "time"})");
  EXPECT_TRUE(time.accepts(R"("12:00:00Z")"));
  EXPECT_TRUE(time.accepts(R"("12:00:00.5+02:00")"));
  EXPECT_FALSE(time.accepts(R"("12:00:00")"));  // RFC 3339's full-time has an offset
  const Checked host(R"({"type": "string", "format": "hostname"})");
  EXPECT_TRUE(host.accepts(R"("example.com.")"));
  EXPECT_TRUE(host.accepts(R"("localhost")"));
  EXPECT_FALSE(host.accepts(R"("example..com")"));
  const Checked email(R"({"type": "string", "format": "email"})");
  EXPECT_TRUE(email.accepts(R"("a.b@example.com")"));
  EXPECT_FALSE(email.accepts(R"("a@localhost")"));
  EXPECT_FALSE(email.accepts(R"("a@example.com.")"));
  const Checked uri(R"({"type": "string", "format": "uri"})");
  for (const char* ok : {R"("https://user@example.com:8080/a/b?c=d&e#f")", R"("mailto:a@example.com")", R"("urn:isbn:0451450523")",
                         R"("http://[::1]/x")", R"("file:///etc/hosts")", R"("a:%20b")"})
    EXPECT_TRUE(uri.accepts(ok)) << ok;
  for (const char* bad : {R"("no-scheme")", R"("a:")", R"("a:b#c#d")", R"("a:%zz")", R"("http://ex[am]ple.com")", R"("a:b c")"})
    EXPECT_FALSE(uri.accepts(bad)) << bad;
}

}  // namespace
