// The matcher at the byte level: accepting and rejecting text, rollback, fork, termination, jump-forward.
#include <gtest/gtest.h>

#include "grammar/compiled_grammar.h"
#include "grammar/matcher.h"

using namespace tabllm::grammar;

namespace {

// A vocabulary of single bytes 0..255 plus an end token (256): enough to run text through a matcher.
std::shared_ptr<const TokenVocabulary> byte_vocabulary() {
  std::vector<std::string> bytes(257);
  for (int b = 0; b < 256; ++b) bytes[b] = std::string(1, static_cast<char>(b));
  return std::make_shared<const TokenVocabulary>(std::move(bytes), std::vector<int32_t>{256});
}

std::shared_ptr<const CompiledGrammar> compiled(const std::string& gbnf) {
  static const auto vocab = byte_vocabulary();
  return compile(parse_gbnf(gbnf), vocab);
}

// The whole text is a complete match.
bool matches(const std::shared_ptr<const CompiledGrammar>& g, std::string_view text) {
  Matcher m(g);
  return m.accept_bytes(text) && m.can_terminate();
}

}  // namespace

TEST(GrammarMatcher, AcceptsAndRejectsText) {
  const auto g = compiled(R"(root ::= greeting (", " name)* "!"?
greeting ::= "hello" | "hi"
name ::= [A-Z] [a-z]+)");
  EXPECT_TRUE(matches(g, "hello"));
  EXPECT_TRUE(matches(g, "hi, Ada, Bob!"));
  EXPECT_FALSE(matches(g, "hi, ada"));
  EXPECT_FALSE(matches(g, "hi, A"));
  EXPECT_FALSE(matches(g, "hey"));
  EXPECT_FALSE(matches(g, "hello!!"));
  Matcher m(g);
  EXPECT_TRUE(m.accept_bytes("hi, A"));
  EXPECT_FALSE(m.can_terminate());  // a prefix, not yet complete
  EXPECT_FALSE(m.accept_bytes("7"));
  EXPECT_TRUE(m.accept_bytes("b"));  // the failed step left the state unchanged
  EXPECT_TRUE(m.can_terminate());
}

TEST(GrammarMatcher, RepetitionBounds) {
  const auto g = compiled(R"(root ::= [0-9]{2,4} "-" "x"{3} ("y"{1,})?)");
  EXPECT_FALSE(matches(g, "1-xxx"));
  EXPECT_TRUE(matches(g, "12-xxx"));
  EXPECT_TRUE(matches(g, "1234-xxxyyy"));
  EXPECT_FALSE(matches(g, "12345-xxx"));
  EXPECT_FALSE(matches(g, "12-xx"));
}

TEST(GrammarMatcher, Utf8CharacterClasses) {
  const auto g = compiled(R"(root ::= [^a-z]+ [α-ω] .)");
  EXPECT_TRUE(matches(g, "ÄÖ€😀βx"));
  EXPECT_FALSE(matches(g, "aβx"));
  EXPECT_FALSE(matches(g, "Äβ"));
  EXPECT_FALSE(matches(g, "\xC3\x28" "βx"));  // malformed UTF-8
  EXPECT_FALSE(matches(g, "\xED\xA0\x80" "βx"));  // a UTF-16 surrogate
  EXPECT_FALSE(matches(g, "\xC0\xAF" "βx"));  // overlong
  Matcher m(g);
  EXPECT_TRUE(m.accept_bytes("\xE2\x82"));  // half of '€' is a valid prefix
  EXPECT_TRUE(m.accept_bytes("\xAC"));
}

