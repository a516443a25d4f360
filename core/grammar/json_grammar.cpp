// The built-in JSON grammar. Written so that both front-ends read it (and XGrammar too, for benchmarks):
// double-quoted literals, classes, no comments. Strings keep their characters inline (not in a rule of
// their own) so that the mask cache sees a whole string as one rule.
#include "grammar/grammar.h"

namespace tabllm::grammar {
namespace {

constexpr const char* kJsonRules = R"(value ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( member ( "," ws member )* )? "}" ws
member ::= string ":" ws value
array ::= "[" ws ( value ( "," ws value )* )? "]" ws
string ::= "\"" ( [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\"" ws
number ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )? ws
ws ::= [ \t\n\r]*
)";

}  // namespace

const std::string& json_gbnf() {
  static const std::string text = std::string("root ::= value\n") + kJsonRules;
  return text;
}

const std::string& json_object_gbnf() {
  static const std::string text = std::string("root ::= object\n") + kJsonRules;
  return text;
}

}  // namespace tabllm::grammar
