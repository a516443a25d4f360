// Reading GBNF expressions that the front-ends write as text.
#pragma once
#include <cstddef>
#include <string_view>

namespace tabllm::grammar {

// Where the group that opens at e[0] == '(' closes, skipping string literals, character classes and escapes;
// npos when it does not close.
inline size_t gbnf_group_end(std::string_view e) {
  int depth = 0;
  bool in_string = false, in_class = false;
  for (size_t i = 0; i < e.size(); ++i) {
    const char c = e[i];
    if (c == '\\') {
      ++i;
    } else if (in_string) {
      in_string = c != '"';
    } else if (in_class) {
      in_class = c != ']';
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace tabllm::grammar
