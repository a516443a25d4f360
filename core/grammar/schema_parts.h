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

// Decimal magnitudes that are multiples of k (1 <= k), as k rules: names[r] is the rule for the digits
// that may follow once the digits so far leave remainder r (it may end only at r == 0).
std::string multiple_state_body(uint64_t k, uint64_t r, const std::vector<std::string>& names);
// The magnitudes themselves ("0", or no leading zero), entering those rules.
std::string multiple_magnitude(uint64_t k, const std::vector<std::string>& names);

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
