#include "tokenizer/wpm.h"

#include <algorithm>
#include <string>

#include "tokenizer/unicode.h"

namespace tabllm {
namespace {

constexpr std::string_view kWordStart = "\xE2\x96\x81";  // "▁"

// BERT's "Chinese character" blocks (CJK ideographs), which become one-character words.
bool is_cjk_ideograph(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace

WpmEncoder::WpmEncoder(const Vocab& vocab, const TokenIndex& index) : vocab_(vocab), index_(index) {
  for (const std::string& token : vocab.tokens) max_token_bytes_ = std::max(max_token_bytes_, token.size());
}

void WpmEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
  std::u32string cps;
  for (size_t pos = 0; pos < text.size();) {
    const unicode::Utf8Char c = unicode::next_utf8(text, pos);
    pos += c.status == unicode::Utf8Char::Status::Valid ? c.length : 1;
    if (vocab_.strip_accents) {
      unicode::append_decomposition(c.cp, cps);
    } else {
      cps += static_cast<char32_t>(c.cp);
    }
  }
  std::string word(kWordStart);
  const auto finish_word = [&] {
    if (word.size() > kWordStart.size()) encode_word(word, out);
    word.resize(kWordStart.size());
  };
  for (char32_t c : cps) {
    const uint32_t cp = static_cast<uint32_t>(c);
    if (unicode::is_white_space(cp)) {
      finish_word();
      continue;
    }
    const unicode::Category category = unicode::category(cp);
    if (cp == 0 || cp == unicode::kReplacementChar || category == unicode::Category::Other) continue;
    if (vocab_.strip_accents && category == unicode::Category::Mark) continue;
    const uint32_t normalized = vocab_.lowercase ? unicode::to_lower(cp) : cp;
    if (category == unicode::Category::Punctuation || (cp < 0x7F && category == unicode::Category::Symbol) ||
        is_cjk_ideograph(cp)) {
      finish_word();
      unicode::append_utf8(word, normalized);
      finish_word();
    } else {
      unicode::append_utf8(word, normalized);
    }
  }
  finish_word();
}

void WpmEncoder::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  const size_t start = out.size();
  for (size_t i = 0; i < word.size();) {
    bool matched = false;
    for (size_t j = std::min(word.size(), i + max_token_bytes_); j > i; --j) {
      const int32_t id = index_.find(word.substr(i, j - i));
      if (id >= 0) {
        out.push_back(id);
        i = j;
        matched = true;
        break;
      }
    }
    if (!matched) {  // one unknown piece makes the whole word unknown
      out.resize(start);
      break;
    }
  }
  if (out.size() == start && vocab_.unk >= 0) out.push_back(vocab_.unk);
}

}  // namespace tabllm
