#include "tokenizer/pretokenizer.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>

#include "common/error.h"
#include "tokenizer/unicode.h"

namespace tabllm {
namespace {

enum Flag : uint8_t { kLetter = 1, kNumber = 2, kPunctuation = 4, kSpace = 8 };

// The text as code points, with the byte offset of each (plus the end) and its class flags.
// Invalid UTF-8 bytes become one U+FFFD each, so words still cover every input byte.
struct CodePoints {
  std::vector<uint32_t> cp;
  std::vector<uint32_t> offset;
  std::vector<uint8_t> flags;
  std::vector<unicode::GeneralCategory> categories;

  explicit CodePoints(std::string_view text) {
    cp.reserve(text.size());
    offset.reserve(text.size() + 1);
    flags.reserve(text.size());
    categories.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
      const unicode::Utf8Char c = unicode::next_utf8(text, pos);
      const uint32_t code = c.status == unicode::Utf8Char::Status::Valid ? c.cp : unicode::kReplacementChar;
      const size_t length = c.status == unicode::Utf8Char::Status::Valid ? c.length : 1;
      const unicode::GeneralCategory gc = unicode::general_category(code);
      uint8_t f = 0;
      switch (unicode::category_of(gc)) {
        case unicode::Category::Letter: f = kLetter; break;
        case unicode::Category::Number: f = kNumber; break;
        case unicode::Category::Punctuation: f = kPunctuation; break;
        default: break;
      }
      if (unicode::is_white_space(code)) f |= kSpace;
      cp.push_back(code);
      offset.push_back(static_cast<uint32_t>(pos));
      flags.push_back(f);
      categories.push_back(gc);
      pos += length;
    }
    offset.push_back(static_cast<uint32_t>(text.size()));
  }
  size_t size() const { return cp.size(); }
  bool letter(size_t i) const { return flags[i] & kLetter; }
  bool number(size_t i) const { return flags[i] & kNumber; }
  bool punctuation(size_t i) const { return flags[i] & kPunctuation; }
  bool space(size_t i) const { return flags[i] & kSpace; }
  // [^\s\p{L}\p{N}]
  bool other(size_t i) const { return !(flags[i] & (kLetter | kNumber | kSpace)); }
  bool newline(size_t i) const { return cp[i] == '\r' || cp[i] == '\n'; }
};

struct Range {
  size_t begin, end;  // code point indices
};

// Index just past the run of code points from `pos` that satisfy `pred`.
template <typename Pred>
size_t run_end(size_t pos, size_t end, Pred pred) {
  while (pos < end && pred(pos)) ++pos;
  return pos;
}

// A matcher returns how many code points its regex matches at `pos` (0: no match); `end` is the end
// of the piece, which is the end of the string as far as the regex knows.
using Matcher = size_t (*)(const CodePoints& t, size_t pos, size_t end);

// HF Split with behavior "Isolated": every leftmost-first match becomes a piece, and so does each gap.
template <Matcher match>
void split_isolated(const CodePoints& t, Range piece, std::vector<Range>& out) {
  size_t gap = piece.begin;
  for (size_t pos = piece.begin; pos < piece.end;) {
    const size_t n = match(t, pos, piece.end);
    if (n == 0) {
      ++pos;
      continue;
    }
    if (gap < pos) out.push_back({gap, pos});
    out.push_back({pos, pos + n});
    pos += n;
    gap = pos;
  }
  if (gap < piece.end) out.push_back({gap, piece.end});
}

// \s+$ : the leftmost match is the whole trailing run of white space (split directly to stay linear).
void split_trailing_space(const CodePoints& t, Range piece, std::vector<Range>& out) {
  size_t start = piece.end;
  while (start > piece.begin && t.space(start - 1)) --start;
  if (start > piece.begin) out.push_back({piece.begin, start});
  if (start < piece.end) out.push_back({start, piece.end});
}

// 's 't 're 've 'm 'll 'd; `ignore_case` follows (?i:...), whose Unicode case folding also maps ſ to s.
size_t match_contraction(const CodePoints& t, size_t pos, size_t end, bool ignore_case) {
  if (t.cp[pos] != '\'' || pos + 1 >= end) return 0;
  const auto fold = [&](size_t i) -> uint32_t {
    const uint32_t c = t.cp[i];
    if (!ignore_case) return c;
    if (c >= 'A' && c <= 'Z') return c + ('a' - 'A');
    return c == 0x17F ? 's' : c;
  };
  const uint32_t c1 = fold(pos + 1);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (pos + 2 >= end) return 0;
  const uint32_t c2 = fold(pos + 2);
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  return 0;
}

// \s+(?!\S)|\s+ : a run of white space, less its last character when a word follows (that one then
// prefixes the word), unless the run is that single character.
size_t match_space_run(const CodePoints& t, size_t pos, size_t end) {
  if (!t.space(pos)) return 0;
  const size_t q = run_end(pos, end, [&](size_t i) { return t.space(i); });
  if (q == end || q - pos == 1) return q - pos;
  return q - pos - 1;
}

// ` ?X+` where X excludes the space: the optional space only counts when X follows it.
template <typename Pred>
size_t match_space_then_run(const CodePoints& t, size_t pos, size_t end, Pred in_class) {
  size_t start = pos;
  if (t.cp[pos] == ' ' && pos + 1 < end && in_class(pos + 1)) start = pos + 1;
  if (!in_class(start)) return 0;
  return run_end(start, end, in_class) - pos;
}

// `\s?X+` : like above with any white space as the optional prefix (X may itself contain white space).
template <typename Pred>
size_t match_optional_space_then_run(const CodePoints& t, size_t pos, size_t end, Pred in_class) {
  size_t start = pos;
  if (t.space(pos) && pos + 1 < end && in_class(pos + 1)) start = pos + 1;
  else if (!in_class(pos)) return 0;
  return run_end(start, end, in_class) - pos;
}

size_t match_gpt2(const CodePoints& t, size_t pos, size_t end) {
  if (size_t n = match_contraction(t, pos, end, false)) return n;
  // ' ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+': the three classes are disjoint, so the first code point
  // after the optional space picks the alternative.
  if (size_t n = match_space_then_run(t, pos, end, [&](size_t i) { return t.letter(i); })) return n;
  if (size_t n = match_space_then_run(t, pos, end, [&](size_t i) { return t.number(i); })) return n;
  if (size_t n = match_space_then_run(t, pos, end, [&](size_t i) { return t.other(i); })) return n;
  return match_space_run(t, pos, end);
}

template <size_t kMaxDigits>
size_t match_llama3_family(const CodePoints& t, size_t pos, size_t end) {
  if (size_t n = match_contraction(t, pos, end, true)) return n;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  const auto letter = [&](size_t i) { return t.letter(i); };
  if (t.letter(pos)) return run_end(pos, end, letter) - pos;
  if (!t.newline(pos) && !t.number(pos) && pos + 1 < end && t.letter(pos + 1)) return run_end(pos + 1, end, letter) - pos;
  // \p{N}{1,kMaxDigits}
  if (t.number(pos)) {
    size_t q = pos;
    while (q < end && q - pos < kMaxDigits && t.number(q)) ++q;
    return q - pos;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  if (size_t n = match_space_then_run(t, pos, end, [&](size_t i) { return t.other(i); })) {
    return run_end(pos + n, end, [&](size_t i) { return t.newline(i); }) - pos;
  }
  if (!t.space(pos)) return 0;
  // \s*[\r\n]+ : backtracking leaves \s* just before the last line break of the white-space run.
  const size_t q = run_end(pos, end, [&](size_t i) { return t.space(i); });
  for (size_t i = q; i > pos; --i) {
    if (t.newline(i - 1)) return i - pos;
  }
  return match_space_run(t, pos, end);
}

size_t match_single_number(const CodePoints& t, size_t pos, size_t) { return t.number(pos) ? 1 : 0; }

size_t match_numbers(const CodePoints& t, size_t pos, size_t end) {
  return run_end(pos, end, [&](size_t i) { return t.number(i); }) - pos;
}

size_t match_newline(const CodePoints& t, size_t pos, size_t) { return t.newline(pos) ? 1 : 0; }

struct CpRange {
  uint32_t first, last;  // inclusive
};

template <size_t N>
bool in_ranges(uint32_t cp, const CpRange (&ranges)[N]) {
  const CpRange* it = std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                                       [](uint32_t c, const CpRange& r) { return c < r.first; });
  return it != std::begin(ranges) && cp <= (it - 1)->last;
}

// DeepSeek LLM's letter class, as its tokenizer.json spells it: the cased letters (Lu, Ll, Lt).
constexpr CpRange kDeepseekLetters[] = {
    {0x0041, 0x005A}, {0x0061, 0x007A}, {0x00B5, 0x00B5}, {0x00C0, 0x00D6}, {0x00D8, 0x00F6}, {0x00F8, 0x01BA},
    {0x01BC, 0x01BF}, {0x01C4, 0x0293}, {0x0295, 0x02AF}, {0x0370, 0x0373}, {0x0376, 0x0377}, {0x037B, 0x037D},
    {0x037F, 0x037F}, {0x0386, 0x0386}, {0x0388, 0x038A}, {0x038C, 0x038C}, {0x038E, 0x03A1}, {0x03A3, 0x03F5},
    {0x03F7, 0x0481}, {0x048A, 0x052F}, {0x0531, 0x0556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4},
    {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC},
    {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124},
    {0x2126, 0x2126}, {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F},
    {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E},
    {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F},
    {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF},
    {0x1E900, 0x1E943},
};

// [!-/:-~！-／：-～‘-‟　-。] : ASCII punctuation (and letters), fullwidth forms, quotes, CJK stops.
constexpr CpRange kDeepseekPunctuation[] = {
    {0x0021, 0x002F}, {0x003A, 0x007E}, {0x2018, 0x201F}, {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E},
};

// [一-龥ࠀ-一가-퟿] : U+4E00..U+9FA5, U+0800..U+4E00 and U+AC00..U+D7FF.
constexpr CpRange kDeepseekCjk[] = {{0x0800, 0x9FA5}, {0xAC00, 0xD7FF}};

size_t match_deepseek_llm_letters(const CodePoints& t, size_t pos, size_t end) {
  return match_optional_space_then_run(t, pos, end, [&](size_t i) { return in_ranges(t.cp[i], kDeepseekLetters); });
}

size_t match_deepseek_llm_punctuation(const CodePoints& t, size_t pos, size_t end) {
  return match_optional_space_then_run(t, pos, end,
                                       [&](size_t i) { return in_ranges(t.cp[i], kDeepseekPunctuation); });
}

size_t match_deepseek_cjk(const CodePoints& t, size_t pos, size_t end) {
  return run_end(pos, end, [&](size_t i) { return in_ranges(t.cp[i], kDeepseekCjk); }) - pos;
}

size_t match_deepseek_coder_letters(const CodePoints& t, size_t pos, size_t end) {
  return match_optional_space_then_run(t, pos, end, [&](size_t i) { return t.letter(i); });
}

size_t match_deepseek_coder_punctuation(const CodePoints& t, size_t pos, size_t end) {
  return match_optional_space_then_run(t, pos, end, [&](size_t i) { return t.punctuation(i); });
}

// A Split step with a compiled regex: each leftmost-first match is a piece, and so is each gap. An empty
// match (a bare lookahead) only marks a boundary.
void split_with_regex(const TokenizerRegex& regex, const CodePoints& t, Range piece, std::vector<Range>& out) {
  const CodePointText text{t.cp.data() + piece.begin, t.categories.data() + piece.begin, piece.end - piece.begin};
  size_t gap = 0;
  for (size_t pos = 0; pos < text.size;) {
    const std::optional<size_t> n = regex.match_at(text, pos);
    if (!n) {
      ++pos;
      continue;
    }
    if (gap < pos) out.push_back({piece.begin + gap, piece.begin + pos});
    if (*n > 0) out.push_back({piece.begin + pos, piece.begin + pos + *n});
    gap = pos + *n;
    pos += std::max<size_t>(*n, 1);
  }
  if (gap < text.size) out.push_back({piece.begin + gap, piece.end});
}

using Step = void (*)(const CodePoints& t, Range piece, std::vector<Range>& out);

// The hand-written Split steps of each kind, applied in order; each refines every piece of the previous one.
std::vector<Step> hand_written_steps(HandWrittenSplit kind) {
  using H = HandWrittenSplit;
  switch (kind) {
    case H::None: return {};
    case H::Gpt2: return {split_isolated<match_gpt2>};
    case H::Llama3: return {split_isolated<match_llama3_family<3>>};
    case H::Qwen2: return {split_isolated<match_llama3_family<1>>};
    case H::Starcoder: return {split_isolated<match_single_number>, split_isolated<match_gpt2>};
    case H::DeepseekLlm:
      return {split_isolated<match_newline>,          split_isolated<match_deepseek_llm_letters>,
              split_isolated<match_deepseek_llm_punctuation>, split_trailing_space,
              split_isolated<match_deepseek_cjk>,     split_isolated<match_numbers>};
    case H::DeepseekCoder:
      return {split_isolated<match_newline>, split_isolated<match_deepseek_coder_letters>,
              split_isolated<match_deepseek_coder_punctuation>, split_isolated<match_deepseek_cjk>,
              split_isolated<match_single_number>};
  }
  return {};
}

}  // namespace

