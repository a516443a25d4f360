// Pieces of the JSON Schema converter that stand alone: integer ranges and string formats as GBNF.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tabllm::grammar::schema {

// A GBNF expression for the decimal JSON integers in [lo, hi] (either side open when absent); lo <= hi.
std::string integer_range_expression(std::optional<int64_t> lo, std::optional<int64_t> hi);

// A GBNF expression for the content (between the quotes) of a string in the given `format`, or nullopt
// when the format is not one the grammar enforces.
std::optional<std::string> string_format_expression(std::string_view format);

}  // namespace tabllm::grammar::schema
