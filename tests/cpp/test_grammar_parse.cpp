// GBNF and EBNF front-ends: what they accept, what the IR looks like, and the errors they give.
#include <gtest/gtest.h>

#include <functional>

#include "grammar/grammar.h"

using namespace tabllm::grammar;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const GrammarError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(GrammarParse, GbnfRulesAndOperators) {
  const Grammar g = parse_gbnf(R"(# a comment
root ::= greeting (", " name)* "!"? [0-9]{2,3} # trailing comment
greeting ::= "hello" | "hi"
  | "hey"
name ::= [A-Z] [a-z]+ .
)");
  ASSERT_EQ(g.rules.size(), 3u);
  EXPECT_EQ(g.rules[g.root].name, "root");
  const Expr& body = g.rules[g.root].body;
  ASSERT_EQ(body.kind, Expr::Kind::Sequence);
  ASSERT_EQ(body.children.size(), 4u);
  EXPECT_EQ(body.children[1].kind, Expr::Kind::Repeat);
  EXPECT_EQ(body.children[2].max_count, 1);
  EXPECT_EQ(body.children[3].min_count, 2);
  EXPECT_EQ(body.children[3].max_count, 3);
  const Expr& greeting = g.rules[g.find_rule("greeting")].body;
  ASSERT_EQ(greeting.kind, Expr::Kind::Choice);
  EXPECT_EQ(greeting.children.size(), 3u);  // the third alternative continues on the next line
  // Printing gives GBNF that parses back to the same printout.
  EXPECT_EQ(parse_gbnf(g.to_gbnf()).to_gbnf(), g.to_gbnf());
}

TEST(GrammarParse, GbnfEscapesAndClasses) {
  const Grammar g = parse_gbnf(R"(root ::= "a\n\t\"\\\x41\u00e9" [^\]\-a-c] "é")");
  const Expr& body = g.rules[0].body;
  ASSERT_EQ(body.kind, Expr::Kind::Sequence);
  EXPECT_EQ(body.children[0].text, "a\n\t\"\\A\xC3\xA9");
  EXPECT_TRUE(body.children[1].negated);
  ASSERT_EQ(body.children[1].ranges.size(), 3u);
  EXPECT_EQ(body.children[1].ranges[2].first, 'a');
  EXPECT_EQ(body.children[1].ranges[2].last, 'c');
  EXPECT_EQ(body.children[2].text, "\xC3\xA9");
}

TEST(GrammarParse, GbnfErrorsHaveLineAndColumn) {
  EXPECT_EQ(error_of([] { parse_gbnf("root ::= \"a\" b\n"); }),
            "line 1, column 14: the rule 'b' is used but never defined");
  EXPECT_EQ(error_of([] { parse_gbnf("root ::= \"a\"\nx = \"b\"\n"); }),
            "line 2, column 3: expected '::=' after the rule name 'x'");
  EXPECT_EQ(error_of([] { parse_gbnf("root ::= \"abc\n"); }), "line 1, column 10: the literal opened here is never closed");
  EXPECT_EQ(error_of([] { parse_gbnf("root ::= ( \"a\" \n"); }), "line 1, column 10: the parenthesis opened here is never closed");
  EXPECT_EQ(error_of([] { parse_gbnf("root ::= [z-a]"); }), "line 1, column 11: the character range is reversed (its end comes before its start)");
  EXPECT_EQ(error_of([] { parse_gbnf("root ::= \"a\"{3,2}"); }), "line 1, column 13: the repetition {3,2} has its maximum below its minimum");
  EXPECT_EQ(error_of([] { parse_gbnf("root ::= \"\\q\""); }), "line 1, column 11: unknown escape '\\q'");
  EXPECT_EQ(error_of([] { parse_gbnf("root ::= \"a\"\nroot ::= \"b\""); }), "line 2, column 1: the rule 'root' is defined twice");
  EXPECT_EQ(error_of([] { parse_gbnf("root ::= \"a\" )"); }), "line 1, column 14: unexpected ')', expected the end of the rule");
  EXPECT_NE(error_of([] { parse_gbnf("  # only a comment\n"); }).find("the grammar is empty"), std::string::npos);
  EXPECT_NE(error_of([] { parse_gbnf("start ::= \"a\""); }).find("no rule named 'root'"), std::string::npos);
  EXPECT_NO_THROW(parse_gbnf("start ::= \"a\"", "start"));
}

TEST(GrammarParse, StructuralErrors) {
  EXPECT_EQ(error_of([] { validate(parse_gbnf("root ::= expr\nexpr ::= expr \"+\" term | term\nterm ::= [0-9]")); }),
            "left recursion (expr -> expr) is not supported: rewrite it with repetition, e.g. 'list ::= item (\",\" item)*'");
  EXPECT_NE(error_of([] { validate(parse_gbnf("root ::= a\na ::= b \"x\" | \"y\"\nb ::= \"\"? a")); }).find("left recursion"),
            std::string::npos);
  EXPECT_NE(error_of([] { validate(parse_gbnf("root ::= \"(\" root \")\"")); }).find("can never be completed"),
            std::string::npos);
  EXPECT_NO_THROW(validate(parse_gbnf("root ::= \"(\" root \")\" | \"x\"")));
}

TEST(GrammarParse, EbnfDialect) {
  const Grammar g = parse_ebnf(R"(/* XGrammar-style EBNF */
root ::= "[" item
         ("," item)* "]"
item ::= 'x' | "y" (= "," | "]") ;
)");
  ASSERT_EQ(g.rules.size(), 2u);
  const Expr& root = g.rules[g.root].body;
  ASSERT_EQ(root.kind, Expr::Kind::Sequence);
  EXPECT_EQ(root.children.size(), 4u);  // the rule spans two lines
  const Expr& item = g.rules[1].body;
  ASSERT_EQ(item.kind, Expr::Kind::Choice);
  EXPECT_EQ(item.children[0].text, "x");
  EXPECT_EQ(item.children[1].text, "y");  // the lookahead assertion is dropped
  EXPECT_EQ(error_of([] { parse_ebnf("root ::= \"a\"\n  /* never closed"); }),
            "line 2, column 3: the comment '/*' is never closed with '*/'");
  EXPECT_EQ(error_of([] { parse_ebnf("root ::= \"a\" |\n  missing"); }), "line 2, column 3: the rule 'missing' is used but never defined");
}

TEST(GrammarParse, BuiltinJsonGrammarsParseInBothDialects) {
  EXPECT_NO_THROW(validate(parse_gbnf(json_gbnf())));
  EXPECT_NO_THROW(validate(parse_ebnf(json_gbnf())));
  EXPECT_NO_THROW(validate(parse_gbnf(json_object_gbnf())));
}
