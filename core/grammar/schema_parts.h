// Pieces of the JSON Schema converter that stand alone: integer ranges, string formats and object keys as GBNF.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tabllm::grammar::schema {

// A GBNF expression for the decimal JSON integers in [lo, hi] (either side open when absent); lo <= hi.
std::string integer_range_expression(std::optional<int64_t> lo, std::optional<int64_t> hi);

// A GBNF expression for the decimal JSON numbers without exponent in the range from lo to hi (exclusive
// where lo_x / hi_x; an absent bound is open): "" when the range is empty, nullopt when a bound is too
// large (1e15 or more) to spell here.
std::optional<std::string> decimal_range_expression(std::optional<double> lo, bool lo_x, std::optional<double> hi, bool hi_x);

// Decimal magnitudes (no leading zero, not 0) that are multiples of k (1 <= k) with at most `digits`
// digits: the automaton of the remainder modulo k, unrolled over the digits left and keeping only the
// states from which a multiple can still end. define(hint, body) adds a rule and returns its name.
std::string positive_multiples(uint64_t k, int digits,
                               const std::function<std::string(const std::string&, const std::string&)>& define);

// A GBNF expression for the content (between the quotes) of a string in the given `format`, or nullopt
// when the format is not one the grammar enforces.
std::optional<std::string> string_format_expression(std::string_view format);

// A GBNF expression for the content of a JSON string that decodes to none of `names`, however it is
// spelled (escapes included). `string_rest` names a rule for any string content (where a key leaves
// every name behind); `define(body)` returns the name of a rule with that body (one per node of the
// names' trie).
std::string key_excluding_expression(const std::vector<std::string>& names, const std::string& string_rest,
                                     const std::function<std::string(const std::string&)>& define);

}  // namespace tabllm::grammar::schema
