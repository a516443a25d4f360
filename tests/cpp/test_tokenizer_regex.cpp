// The pre-tokenizer regex engine and the pre-tokenizers built on it: expected matches and splits are
// derived by hand from the regex semantics (leftmost-first alternation, greedy backtracking), and the
// hand-written matchers must split exactly as their regexes do.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "test_paths.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace tabllm {
namespace {

using Words = std::vector<std::string>;

// The match at the start of `text` (in code points), or -1.
long match(std::string_view pattern, std::string_view text, size_t pos = 0) {
  std::vector<uint32_t> cps;
  std::vector<unicode::GeneralCategory> categories;
  for (size_t i = 0; i < text.size();) {
    const unicode::Utf8Char c = unicode::next_utf8(text, i);
    cps.push_back(c.cp);
    categories.push_back(unicode::general_category(c.cp));
    i += c.length;
  }
  const TokenizerRegex regex(pattern);
  const std::optional<size_t> n = regex.match_at({cps.data(), categories.data(), cps.size()}, pos);
  return n ? static_cast<long>(*n) : -1;
}

Words split(std::string_view name, std::string_view text, PreTokenizer::Engine engine = PreTokenizer::Engine::Fastest) {
  std::vector<std::string_view> words;
  PreTokenizer(name, engine).split(text, words);
  return Words(words.begin(), words.end());
}

TEST(TokenizerRegex, AlternationIsOrderedAndQuantifiersBacktrack) {
  EXPECT_EQ(match("a|ab", "ab"), 1);  // the first alternative that matches wins, not the longest
  EXPECT_EQ(match("ab|a", "ab"), 2);
  EXPECT_EQ(match("a+ab", "aaab"), 4);  // a+ gives one back
  EXPECT_EQ(match("a*+a", "aaa"), -1);  // possessive: never gives back
  EXPECT_EQ(match("a?+b", "ab"), 2);
  EXPECT_EQ(match("a{2,3}", "aaaa"), 3);
  EXPECT_EQ(match("a{2}", "a"), -1);
  EXPECT_EQ(match("(?:ab)+", "ababa"), 4);
  EXPECT_EQ(match("(a|b){1,4}Z", "abbaZ"), 5);
  EXPECT_EQ(match("x(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+", "xa b c!"), 6);
  EXPECT_EQ(match("b", "ab"), -1);  // anchored at the position
  EXPECT_EQ(match("b", "ab", 1), 1);
}

TEST(TokenizerRegex, LookaheadAnchorsAndWordBoundaries) {
  EXPECT_EQ(match("\\s+(?!\\S)", "   x"), 2);  // the last space is left to the word
  EXPECT_EQ(match("\\s+(?!\\S)", "   "), 3);
  EXPECT_EQ(match("(?=(\\d{3})+(?!\\d))", "123456"), 0);  // an empty match
  EXPECT_EQ(match("(?=(\\d{3})+(?!\\d))", "12345"), -1);
  EXPECT_EQ(match("\\s+$", "  "), 2);
  EXPECT_EQ(match("\\s+$", "  a"), -1);
  EXPECT_EQ(match("^a", "aa", 1), -1);
  EXPECT_EQ(match("\\d{1,3}(?=(?:\\d{3})*\\b)", "12345 "), 2);
  EXPECT_EQ(match("a\\B", "ab"), 1);
}

TEST(TokenizerRegex, ClassesAndCategories) {
  EXPECT_EQ(match("\\p{L}+", "héllo wörld"), 5);
  EXPECT_EQ(match("\\p{Lu}+", "ABc"), 2);
  EXPECT_EQ(match("[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+", "e\xCC\x81t\xE4\xB8\xAD" "A"), 4);  // e, U+0301, t, 中
  EXPECT_EQ(match("\\p{N}+", "12\xC2\xBD" "a"), 3);  // ½ is No
  EXPECT_EQ(match("[^\\s\\p{L}\\p{N}]+", "!?\xF0\x9F\xA6\x99 x"), 3);  // 🦙 is So
  EXPECT_EQ(match("\\P{L}", "a"), -1);
  EXPECT_EQ(match("[\\P{L}]", "1"), 1);
  EXPECT_EQ(match("[^(\\s|.,!?)]+", "ab|c."), 2);  // ( | ) are literal inside a class
  EXPECT_EQ(match("[!-/:-@\\[-`{-~]", "^"), 1);
  EXPECT_EQ(match("[\\p{L}&&[^\\p{Han}]]+", "ab\xE4\xB8\xAD"), 2);  // 中 is Han
  EXPECT_EQ(match("[\\p{Han}]+", "\xE4\xB8\xAD\xE6\x96\x87\xE3\x81\x82"), 2);  // 中文, not あ
  EXPECT_EQ(match("[\\p{L}&&[a-z]&&[^x]]+", "abxc"), 2);
  EXPECT_EQ(match("[\\r\\n]", "\n"), 1);
  EXPECT_EQ(match(".", "\n"), -1);
  EXPECT_EQ(match("\\x{4E2D}\\x41", "\xE4\xB8\xAD" "A"), 2);
}

TEST(TokenizerRegex, CaseInsensitiveGroup) {
  EXPECT_EQ(match("(?i:'s|'ll)", "'LL"), 3);
  EXPECT_EQ(match("(?i:'s)", "'\xC5\xBF"), 2);  // ſ folds to s
  EXPECT_EQ(match("'(?i:[sdmt]|ll)", "'D"), 2);
  EXPECT_EQ(match("(?i:'s)X", "'Sx"), -1);  // the flag ends with its group
}

TEST(TokenizerRegex, MalformedPatternsAreErrorsThatSayWhere) {
  for (const char* bad : {"(a", "a)", "[a", "a{3,1}", "*a", "(?<=a)b", "a*?", "\\p{Nope}", "\\q", "\\1"}) {
    try {
      TokenizerRegex regex(bad);
      ADD_FAILURE() << bad << " compiled";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("at byte"), std::string::npos) << e.what();
    }
  }
}

