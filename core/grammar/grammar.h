// The grammar IR shared by every front-end (GBNF, EBNF, JSON Schema, regex): named rules whose bodies are
// expressions over UTF-8 text. Front-ends produce it; compile() (compiled_grammar.h) turns it into the
// byte-level pushdown automaton the Matcher runs.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace tabllm::grammar {

// Invalid grammar text or structure. Syntax errors read "line L, column C: ...".
class GrammarError : public tabllm::Error {
 public:
  using tabllm::Error::Error;
};

// Code point range, both ends included.
struct CharRange {
  uint32_t first = 0, last = 0;
};

struct Expr {
  enum class Kind : uint8_t {
    Empty,      // matches ""
    Literal,    // the UTF-8 bytes in `text`
    CharClass,  // one code point in `ranges` (or not in them, when `negated`)
    RuleRef,    // rule number `rule`
    Sequence,   // children one after another
    Choice,     // any one child
    Repeat,     // child min_count..max_count times (max_count < 0: unbounded)
  };
  Kind kind = Kind::Empty;
  std::string text;
  std::vector<CharRange> ranges;
  bool negated = false;
  int32_t rule = -1;
  int32_t min_count = 0, max_count = -1;
  std::vector<Expr> children;

  static Expr empty() { return {}; }
  static Expr literal(std::string bytes);
  static Expr char_class(std::vector<CharRange> ranges, bool negated);
  static Expr rule_ref(int32_t rule);
  static Expr sequence(std::vector<Expr> items);
  static Expr choice(std::vector<Expr> items);
  static Expr repeat(Expr item, int32_t min_count, int32_t max_count);
};

struct Rule {
  std::string name;
  Expr body;
};

struct Grammar {
  std::vector<Rule> rules;
  int32_t root = 0;

  int32_t find_rule(std::string_view name) const;  // -1 when absent
  // GBNF text that parses back into an equivalent grammar (for error reports and debugging).
  std::string to_gbnf() const;
};

// llama.cpp's GBNF: `name ::= body` rules, a rule's body ending at the end of its line unless inside
// parentheses or the next line starts with `|`; "literals", [classes], `.`, ( ), * + ? {m,n}, # comments.
Grammar parse_gbnf(std::string_view text, std::string_view root = "root");
// The W3C-style EBNF XGrammar reads: like GBNF but rules may span lines (a rule ends where the next
// `name ::=` starts, or at `;`), 'single-quoted' literals and /* comments */ are allowed, and lookahead
// assertions `(= ...)` are accepted and ignored (they only help XGrammar prune).
Grammar parse_ebnf(std::string_view text, std::string_view root = "root");

// Any JSON value (RFC 8259), whitespace allowed between tokens, in GBNF. Its rule `object` is the JSON
// object alone; json_object_gbnf() has it at the root (response_format {type: "json_object"}).
const std::string& json_gbnf();
const std::string& json_object_gbnf();

// Rejects what the automaton cannot run: an empty grammar, references to undefined rules (the parsers
// already catch those), rules that can never finish, and left recursion (a rule that can reach itself
// without consuming a byte). Called by compile(); front-ends may call it early for better errors.
void validate(const Grammar& grammar);

}  // namespace tabllm::grammar