PreTokenizer::PreTokenizer(std::string_view name, Engine engine) : spec_(find_pre_tokenizer(name)) {
  if (!spec_) {
    throw Error("unsupported BPE pre-tokenizer '" + std::string(name) + "' (tokenizer.ggml.pre); supported: " +
                supported_pre_tokenizer_names() + ", and their aliases");
  }
  hand_written_ = engine == Engine::Fastest ? spec_->hand_written : HandWrittenSplit::None;
  if (hand_written_ == HandWrittenSplit::None) {
    for (std::string_view regex : spec_->regexes) regexes_.emplace_back(regex);
  }
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& words) const {
  if (text.empty()) return;
  const CodePoints t(text);
  std::vector<Range> pieces{{0, t.size()}}, next;
  const auto refine = [&](const auto& step) {
    next.clear();
    for (const Range& piece : pieces) step(piece);
    pieces.swap(next);
  };
  if (hand_written_ != HandWrittenSplit::None) {
    for (Step step : hand_written_steps(hand_written_)) refine([&](Range piece) { step(t, piece, next); });
  } else {
    for (const TokenizerRegex& regex : regexes_) refine([&](Range piece) { split_with_regex(regex, t, piece, next); });
  }
  for (const Range& r : pieces) {
    words.push_back(text.substr(t.offset[r.begin], t.offset[r.end] - t.offset[r.begin]));
  }
}

}  // namespace tabllm
