// Schema mode of tabllm_bench_grammar: JSON Schemas of a directory (NAME.json with NAME.tests.json),
// each converted and compiled, then its valid test documents run through a matcher.
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "grammar/compiled_grammar.h"
#include "tokenizer/tokenizer.h"

namespace tabllm::bench {

struct SchemaBenchOptions {
  std::string dir;
  int every = 1;     // every Nth schema in name order
  int limit = 0;     // at most this many schemas (0: all)
  int compiles = 3;  // a schema's compile time is the median of this many
  grammar::CompileOptions compile;
  bool any_property_order = false;  // objects' properties in any order (SchemaOptions)
  bool cpu_time = false;            // time by the thread's CPU time instead of the wall clock
  int slowest = 0;                  // list this many slowest masks, with the text written before each
};

// Compile ms (per schema: convert + parse + compile) and mask µs (every fill before every token of every
// valid document, compact JSON), as medians and tails; schemas that fail to convert or compile are listed.
nlohmann::ordered_json bench_schemas(const Tokenizer& tokenizer, std::shared_ptr<const grammar::TokenVocabulary> vocab,
                                     const SchemaBenchOptions& options);

}  // namespace tabllm::bench
