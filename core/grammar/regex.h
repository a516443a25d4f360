// Regular expression → GBNF. The dialect is ECMAScript's, as JSON Schema's `pattern` uses it: anchors ^ $,
// character classes, escapes (\d \w \s \D \W \S \t \n \xNN \uNNNN \u{N}...), quantifiers * + ? {m} {m,}
// {m,n} (lazy forms too: they match the same strings), capturing, named and non-capturing groups and
// alternation. Backreferences, lookaround, word boundaries and Unicode property escapes describe no
// context-free language we can express this way and are rejected with a RegexError.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"

namespace tabllm::grammar {

class RegexError : public Error {
 public:
  // The message names the pattern, the offset (in code points) and what to change.
  RegexError(std::string_view pattern, size_t offset, const std::string& what);
  size_t offset() const { return offset_; }

 private:
  size_t offset_;
};

struct RegexOptions {
  // Describe the text as it appears inside a JSON string literal (between the quotes): '"', '\' and
  // control characters are written as their JSON escapes (the canonical ones a JSON serializer emits).
  bool json_string_content = false;
  // JSON Schema semantics: the pattern may match anywhere in the string unless ^ (start) or $ (end)
  // anchors it. Without it, the whole text must match and ^ $ at the ends are no-ops.
  bool search = false;
  // Repetition counts above this are not kept: {m,n} becomes {min(m, cap),} (a superset), so that large
  // counts do not blow up the automaton. 0: no cap.
  int max_repeat = 0;
};

// One GBNF expression (literals, classes, groups and quantifiers; no rule references) for the texts the
// pattern matches. Throws RegexError.
// `relaxed`, when given, is set when a count was capped by max_repeat.
std::string regex_to_gbnf_expression(std::string_view pattern, const RegexOptions& options = {}, bool* relaxed = nullptr);

// A complete grammar whose rule `root` accepts exactly the texts the pattern matches as a whole.
std::string regex_to_gbnf(std::string_view pattern);

// GBNF spellings shared with the JSON Schema converter.
std::string gbnf_literal(std::string_view utf8);  // "..." with GBNF escapes
// The JSON-escaped form of one string character, as a GBNF expression (canonical escapes only).
std::string gbnf_json_char_literal(char32_t codepoint);
// Any character of a JSON string's content, escapes included.
inline constexpr std::string_view kGbnfJsonCharExpression =
    R"(( [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) ))";

}  // namespace tabllm::grammar
