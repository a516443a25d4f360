#include "tokenizer/unicode.h"

#include <algorithm>
#include <utility>

#include "tokenizer/unicode_tables.h"

namespace tabllm::unicode {

namespace {

bool in_ranges(uint32_t cp, const tables::CodePointRange* ranges, size_t count) {
  const tables::CodePointRange* end = ranges + count;
  const tables::CodePointRange* it =
      std::upper_bound(ranges, end, cp, [](uint32_t c, const tables::CodePointRange& r) { return c < r.first; });
  return it != ranges && cp <= (it - 1)->last;
}

}  // namespace

GeneralCategory general_category(uint32_t cp) {
  if (cp < 0x80) {  // fast path for ASCII, which dominates most text
    if (cp >= 'a' && cp <= 'z') return GeneralCategory::Ll;
    if (cp >= 'A' && cp <= 'Z') return GeneralCategory::Lu;
    if (cp >= '0' && cp <= '9') return GeneralCategory::Nd;
  }
  const uint32_t* end = tables::kCategoryRuns + tables::kCategoryRunCount;
  // The last run whose start is <= cp.
  const uint32_t* run = std::upper_bound(tables::kCategoryRuns, end, (cp << 8) | 0xFFu) - 1;
  return static_cast<GeneralCategory>(*run & 0xFFu);
}

Category category_of(GeneralCategory gc) {
  using G = GeneralCategory;
  if (gc <= G::Cs) return Category::Other;
  if (gc <= G::Lu) return Category::Letter;
  if (gc <= G::Mn) return Category::Mark;
  if (gc <= G::No) return Category::Number;
  if (gc <= G::Ps) return Category::Punctuation;
  if (gc <= G::So) return Category::Symbol;
  return Category::Separator;
}

Category category(uint32_t cp) { return category_of(general_category(cp)); }

uint32_t to_lower(uint32_t cp) {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp;
  const tables::CodePointMapping* end = tables::kLowercase + tables::kLowercaseCount;
  const tables::CodePointMapping* it = std::lower_bound(
      tables::kLowercase, end, cp, [](const tables::CodePointMapping& m, uint32_t c) { return m.from < c; });
  return it != end && it->from == cp ? it->to : cp;
}

void append_decomposition(uint32_t cp, std::u32string& out) {
  // Hangul syllables: the algorithm of the Unicode standard (section 3.12).
  constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7, kTCount = 28,
                     kNCount = 21 * kTCount, kSCount = 19 * kNCount;  // as in to_nfc
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out += static_cast<char32_t>(kLBase + s / kNCount);
    out += static_cast<char32_t>(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out += static_cast<char32_t>(kTBase + s % kTCount);
    return;
  }
  if (cp < 0xC0) {
    out += static_cast<char32_t>(cp);
    return;
  }
  const tables::Decomposition* end = tables::kDecompositions + tables::kDecompositionCount;
  const tables::Decomposition* it = std::lower_bound(
      tables::kDecompositions, end, cp, [](const tables::Decomposition& d, uint32_t c) { return d.cp < c; });
  if (it == end || it->cp != cp) {
    out += static_cast<char32_t>(cp);
    return;
  }
  for (uint32_t i = 0; i < it->count; ++i) out += static_cast<char32_t>(tables::kDecompositionCodePoints[it->offset + i]);
}

namespace {

constexpr uint32_t kHangulSBase = 0xAC00, kHangulLBase = 0x1100, kHangulVBase = 0x1161, kHangulTBase = 0x11A7;
constexpr uint32_t kHangulLCount = 19, kHangulVCount = 21, kHangulTCount = 28;

uint32_t combining_class(uint32_t cp) {
  if (cp < 0x300) return 0;
  const tables::CodePointMapping* end = tables::kCombiningClasses + tables::kCombiningClassCount;
  const tables::CodePointMapping* it = std::lower_bound(
      tables::kCombiningClasses, end, cp, [](const tables::CodePointMapping& m, uint32_t c) { return m.from < c; });
  return it != end && it->from == cp ? it->to : 0;
}

// The primary composite of a starter and the next character, or 0.
uint32_t compose(uint32_t first, uint32_t second) {
  if (first >= kHangulLBase && first < kHangulLBase + kHangulLCount && second >= kHangulVBase &&
      second < kHangulVBase + kHangulVCount) {
    return kHangulSBase + ((first - kHangulLBase) * kHangulVCount + (second - kHangulVBase)) * kHangulTCount;
  }
  if (first >= kHangulSBase && first < kHangulSBase + kHangulLCount * kHangulVCount * kHangulTCount &&
      (first - kHangulSBase) % kHangulTCount == 0 && second > kHangulTBase && second < kHangulTBase + kHangulTCount) {
    return first + (second - kHangulTBase);
  }
  const tables::Composition* end = tables::kCompositions + tables::kCompositionCount;
  const tables::Composition* it = std::lower_bound(
      tables::kCompositions, end, std::pair{first, second}, [](const tables::Composition& c, std::pair<uint32_t, uint32_t> key) {
        return c.first < key.first || (c.first == key.first && c.second < key.second);
      });
  return it != end && it->first == first && it->second == second ? it->composite : 0;
}

}  // namespace

std::string to_nfc(std::string_view text) {
  std::u32string cps;
  bool needs_work = false;
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = next_utf8(text, pos);
    pos += c.status == Utf8Char::Status::Valid ? c.length : 1;
    needs_work = needs_work || c.cp >= 0x300;
    append_decomposition(c.cp, cps);
  }
  if (!needs_work) return std::string(text);
  // Canonical order: marks sorted by combining class, stably, between starters.
  for (size_t i = 1; i < cps.size(); ++i) {
    for (size_t j = i; j > 0; --j) {
      const uint32_t before = combining_class(cps[j - 1]), after = combining_class(cps[j]);
      if (after == 0 || before <= after) break;
      std::swap(cps[j - 1], cps[j]);
    }
  }
  // Canonical composition: each character joins the last starter unless a character of the same or a
  // higher class (or another starter) stands between them.
  std::u32string composed;
  size_t starter = std::u32string::npos;
  uint32_t last_class = 0;
  for (char32_t c : cps) {
    const uint32_t cp = static_cast<uint32_t>(c);
    const uint32_t cls = combining_class(cp);
    if (starter != std::u32string::npos && (last_class < cls || (last_class == 0 && composed.size() == starter + 1))) {
      if (const uint32_t composite = compose(static_cast<uint32_t>(composed[starter]), cp)) {
        composed[starter] = static_cast<char32_t>(composite);
        continue;
      }
    }
    if (cls == 0) starter = composed.size();
    last_class = cls;
    composed += c;
  }
  std::string out;
  out.reserve(text.size());
  for (char32_t c : composed) append_utf8(out, static_cast<uint32_t>(c));
  return out;
}

bool is_han(uint32_t cp) { return cp >= 0x2E80 && in_ranges(cp, tables::kHan, tables::kHanCount); }

bool is_white_space(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  for (size_t i = 0; i < tables::kWhiteSpaceCount; ++i) {
    if (cp < tables::kWhiteSpace[i].first) return false;
    if (cp <= tables::kWhiteSpace[i].last) return true;
  }
  return false;
}

Utf8Char next_utf8(std::string_view s, size_t pos) {
  using Status = Utf8Char::Status;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t lead = byte(pos);
  if (lead < 0x80) return {lead, 1, Status::Valid};
  uint8_t length;
  uint32_t cp;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte (excludes overlongs and surrogates)
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, cp = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, cp = lead & 0x0Fu;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, cp = lead & 0x07u;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return {kReplacementChar, 1, Status::Invalid};
  }
  for (uint8_t i = 1; i < length; ++i) {
    if (pos + i >= s.size()) return {kReplacementChar, i, Status::Truncated};
    const uint8_t b = byte(pos + i);
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) return {kReplacementChar, 1, Status::Invalid};
    cp = (cp << 6) | (b & 0x3Fu);
  }
  return {cp, length, Status::Valid};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace tabllm::unicode
