// Any text given as a regex either fails with a RegexError or converts to GBNF (as a whole-text grammar
// and as a JSON Schema pattern inside a string) that parse_gbnf reads back.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "grammar/grammar.h"
#include "grammar/regex.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view pattern(reinterpret_cast<const char*>(data), size);
  std::string whole, in_string;
  try {
    whole = tabllm::grammar::regex_to_gbnf(pattern);
    in_string = "root ::= \"\\\"\" " +
                tabllm::grammar::regex_to_gbnf_expression(
                    pattern, {.json_string_content = true, .search = true, .max_repeat = 64}) +
                " \"\\\"\"\n";
  } catch (const tabllm::grammar::RegexError&) {
    return 0;
  }
  try {
    tabllm::grammar::parse_gbnf(whole);
    tabllm::grammar::parse_gbnf(in_string);
  } catch (const tabllm::grammar::GrammarError&) {
    std::abort();  // the converter wrote a grammar that does not parse
  }
  return 0;
}
