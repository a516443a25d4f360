// UTF-8 decoding and the Unicode properties the pre-tokenizers need (general category, White_Space, Han script).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace tabllm::unicode {

// Major general-category class (the first letter of Lu, Nd, Po, ...): what \p{L}, \p{N}, \p{P} test.
enum class Category : uint8_t { Other = 0, Letter, Mark, Number, Punctuation, Symbol, Separator };

// The two-letter general category (Lu, Nd, Po, ...); Cn for unassigned code points. The order is the
// generator's (tools/unicode/gen_unicode_tables.py).
enum class GeneralCategory : uint8_t {
  Cn, Cc, Cf, Co, Cs, Ll, Lm, Lo, Lt, Lu, Mc, Me, Mn, Nd, Nl, No,
  Pc, Pd, Pe, Pf, Pi, Po, Ps, Sc, Sk, Sm, So, Zl, Zp, Zs,
};

Category category(uint32_t cp);
GeneralCategory general_category(uint32_t cp);
Category category_of(GeneralCategory gc);
bool is_white_space(uint32_t cp);  // the White_Space property, i.e. regex \s
bool is_han(uint32_t cp);          // Script=Han, i.e. regex \p{Han}
uint32_t to_lower(uint32_t cp);    // the simple lowercase mapping (cp itself when it has none)
// Appends the full canonical decomposition of `cp` (itself when it has none; Hangul syllables into jamo).
// Combining marks are not reordered: WordPiece removes them anyway.
void append_decomposition(uint32_t cp, std::u32string& out);
// Unicode Normalization Form C of UTF-8 text (invalid bytes become U+FFFD). Text without code points from
// U+0300 on is returned unchanged without work.
std::string to_nfc(std::string_view text);

constexpr uint32_t kReplacementChar = 0xFFFD;

// One step of UTF-8 decoding at `pos`.
struct Utf8Char {
  enum class Status : uint8_t { Valid, Invalid, Truncated };
  uint32_t cp;      // the code point; kReplacementChar unless Valid
  uint8_t length;   // bytes consumed: the sequence when Valid, the rest of the string when Truncated, 1 when Invalid
  Status status;    // Truncated: a valid start of a sequence that the string ends before completing
};
Utf8Char next_utf8(std::string_view s, size_t pos);

void append_utf8(std::string& out, uint32_t cp);

}  // namespace tabllm::unicode
