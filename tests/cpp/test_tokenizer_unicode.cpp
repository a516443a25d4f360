// The tokenizer's Unicode layer: category table, UTF-8 decoding, the GPT-2 byte alphabet, and
// pre-tokenizers that must cover arbitrary (even invalid) input exactly.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "test_paths.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace tabllm {
namespace {

using unicode::Category;
using Status = unicode::Utf8Char::Status;

TEST(TokenizerUnicode, GeneralCategories) {
  EXPECT_EQ(unicode::category('a'), Category::Letter);
  EXPECT_EQ(unicode::category('7'), Category::Number);
  EXPECT_EQ(unicode::category('!'), Category::Punctuation);
  EXPECT_EQ(unicode::category('$'), Category::Symbol);
  EXPECT_EQ(unicode::category(' '), Category::Separator);
  EXPECT_EQ(unicode::category('\n'), Category::Other);
  EXPECT_EQ(unicode::category(0x00E9), Category::Letter);       // é
  EXPECT_EQ(unicode::category(0x0301), Category::Mark);         // combining acute
  EXPECT_EQ(unicode::category(0x00BD), Category::Number);       // ½
  EXPECT_EQ(unicode::category(0x4E2D), Category::Letter);       // 中, inside a First/Last range
  EXPECT_EQ(unicode::category(0xAC00), Category::Letter);       // 가
  EXPECT_EQ(unicode::category(0x3002), Category::Punctuation);  // 。
  EXPECT_EQ(unicode::category(0x1F999), Category::Symbol);      // 🦙
  EXPECT_EQ(unicode::category(0x0378), Category::Other);        // unassigned
  EXPECT_EQ(unicode::category(0x10FFFF), Category::Other);
  using G = unicode::GeneralCategory;
  EXPECT_EQ(unicode::general_category('a'), G::Ll);
  EXPECT_EQ(unicode::general_category('A'), G::Lu);
  EXPECT_EQ(unicode::general_category(0x01C5), G::Lt);  // ǅ
  EXPECT_EQ(unicode::general_category(0x02B0), G::Lm);  // ʰ
  EXPECT_EQ(unicode::general_category(0x4E2D), G::Lo);
  EXPECT_EQ(unicode::general_category(0x0301), G::Mn);
  EXPECT_EQ(unicode::general_category('_'), G::Pc);
  EXPECT_EQ(unicode::general_category('$'), G::Sc);
  EXPECT_EQ(unicode::general_category(0x0378), G::Cn);
  EXPECT_TRUE(unicode::is_han(0x4E2D));
  EXPECT_TRUE(unicode::is_han(0x20000));  // CJK Extension B
  EXPECT_FALSE(unicode::is_han(0x3042));  // あ is Hiragana
  EXPECT_FALSE(unicode::is_han('a'));
}

TEST(TokenizerUnicode, LowercaseAndDecomposition) {
  EXPECT_EQ(unicode::to_lower('Q'), uint32_t{'q'});
  EXPECT_EQ(unicode::to_lower(0x00C9), 0x00E9u);  // É → é
  EXPECT_EQ(unicode::to_lower(0x0416), 0x0436u);  // Ж → ж
  EXPECT_EQ(unicode::to_lower(0x4E2D), 0x4E2Du);
  const auto decompose = [](uint32_t cp) {
    std::u32string out;
    unicode::append_decomposition(cp, out);
    return out;
  };
  EXPECT_EQ(decompose(0x00E9), U"e\u0301");
  EXPECT_EQ(decompose(0x1E69), U"s\u0323\u0307");  // ṩ: recursive (ṣ + dot above)
  EXPECT_EQ(decompose(0xD55C), U"\u1112\u1161\u11AB");  // 한: Hangul jamo
  EXPECT_EQ(decompose(0xFB01), U"\uFB01");  // ﬁ: a compatibility decomposition only
  EXPECT_EQ(decompose('a'), U"a");
}

TEST(TokenizerUnicode, NormalizationFormC) {
  EXPECT_EQ(unicode::to_nfc("cafe\xCC\x81"), "caf\xC3\xA9");                      // e + ◌́ → é
  EXPECT_EQ(unicode::to_nfc("s\xCC\x87\xCC\xA3"), "\xE1\xB9\xA9");             // s + ◌̇ + ◌̣ → ṩ (marks reordered)
  EXPECT_EQ(unicode::to_nfc("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB"), "\xED\x95\x9C");  // jamo → 한
  EXPECT_EQ(unicode::to_nfc("A\xCC\x8A"), "\xC3\x85");                            // Å, not the Ångström sign
  EXPECT_EQ(unicode::to_nfc("\xE2\x84\xAB"), "\xC3\x85");                        // U+212B Å → U+00C5
  EXPECT_EQ(unicode::to_nfc("\xCD\x84"), "\xCC\x88\xCC\x81");                  // U+0344: excluded from composition
  EXPECT_EQ(unicode::to_nfc("\xEF\xAC\x81 plain"), "\xEF\xAC\x81 plain");        // ﬁ stays (compatibility only)
  EXPECT_EQ(unicode::to_nfc("\xCC\x81" "a"), "\xCC\x81" "a");                       // a leading mark stays
}

TEST(TokenizerUnicode, WhiteSpaceProperty) {
  for (uint32_t cp : {0x09u, 0x0Au, 0x0Du, 0x20u, 0x85u, 0xA0u, 0x2003u, 0x3000u}) EXPECT_TRUE(unicode::is_white_space(cp)) << cp;
  for (uint32_t cp : {0x00u, 0x41u, 0x200Bu, 0xFEFFu}) EXPECT_FALSE(unicode::is_white_space(cp)) << cp;
}

TEST(TokenizerUnicode, Utf8Decoding) {
  const auto at0 = [](std::string_view s) { return unicode::next_utf8(s, 0); };
  EXPECT_EQ(at0("\xC3\xA9").cp, 0xE9u);
  EXPECT_EQ(at0("\xF0\x9F\xA6\x99").cp, 0x1F999u);
  EXPECT_EQ(at0("\xF0\x9F\xA6\x99").length, 4);
  EXPECT_EQ(at0("\xC0\xAF").status, Status::Invalid);      // overlong
  EXPECT_EQ(at0("\xED\xA0\x80").status, Status::Invalid);  // surrogate
  EXPECT_EQ(at0("\xF4\x90\x80\x80").status, Status::Invalid);  // beyond U+10FFFF
  EXPECT_EQ(at0("\x80").status, Status::Invalid);          // stray continuation byte
  EXPECT_EQ(at0("\xE2\x82").status, Status::Truncated);
  EXPECT_EQ(at0("\xE2\x82").length, 2);
  EXPECT_EQ(at0("\xE2" "A").status, Status::Invalid);
  std::string out;
  for (uint32_t cp : {0x41u, 0xE9u, 0x20ACu, 0x1F999u}) unicode::append_utf8(out, cp);
  EXPECT_EQ(out, "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\xA6\x99");
}

TEST(TokenizerUnicode, ByteAlphabetRoundTrips) {
  EXPECT_EQ(byte_level::encode_byte(' '), "\xC4\xA0");  // Ġ
  EXPECT_EQ(byte_level::encode_byte('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(byte_level::encode_byte('A'), "A");
  std::string all, spelled, back;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  byte_level::encode(all, spelled);
  ASSERT_TRUE(byte_level::decode(spelled, back));
  EXPECT_EQ(back, all);
  EXPECT_FALSE(byte_level::decode("\xEF\xBD\x9C", back));  // ｜ stands for no byte
}

std::string random_text(std::mt19937& rng, size_t length) {
  // Mostly meaningful pieces, with some raw bytes that are often invalid UTF-8.
  static const std::vector<std::string> pieces = {
      "a", "Z", "é", "ß", "中", "가", "ក", "🦙", "3", "½", "٣", " ", "  ", "\t", "\n", "\r\n", "\u3000", "\u00A0",
      "'s", "'LL", "'", "!", "...", "(", "$", "—", "\xF0\x9F", "\x80", "\xFF", "\xC3",
  };
  std::string s;
  while (s.size() < length) s += pieces[rng() % pieces.size()];
  return s;
}

TEST(TokenizerUnicode, PreTokenizersCoverAnyInput) {
  std::mt19937 rng(42);
  for (const PreTokenizerSpec& spec : pre_tokenizer_catalog()) {
    for (PreTokenizer::Engine engine : {PreTokenizer::Engine::Fastest, PreTokenizer::Engine::Regex}) {
      if (engine == PreTokenizer::Engine::Fastest && spec.hand_written == HandWrittenSplit::None) continue;
      const PreTokenizer pre(spec.names[0], engine);
      for (int trial = 0; trial < 100; ++trial) {
        const std::string text = random_text(rng, 1 + rng() % 64);
        std::vector<std::string_view> words;
        pre.split(text, words);
        std::string joined;
        for (std::string_view w : words) {
          EXPECT_FALSE(w.empty());
          joined += w;
        }
        ASSERT_EQ(joined, text) << spec.names[0];
      }
    }
  }
}

TEST(TokenizerUnicode, PreTokenizerNames) {
  EXPECT_EQ(PreTokenizer("default").spec().regexes.size(), 4u);  // llama.cpp's fallback list
  EXPECT_EQ(PreTokenizer("llama3").spec().names[0], "llama-bpe");
  EXPECT_EQ(PreTokenizer("deepseek-r1-qwen").spec().hand_written, HandWrittenSplit::Qwen2);
  EXPECT_TRUE(PreTokenizer("tekken").spec().ignore_merges);
  EXPECT_FALSE(PreTokenizer("dbrx").spec().ignore_merges);
  EXPECT_THROW(PreTokenizer("nope"), Error);
  // Every catalog regex compiles, and no name is listed twice.
  std::set<std::string_view> names;
  for (const PreTokenizerSpec& spec : pre_tokenizer_catalog()) {
    for (std::string_view regex : spec.regexes) EXPECT_NO_THROW(TokenizerRegex{regex}) << regex;
    for (std::string_view name : spec.names) EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_GE(names.size(), 80u);
}

TEST(TokenizerUnicode, Llama3SplitsAsItsRegex) {
  const auto split = [](std::string_view text) {
    std::vector<std::string_view> words;
    PreTokenizer("llama-bpe").split(text, words);
    return std::vector<std::string>(words.begin(), words.end());
  };
  using W = std::vector<std::string>;
  EXPECT_EQ(split("Hello world"), (W{"Hello", " world"}));
  EXPECT_EQ(split("I'LL 12345"), (W{"I", "'LL", " ", "123", "45"}));
  EXPECT_EQ(split("a  \n\n  b"), (W{"a", "  \n\n", " ", " b"}));
  EXPECT_EQ(split("x   "), (W{"x", "   "}));
  EXPECT_EQ(split("(hi) ...\n"), (W{"(hi", ")", " ...\n"}));
}

// Byte-level BPE loses nothing, whatever the bytes.
TEST(TokenizerUnicode, ByteLevelBpeKeepsArbitraryBytes) {
  const Tokenizer tok(Vocab::load(test::shared_dir() + "/tokenizers/ggml-vocab-gpt-2.gguf"));
  std::mt19937 rng(7);
  for (int trial = 0; trial < 100; ++trial) {
    const std::string text = random_text(rng, 1 + rng() % 80);
    EXPECT_EQ(tok.decode(tok.encode(text, false, false)), text);
  }
}

}  // namespace
}  // namespace tabllm