TEST(TokenizerPreTokenizers, TekkenSplitsCasedWordsDigitsAndSymbols) {
  EXPECT_EQ(split("tekken", "HelloWorld ABC HTTPServer"), (Words{"Hello", "World", " ABC", " HTTPServer"}));
  EXPECT_EQ(split("tekken", "2024 don't"), (Words{"2", "0", "2", "4", " don", "'t"}));
  EXPECT_EQ(split("tekken", "a/b\n\n  c"), (Words{"a", "/b", "\n\n", " ", " c"}));
  EXPECT_EQ(split("tekken", "\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\xA6\x99\xF0\x9F\xA6\x99!"),  // 你好 🦙🦙!
            (Words{"\xE4\xBD\xA0\xE5\xA5\xBD", " \xF0\x9F\xA6\x99\xF0\x9F\xA6\x99!"}));
}

TEST(TokenizerPreTokenizers, DeepseekV3SplitsDigitsCjkThenWords) {
  EXPECT_EQ(split("deepseek-v3", "Hello, world! 12345 \xE4\xBD\xA0\xE5\xA5\xBD"),
            (Words{"Hello", ",", " world", "!", " ", "123", "45", " ", "\xE4\xBD\xA0\xE5\xA5\xBD"}));
  EXPECT_EQ(split("deepseek-v3", "x.append(y)\n"), (Words{"x", ".append", "(y", ")\n"}));
  EXPECT_EQ(split("deepseek-v3", "I'm"), (Words{"I", "'m"}));
}

TEST(TokenizerPreTokenizers, Gpt4oKeepsContractionsWithTheWord) {
  EXPECT_EQ(split("gpt-4o", "I'M here 12345"), (Words{"I'M", " here", " ", "123", "45"}));
  EXPECT_EQ(split("llama4", "a\r\n  b"), (Words{"a", "\r\n", " ", " b"}));
}

TEST(TokenizerPreTokenizers, DigitGroupingPreTokenizers) {
  EXPECT_EQ(split("superbpe", "x 1234567"), (Words{"x ", "1", "234", "567"}));
  EXPECT_EQ(split("afmoe", "12345"), (Words{"12", "345"}));
  EXPECT_EQ(split("tiny_aya", "1234567"), (Words{"1", "234", "567"}));
  EXPECT_EQ(split("default", "a+b 1234"), (Words{"a", "+", "b", " ", "123", "4"}));
}

