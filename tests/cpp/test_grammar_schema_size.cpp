// Large JSON Schemas stay within the automaton's size: small rules (whitespace, strings) are inlined at
// every use, larger ones only where they are built once, and the state limit counts the states exactly.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/nfa.h"
#include "test_grammar_schema_util.h"

namespace {

using json = nlohmann::ordered_json;
using tabllm::grammar::GrammarError;
using tabllm::grammar::Nfa;
using tabllm::grammar::parse_gbnf;

// An object of `n` optional properties of assorted types and no others, with a nested object of its own.
json wide_schema(int n) {
  static const char* const kTypes[] = {
      R"({"type": "string"})", R"({"type": "integer", "minimum": 0})", R"({"type": "boolean"})",
      R"({"type": "string", "format": "date-time"})", R"({"type": "number"})",
      R"({"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}})"};
  json properties = json::object();
  for (int i = 0; i < n; ++i) properties["p" + std::to_string(i)] = json::parse(kTypes[i % 6]);
  properties["nested"] = {{"type", "object"}, {"properties", properties}, {"additionalProperties", false}};
  return {{"type", "object"}, {"properties", properties}, {"additionalProperties", false}};
}

TEST(GrammarSchemaSize, WideObjectsCompileAndKeepPropertyOrder) {
  const auto converted = tabllm::grammar::json_schema_to_gbnf(wide_schema(150));
  const tabllm::test::GrammarProbe probe(converted.gbnf);
  const json document = {{"p0", "x"}, {"p7", 12}, {"p9", "2024-05-01T12:34:56Z"}, {"p146", true},
                         {"nested", {{"p1", 3}, {"p5", json::array({"a", "c"})}}}};
  EXPECT_TRUE(probe.accepts(document.dump()));
  EXPECT_TRUE(probe.accepts(document.dump(2)));
  EXPECT_TRUE(probe.accepts("{}"));
  EXPECT_FALSE(probe.accepts(R"({"p7": 12, "p0": "x"})"));  // out of schema order
  EXPECT_FALSE(probe.accepts(R"({"p7": -1})"));
  EXPECT_FALSE(probe.accepts(R"({"p5": ["d"]})"));
}

TEST(GrammarSchemaSize, RulesUsedOnceOrSmallAreInlined) {
  // `ws` is small: inlined at each of its uses. `big` (over a hundred states) is used twice: called.
  // `once` is large but used once: inlined.
  const Nfa nfa = Nfa::build(parse_gbnf(
      "root ::= once ws big ws big ws\n"
      "once ::= \"<\" [a-z]{0,200} \">\"\n"
      "big ::= \"(\" [a-z]{0,200} \")\"\n"
      "ws ::= [ \\t]{0,8}\n"));
  auto rule = [&](const std::string& name) {
    for (size_t r = 0; r < nfa.rule_names.size(); ++r)
      if (nfa.rule_names[r] == name) return nfa.rule_start[r];
    return -3;
  };
  EXPECT_EQ(rule("once"), -1);
  EXPECT_EQ(rule("ws"), -1);
  EXPECT_GE(rule("big"), 0);
}

TEST(GrammarSchemaSize, CopiesOfCopiesAreCounted) {
  // Each level uses the next one twice: inlining all of it would build 2^24 copies of `l24`.
  std::string gbnf = "root ::= l0\n";
  for (int i = 0; i < 24; ++i)
    gbnf += "l" + std::to_string(i) + " ::= \"[\" l" + std::to_string(i + 1) + " \",\" l" + std::to_string(i + 1) + " \"]\"\n";
  gbnf += "l24 ::= [a-z]{1,40}\n";
  const Nfa nfa = Nfa::build(parse_gbnf(gbnf));
  EXPECT_LT(nfa.states.size(), 5'000u);
}

TEST(GrammarSchemaSize, StateLimitIsExact) {
  // About 410,000 states: built. About 1,000,000: refused before building, with the reason.
  EXPECT_NO_THROW(Nfa::build(parse_gbnf(R"(root ::= ("ab"{4096}){50})")));
  try {
    Nfa::build(parse_gbnf(R"(root ::= ("ab"{4096}){122})"));
    ADD_FAILURE() << "an automaton of a million states was built";
  } catch (const GrammarError& e) {
    EXPECT_NE(std::string(e.what()).find("too large"), std::string::npos) << e.what();
  }
}

}  // namespace
