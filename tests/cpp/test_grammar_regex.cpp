// Regex → GBNF: what the grammar accepts matches std::regex (ECMAScript) on the same texts, for JSON
// Schema's search semantics (unanchored unless ^ $) inside JSON strings and for whole-text matching;
// unsupported features fail with an error naming them.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "grammar/regex.h"
#include "test_grammar_schema_util.h"

namespace {

using tabllm::grammar::RegexError;
using tabllm::grammar::RegexOptions;
using tabllm::grammar::regex_to_gbnf;
using tabllm::grammar::regex_to_gbnf_expression;
using tabllm::test::GrammarProbe;

// The pattern as JSON Schema applies it to a string value: the grammar sees the JSON-encoded content.
GrammarProbe schema_pattern_probe(const std::string& pattern) {
  const std::string expression = regex_to_gbnf_expression(pattern, RegexOptions{.json_string_content = true, .search = true});
  return GrammarProbe("root ::= \"\\\"\" " + expression + " \"\\\"\"\n");
}

std::string json_text(const std::string& s) { return nlohmann::json(s).dump(); }

const std::vector<std::string> kTexts = {
    "", "a", "abc", "ABC", "abcabc", "a1", "123", "12-34", "1234", "x-1234", "hello world", "a b", " ", "\t", "a\nb",
    "q\"uote", "back\\slash", "_id", "foo.bar", "foo/bar", "v1.2.3", "2024-01-31", "aaa", "aab", "ba",
    "ab12", "-", "--", "a-b-c", "x{2}", "{", "}", "[x]", "$", "^", "a.b", "A_1", "zz9"};

void expect_same_as_std_regex(const std::string& pattern) {
  SCOPED_TRACE("pattern /" + pattern + "/");
  const std::regex reference(pattern, std::regex::ECMAScript);
  const GrammarProbe probe = schema_pattern_probe(pattern);
  for (const std::string& text : kTexts) {
    SCOPED_TRACE("text " + json_text(text));
    EXPECT_EQ(probe.accepts(json_text(text)), std::regex_search(text, reference));
  }
}

TEST(GrammarRegex, SearchSemanticsMatchStdRegex) {
  for (const char* pattern :
       {"abc", "^abc", "abc$", "^abc$", "^[a-z]+$", "^[A-Za-z_][A-Za-z0-9_]*$", "\\d{4}", "^\\d{2}-\\d{2}$",
        "^(\\d{3}-)?\\d{4}$", "^[^\"\\\\]*$", "^\\S+$", "\\s", "^\\w+$", "^\\W", "^a|b$", "^(a|b)+$", "^(?:ab)*$",
        "^a{2,3}$", "^a{2,}$", "^a{2}b?$", "^[\\-.]+$", "^.{1,3}$", "^.*$", "^[\\d.]+$", "^v\\d+\\.\\d+\\.\\d+$",
        "^\\d{4}-\\d{2}-\\d{2}$", "^[a-z]+(-[a-z]+)*$", "^\\x41", "\\{", "^\\$", "\\^",
        "^[^a-z]*$", "^(|a)$", "^a*?b", "^[\\s\\S]{2}$", "^\\D+$", "[.]", "^\\[x\\]$"}) {
    expect_same_as_std_regex(pattern);
  }
}

TEST(GrammarRegex, JsonEscapingLayer) {
  // The grammar describes the JSON text: a quote in the value is \" in the text, a newline is \n.
  const GrammarProbe quote = schema_pattern_probe("^q\"uote$");
  EXPECT_TRUE(quote.accepts("\"q\\\"uote\""));
  EXPECT_FALSE(quote.accepts("\"q\"uote\""));
  const GrammarProbe newline = schema_pattern_probe("^a\\nb$");
  EXPECT_TRUE(newline.accepts("\"a\\nb\""));
  EXPECT_FALSE(newline.accepts("\"a\nb\""));
  // Unanchored sides accept any JSON string content, escapes included.
  const GrammarProbe anywhere = schema_pattern_probe("x");
  EXPECT_TRUE(anywhere.accepts("\"\\u0041\\t x \\\\\""));
  // A control character inside a class is written as its \u escape.
  const GrammarProbe control = schema_pattern_probe("^[\\x01]$");
  EXPECT_TRUE(control.accepts("\"\\u0001\""));
}

TEST(GrammarRegex, CodePointsAndNamedGroups) {
  // A class or `.` takes one code point, whatever its UTF-8 length.
  const GrammarProbe probe = schema_pattern_probe("^\\u00e9.$");
  EXPECT_TRUE(probe.accepts("\"\u00e9\u00fc\""));  // "éü" as raw UTF-8 in the JSON text
  EXPECT_FALSE(probe.accepts("\"\u00e9\""));
  const GrammarProbe named = schema_pattern_probe("^(?<word>[a-z]+)-\\d$");
  EXPECT_TRUE(named.accepts("\"abc-1\""));
  EXPECT_FALSE(named.accepts("\"abc-x\""));
}

TEST(GrammarRegex, WholeTextGrammar) {
  const GrammarProbe probe(regex_to_gbnf("[0-9]+(\\.[0-9]+)?"));
  EXPECT_TRUE(probe.accepts("12.5"));
  EXPECT_TRUE(probe.accepts("7"));
  EXPECT_FALSE(probe.accepts("x7"));
  EXPECT_FALSE(probe.accepts("7."));
  const GrammarProbe anchored(regex_to_gbnf("^ab$"));
  EXPECT_TRUE(anchored.accepts("ab"));
  EXPECT_FALSE(anchored.accepts("abab"));
  const GrammarProbe any(regex_to_gbnf("a[^]b"));
  EXPECT_TRUE(any.accepts("a\nb"));
}

void expect_regex_error(const std::string& pattern, const std::string& words, size_t offset) {
  SCOPED_TRACE("pattern /" + pattern + "/");
  try {
    regex_to_gbnf_expression(pattern);
    ADD_FAILURE() << "no error";
  } catch (const RegexError& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    EXPECT_EQ(e.offset(), offset) << e.what();
  }
}

TEST(GrammarRegex, UnsupportedFeaturesAreNamed) {
  expect_regex_error("(a)\\1", "backreferences", 3);
  expect_regex_error("a(?=b)", "lookaround", 1);
  expect_regex_error("(?<!x)y", "lookaround", 0);
  expect_regex_error("\\bword", "word boundary", 0);
  expect_regex_error("\\p{L}", "Unicode property", 0);
  expect_regex_error("(ab", "missing ')'", 0);
  expect_regex_error("ab)", "unmatched ')'", 2);
  expect_regex_error("[abc", "missing ']'", 0);
  expect_regex_error("*a", "nothing to repeat", 0);
  expect_regex_error("a{3,1}", "m > n", 1);
  expect_regex_error("[z-a]", "out of order", 1);
  expect_regex_error("a^b", "^ and $", 0);
  expect_regex_error("a**", "nothing to repeat", 2);
  expect_regex_error("a{5000}", "above 4096", 1);
}

}  // namespace
