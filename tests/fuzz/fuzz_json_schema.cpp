// Any text given as a JSON Schema either fails with a SchemaError or converts to GBNF that parse_gbnf
// reads back (the converter never produces a grammar its own parser rejects), in both option modes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  tabllm::grammar::SchemaOptions options;
  options.strict = data[0] & 1;
  options.any_property_order = (data[0] >> 1) & 1;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  tabllm::grammar::SchemaGrammar converted;
  try {
    converted = tabllm::grammar::json_schema_text_to_gbnf(text, options);
  } catch (const tabllm::grammar::SchemaError&) {
    return 0;
  }
  try {
    tabllm::grammar::parse_gbnf(converted.gbnf);
  } catch (const tabllm::grammar::GrammarError&) {
    std::abort();  // the converter wrote a grammar that does not parse
  }
  return 0;
}