TEST(TokenizerPreTokenizers, BloomAndKimi) {
  EXPECT_EQ(split("bloom", "Hello, world."), (Words{"Hello", ",", " world", "."}));
  EXPECT_EQ(split("kimi-k2", "\xE4\xB8\xAD\xE6\x96\x87" "abc \xE3\x81\x82\xE3\x81\x84"),  // 中文abc あい
            (Words{"\xE4\xB8\xAD\xE6\x96\x87", "abc", " \xE3\x81\x82\xE3\x81\x84"}));
  EXPECT_EQ(split("chameleon", "IMGIMGABZ x"), (Words{"IMGIMGABZ", " x"}));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The hand-written matchers are a speed-up only: on the reference inputs and random text they cut exactly
// where their catalog regexes do.
TEST(TokenizerPreTokenizers, HandWrittenMatchersSplitAsTheirRegexes) {
  std::vector<std::string> texts;
  const std::string inp = read_file(test::shared_dir() + "/tokenizers/ggml-vocab-gpt-2.gguf.inp");
  ASSERT_FALSE(inp.empty());
  const std::string separator = "\n__ggml_vocab_test__\n";
  for (size_t start = 0, end; (end = inp.find(separator, start)) != std::string::npos; start = end + separator.size()) {
    texts.push_back(inp.substr(start, end - start));
  }
  std::mt19937 rng(3);
  const char* pieces[] = {"a", "Z", " ", "  ", "\n", "\r\n", "\t", "'s", "'LL", "1", "2345", ".", "!!", "(", "\xC3\xA9",
                          "\xE4\xB8\xAD", "\xEA\xB0\x80", "\xF0\x9F\xA6\x99", "\xC2\xA0", "\xCC\x81", "\xEF\xBC\x81"};
  for (int i = 0; i < 300; ++i) {
    std::string s;
    for (size_t n = 1 + rng() % 24; n > 0; --n) s += pieces[rng() % std::size(pieces)];
    texts.push_back(s);
  }
  int compared = 0;
  for (const PreTokenizerSpec& spec : pre_tokenizer_catalog()) {
    if (spec.hand_written == HandWrittenSplit::None) continue;
    for (const std::string& text : texts) {
      EXPECT_EQ(split(spec.names[0], text), split(spec.names[0], text, PreTokenizer::Engine::Regex))
          << spec.names[0] << ": " << text;
      ++compared;
    }
  }
  EXPECT_GE(compared, 6 * 300);
}

// Repetitions of groups run as loops where backtracking cannot change the result: a long input neither
// exhausts the stack (one recursion level per iteration took ~1 KB) nor changes the split.
TEST(TokenizerPreTokenizers, LongRepetitionsOfGroups) {
  std::string words;
  for (int i = 0; i < 50000; ++i) words += "ab ";
  EXPECT_EQ(split("exaone-moe", words), (Words{words.substr(0, words.size() - 1), " "}));  // words joined by single spaces
  EXPECT_EQ(split("exaone-moe", "Hello world, ok"), (Words{"Hello world", ",", " ok"}));
  const std::string digits(3000, '7');
  const Words groups = split("tiny_aya", digits);
  EXPECT_EQ(groups.size(), 1000u);
  EXPECT_EQ(groups.front(), "777");
  EXPECT_EQ(match("(?:ab)+c", "ababab"), -1);
  EXPECT_EQ(match("(?:a|ab)+c", "ababc"), 5);  // backtracks into an earlier iteration
  EXPECT_EQ(match("(?:a|ab)++c", "ababc"), -1);  // possessive: never does
}

TEST(TokenizerPreTokenizers, RegexEngineSpeed) {
  std::string text = read_file(test::shared_dir() + "/corpora/tinystories.txt");
  text.resize(std::min<size_t>(text.size(), 100 * 1024));
  for (const auto& [name, engine] : {std::pair{"llama-bpe", PreTokenizer::Engine::Fastest},
                                     std::pair{"llama-bpe", PreTokenizer::Engine::Regex},
                                     std::pair{"tekken", PreTokenizer::Engine::Regex},
                                     std::pair{"deepseek-v3", PreTokenizer::Engine::Regex}}) {
    const PreTokenizer pre(name, engine);
    std::vector<std::string_view> words;
    const auto t0 = std::chrono::steady_clock::now();
    pre.split(text, words);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ %s, %s ] 100 KB → %zu words in %.1f ms\n", name,
                engine == PreTokenizer::Engine::Regex ? "regex" : "hand-written", words.size(), ms);
    EXPECT_LT(ms, 2000.0) << name;
  }
}

}  // namespace
}  // namespace tabllm