TEST(GrammarMatcher, JsonGrammar) {
  const auto g = compile(parse_gbnf(json_gbnf()), byte_vocabulary());
  for (const char* ok : {R"({"a": [1, -2.5e3, true, null], "b": {"c": "d\n\u00e9"}})", "[]", "\"x\"", "0", "-0.5",
                         "{ }", "[ {\"k\" : [ ] } ]", "\"caf\xC3\xA9\""})
    EXPECT_TRUE(matches(g, ok)) << ok;
  for (const char* bad : {"{a: 1}", "[1,]", "01", "\"\\x\"", "{\"a\" 1}", "tru", "[1 2]", "\"a\nb\"", "1.", "{} {}"})
    EXPECT_FALSE(matches(g, bad)) << bad;
  const auto object_only = compile(parse_gbnf(json_object_gbnf()), byte_vocabulary());
  EXPECT_TRUE(matches(object_only, "{\"a\": 1}"));
  EXPECT_FALSE(matches(object_only, "[1]"));
}

TEST(GrammarMatcher, RollbackAndFork) {
  const auto g = compiled(R"(root ::= "ab" ("cd" | "ce") "f")");
  Matcher m(g);
  for (char c : std::string("abc")) ASSERT_TRUE(m.accept_token(static_cast<unsigned char>(c)));
  Matcher fork = m.fork();
  EXPECT_TRUE(m.accept_token('d'));
  EXPECT_TRUE(m.accept_token('f'));
  EXPECT_TRUE(m.can_terminate());
  m.rollback(2);
  EXPECT_FALSE(m.can_terminate());
  EXPECT_TRUE(m.accept_token('e'));  // the other branch, after rolling back
  EXPECT_TRUE(fork.accept_token('d'));
  EXPECT_FALSE(fork.accept_token('e'));  // the fork went its own way
  EXPECT_THROW(m.rollback(5), GrammarError);
  m.rollback(4);
  EXPECT_EQ(m.steps(), 0);
  EXPECT_TRUE(m.accept_bytes("abcef"));
}

TEST(GrammarMatcher, TerminationAndEndTokens) {
  const auto g = compiled(R"(root ::= "a"+)");
  Matcher m(g);
  EXPECT_FALSE(m.accept_token(256));  // nothing matched yet: no end token
  EXPECT_TRUE(m.accept_token('a'));
  EXPECT_TRUE(m.can_terminate());
  EXPECT_FALSE(m.is_terminated());  // more 'a' may follow
  EXPECT_TRUE(m.accept_token(256));
  EXPECT_TRUE(m.is_terminated());
  EXPECT_FALSE(m.accept_token('a'));
  m.rollback(1);
  EXPECT_FALSE(m.is_terminated());
  // A grammar whose text cannot go on terminates by itself.
  Matcher fixed(compiled(R"(root ::= "yes" | "no")"));
  EXPECT_TRUE(fixed.accept_bytes("no"));
  EXPECT_TRUE(fixed.is_terminated());
}

TEST(GrammarMatcher, JumpForward) {
  const auto g = compiled(R"(root ::= "{\"name\": \"" [a-z]+ "\", \"age\": " [0-9]+ "}")");
  Matcher m(g);
  EXPECT_EQ(m.find_jump_forward_string(), "{\"name\": \"");
  EXPECT_EQ(m.steps(), 0);  // finding it does not advance
  ASSERT_TRUE(m.accept_bytes("{\"name\": \"bo"));
  EXPECT_EQ(m.find_jump_forward_string(), "");  // a letter or the quote
  ASSERT_TRUE(m.accept_bytes("b\""));
  EXPECT_EQ(m.find_jump_forward_string(), ", \"age\": ");
}

TEST(GrammarMatcher, DeepNestingAndLongRepetition) {
  const auto g = compile(parse_gbnf(json_gbnf()), byte_vocabulary());
  Matcher m(g);
  const std::string deep = std::string(500, '[') + std::string(500, ']');
  EXPECT_TRUE(m.accept_bytes(deep));
  EXPECT_TRUE(m.can_terminate());
  Matcher s(g);
  EXPECT_TRUE(s.accept_bytes("\"" + std::string(20000, 'x') + "\""));
  EXPECT_TRUE(s.can_terminate());
}
