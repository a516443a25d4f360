// EBNF text: parse errors are GrammarErrors and nothing else; grammars that parse compile and run with
// masks that agree with accepting each token (see grammar_fuzz_common.h).
#include "grammar_fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz_grammar::run(data, size, [](std::string_view text) { return tabllm::grammar::parse_ebnf(text); });
}
