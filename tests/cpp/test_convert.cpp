#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/error.h"
#include "convert/llama2c_convert.h"
#include "gguf/gguf.h"
#include "quant/quantize.h"
#include "test_paths.h"
#include "tokenizer/vocab.h"

namespace tabllm {
namespace {

namespace fs = std::filesystem;

// stories260K: dim 64, hidden 172, 5 layers, 8/4 heads, vocab 512, seq_len 512, shared classifier.
constexpr uint64_t kDim = 64, kHidden = 172, kLayers = 5, kKvDim = 32, kVocab = 512, kSeqLen = 512, kHeadSize = 8;

std::string checkpoint_path() { return test::shared_dir() + "/models/stories260K/stories260K.bin"; }
std::string tokenizer_path() { return test::shared_dir() + "/models/stories260K/tok512.bin"; }

fs::path scratch_dir() {
  const fs::path dir = fs::path(test::build_dir()) / "test-scratch" / "convert";
  fs::create_directories(dir);
  return dir;
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

fs::path convert(const fs::path& checkpoint, const std::string& out_name, TensorType type = TensorType::F32) {
  const fs::path out = scratch_dir() / out_name;
  tools::convert_llama2c(checkpoint.string(), tokenizer_path(), out.string(), type, 2);
  return out;
}

// The legacy file's weights, located independently of the converter: {first byte, float count} per
// group in file order.
struct Span {
  uint64_t offset, floats;
};
struct LegacyLayout {
  Span embedding, attn_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3, final_norm;
};
LegacyLayout legacy_layout() {
  LegacyLayout l;
  uint64_t offset = 7 * 4;
  const auto next = [&](uint64_t floats) {
    const Span s{offset, floats};
    offset += floats * 4;
    return s;
  };
  l.embedding = next(kVocab * kDim);
  l.attn_norm = next(kLayers * kDim);
  l.wq = next(kLayers * kDim * kDim);
  l.wk = next(kLayers * kKvDim * kDim);
  l.wv = next(kLayers * kKvDim * kDim);
  l.wo = next(kLayers * kDim * kDim);
  l.ffn_norm = next(kLayers * kDim);
  l.w1 = next(kLayers * kHidden * kDim);
  l.w2 = next(kLayers * kDim * kHidden);
  l.w3 = next(kLayers * kHidden * kDim);
  l.final_norm = next(kDim);
  return l;
}

std::vector<uint8_t> slice(const std::vector<uint8_t>& bytes, Span s) {
  return {bytes.begin() + static_cast<ptrdiff_t>(s.offset), bytes.begin() + static_cast<ptrdiff_t>(s.offset + s.floats * 4)};
}

std::vector<uint8_t> tensor_bytes(const gguf::File& f, const std::string& name) {
  const gguf::TensorInfo* t = f.header().find_tensor(name);
  if (!t) return {};
  const uint8_t* p = f.tensor_data(*t);
  return {p, p + t->n_bytes()};
}

// A version-1 file holding the legacy file's weights, optionally with a separate classifier.
std::vector<uint8_t> version1_from_legacy(const std::vector<uint8_t>& legacy, const std::vector<uint8_t>* classifier) {
  std::vector<uint8_t> out(256, 0);
  const int32_t header[] = {0x616b3432, 1, static_cast<int32_t>(kDim), static_cast<int32_t>(kHidden),
                            static_cast<int32_t>(kLayers), 8, 4, static_cast<int32_t>(kVocab), static_cast<int32_t>(kSeqLen)};
  std::memcpy(out.data(), header, sizeof header);
  out[sizeof header] = classifier ? 0 : 1;
  const LegacyLayout l = legacy_layout();
  for (Span s : {l.attn_norm, l.ffn_norm, l.final_norm, l.embedding, l.wq, l.wk, l.wv, l.wo, l.w1, l.w2, l.w3}) {
    const auto part = slice(legacy, s);
    out.insert(out.end(), part.begin(), part.end());
  }
  if (classifier) out.insert(out.end(), classifier->begin(), classifier->end());
  return out;
}

std::string error_of(const fs::path& checkpoint, const std::string& tokenizer = tokenizer_path()) {
  try {
    tools::convert_llama2c(checkpoint.string(), tokenizer, (scratch_dir() / "error.gguf").string(), TensorType::F32, 1);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Convert, Stories260KMetadataAndShapes) {
  const auto file = gguf::File::open(convert(checkpoint_path(), "stories260K-f32.gguf").string());
  const gguf::Header& h = file->header();
  EXPECT_EQ(h.get_string("general.architecture"), "llama");
  EXPECT_EQ(h.get_string("general.name"), "stories260K");
  EXPECT_EQ(h.get_int("general.file_type"), 0);
  EXPECT_EQ(h.get_int("llama.embedding_length"), 64);
  EXPECT_EQ(h.get_int("llama.block_count"), 5);
  EXPECT_EQ(h.get_int("llama.feed_forward_length"), 172);
  EXPECT_EQ(h.get_int("llama.attention.head_count"), 8);
  EXPECT_EQ(h.get_int("llama.attention.head_count_kv"), 4);
  EXPECT_EQ(h.get_int("llama.context_length"), 512);
  EXPECT_EQ(h.get_int("llama.vocab_size"), 512);
  EXPECT_EQ(h.get_int("llama.rope.dimension_count"), 8);
  EXPECT_FLOAT_EQ(static_cast<float>(*h.get_float_opt("llama.rope.freq_base")), 10000.0f);
  EXPECT_FLOAT_EQ(static_cast<float>(*h.get_float_opt("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_FALSE(h.find("llama.attention.key_length"));

  // token_embd and output_norm (no output.weight: the classifier is shared) + 9 per layer.
  EXPECT_EQ(h.tensors.size(), 2 + 9 * kLayers);
  EXPECT_FALSE(h.find_tensor("output.weight"));
  const auto dims = [&](const std::string& name) {
    const gguf::TensorInfo* t = h.find_tensor(name);
    return t ? t->dims : std::vector<uint64_t>{};
  };
  EXPECT_EQ(dims("token_embd.weight"), (std::vector<uint64_t>{kDim, kVocab}));
  EXPECT_EQ(dims("output_norm.weight"), (std::vector<uint64_t>{kDim}));
  EXPECT_EQ(dims("blk.4.attn_norm.weight"), (std::vector<uint64_t>{kDim}));
  EXPECT_EQ(dims("blk.4.attn_q.weight"), (std::vector<uint64_t>{kDim, kDim}));
  EXPECT_EQ(dims("blk.4.attn_k.weight"), (std::vector<uint64_t>{kDim, kKvDim}));
  EXPECT_EQ(dims("blk.4.attn_v.weight"), (std::vector<uint64_t>{kDim, kKvDim}));
  EXPECT_EQ(dims("blk.4.attn_output.weight"), (std::vector<uint64_t>{kDim, kDim}));
  EXPECT_EQ(dims("blk.4.ffn_gate.weight"), (std::vector<uint64_t>{kDim, kHidden}));
  EXPECT_EQ(dims("blk.4.ffn_down.weight"), (std::vector<uint64_t>{kHidden, kDim}));
  EXPECT_EQ(dims("blk.4.ffn_up.weight"), (std::vector<uint64_t>{kDim, kHidden}));
  for (const auto& t : h.tensors) EXPECT_EQ(t.type, TensorType::F32) << t.name;
}

TEST(Convert, Float32TensorsAreTheCheckpointBytes) {
  const auto file = gguf::File::open(convert(checkpoint_path(), "stories260K-bytes.gguf").string());
  const std::vector<uint8_t> legacy = read_bytes(checkpoint_path());
  const LegacyLayout l = legacy_layout();
  const auto layer = [](Span s, uint64_t i) { return Span{s.offset + i * s.floats / kLayers * 4, s.floats / kLayers}; };
  EXPECT_EQ(tensor_bytes(*file, "token_embd.weight"), slice(legacy, l.embedding));
  EXPECT_EQ(tensor_bytes(*file, "output_norm.weight"), slice(legacy, l.final_norm));
  EXPECT_EQ(tensor_bytes(*file, "blk.0.attn_q.weight"), slice(legacy, layer(l.wq, 0)));  // unpermuted
  EXPECT_EQ(tensor_bytes(*file, "blk.2.attn_k.weight"), slice(legacy, layer(l.wk, 2)));
  EXPECT_EQ(tensor_bytes(*file, "blk.3.ffn_norm.weight"), slice(legacy, layer(l.ffn_norm, 3)));
  EXPECT_EQ(tensor_bytes(*file, "blk.4.ffn_down.weight"), slice(legacy, layer(l.w2, 4)));
  EXPECT_EQ(tensor_bytes(*file, "blk.4.ffn_up.weight"), slice(legacy, layer(l.w3, 4)));
}

TEST(Convert, TokenizerBecomesSentencePieceVocab) {
  const auto file = gguf::File::open(convert(checkpoint_path(), "stories260K-vocab.gguf").string());
  const Vocab v = Vocab::from_gguf(file->header());
  ASSERT_EQ(v.size(), kVocab);
  EXPECT_EQ(v.model, Vocab::Model::SentencePiece);
  EXPECT_EQ(v.tokens[0], "<unk>");
  EXPECT_EQ(v.tokens[1], "<s>");
  EXPECT_EQ(v.tokens[2], "</s>");
  EXPECT_EQ(v.types[0], TokenType::Unknown);
  EXPECT_EQ(v.types[1], TokenType::Control);
  EXPECT_EQ(v.types[2], TokenType::Control);
  EXPECT_EQ(v.tokens[3], "<0x00>");
  EXPECT_EQ(v.types[3], TokenType::Byte);
  EXPECT_EQ(v.types[403], TokenType::Normal);
  EXPECT_EQ(v.bos, 1);
  EXPECT_EQ(v.eos, 2);
  EXPECT_EQ(v.unk, 0);
  EXPECT_TRUE(v.add_bos);
  EXPECT_TRUE(v.add_space_prefix);
  EXPECT_FLOAT_EQ(v.scores[261], -2.0f);
  // The prompt ids of greedy_reference.jsonl for "Once upon a time".
  std::string text;
  for (int id : {403, 407, 261, 378}) text += v.tokens[id];
  EXPECT_EQ(text, "\xE2\x96\x81Once\xE2\x96\x81upon\xE2\x96\x81" "a\xE2\x96\x81time");
}

TEST(Convert, Version1GivesIdenticalTensors) {
  const std::vector<uint8_t> legacy = read_bytes(checkpoint_path());
  const fs::path v1_dir = scratch_dir() / "v1";
  fs::create_directories(v1_dir);
  write_bytes(v1_dir / "stories260K.bin", version1_from_legacy(legacy, nullptr));
  const auto a = gguf::File::open(convert(checkpoint_path(), "legacy.gguf").string());
  const auto b = gguf::File::open(convert(v1_dir / "stories260K.bin", "v1.gguf").string());
  ASSERT_EQ(a->header().tensors.size(), b->header().tensors.size());
  for (const auto& t : a->header().tensors) EXPECT_EQ(tensor_bytes(*a, t.name), tensor_bytes(*b, t.name)) << t.name;
}

TEST(Convert, SeparateClassifierInBothFormats) {
  std::vector<uint8_t> legacy = read_bytes(checkpoint_path());
  // A classifier unlike the embedding: the embedding's bytes reversed.
  std::vector<uint8_t> classifier = slice(legacy, legacy_layout().embedding);
  std::reverse(classifier.begin(), classifier.end());

  std::vector<uint8_t> unshared = legacy;
  const int32_t negative_vocab = -static_cast<int32_t>(kVocab);
  std::memcpy(unshared.data() + 20, &negative_vocab, 4);
  unshared.insert(unshared.end(), classifier.begin(), classifier.end());  // after the RoPE tables
  write_bytes(scratch_dir() / "unshared-legacy.bin", unshared);
  write_bytes(scratch_dir() / "unshared-v1.bin", version1_from_legacy(legacy, &classifier));

  for (const char* name : {"unshared-legacy", "unshared-v1"}) {
    const auto file = gguf::File::open(convert(scratch_dir() / (std::string(name) + ".bin"), std::string(name) + ".gguf").string());
    const gguf::TensorInfo* output = file->header().find_tensor("output.weight");
    ASSERT_TRUE(output) << name;
    EXPECT_EQ(output->dims, (std::vector<uint64_t>{kDim, kVocab}));
    EXPECT_EQ(tensor_bytes(*file, "output.weight"), classifier) << name;
    EXPECT_EQ(tensor_bytes(*file, "token_embd.weight"), slice(legacy, legacy_layout().embedding)) << name;
  }
}

TEST(Convert, QuantizedTypesWithFallbackForOddRows) {
  const auto f32 = gguf::File::open(convert(checkpoint_path(), "stories260K-f32-ref.gguf").string());
  for (TensorType type : {TensorType::F16, TensorType::Q8_0, TensorType::Q4_0}) {
    const std::string name = std::string("stories260K-") + type_traits(type).name + ".gguf";
    const auto file = gguf::File::open(convert(checkpoint_path(), name, type).string());
    const gguf::Header& h = file->header();
    EXPECT_EQ(h.find_tensor("token_embd.weight")->type, type);
    EXPECT_EQ(h.find_tensor("blk.0.attn_q.weight")->type, type);
    EXPECT_EQ(h.find_tensor("blk.0.ffn_gate.weight")->type, type);
    // Rows of 172 fit no 32-element block: stored as f16.
    EXPECT_EQ(h.find_tensor("blk.0.ffn_down.weight")->type, TensorType::F16);
    EXPECT_EQ(h.find_tensor("blk.0.attn_norm.weight")->type, TensorType::F32);

    // Decoded weights stay close to the originals.
    const gguf::TensorInfo& q = *h.find_tensor("blk.1.attn_q.weight");
    const gguf::TensorInfo& ref = *f32->header().find_tensor("blk.1.attn_q.weight");
    std::vector<float> decoded(q.n_elements()), original(ref.n_elements());
    dequantize_row(q.type, file->tensor_data(q), decoded.data(), static_cast<int64_t>(decoded.size()));
    std::memcpy(original.data(), f32->tensor_data(ref), original.size() * 4);
    double err = 0, norm = 0;
    for (size_t i = 0; i < original.size(); ++i) {
      err += (decoded[i] - original[i]) * (decoded[i] - original[i]);
      norm += original[i] * original[i];
    }
    EXPECT_LT(std::sqrt(err / norm), type == TensorType::Q4_0 ? 0.2 : 0.01) << type_traits(type).name;
  }
}

TEST(Convert, RejectsTruncatedAndWrongSizeCheckpoints) {
  std::vector<uint8_t> bytes = read_bytes(checkpoint_path());
  std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(bytes.size() / 2));
  write_bytes(scratch_dir() / "truncated.bin", truncated);
  EXPECT_NE(error_of(scratch_dir() / "truncated.bin").find("truncated"), std::string::npos)
      << error_of(scratch_dir() / "truncated.bin");

  std::vector<uint8_t> extra = bytes;
  extra.resize(extra.size() + 100, 0);
  write_bytes(scratch_dir() / "extra.bin", extra);
  EXPECT_NE(error_of(scratch_dir() / "extra.bin").find("extra bytes"), std::string::npos);

  write_bytes(scratch_dir() / "tiny.bin", {1, 2, 3});
  EXPECT_NE(error_of(scratch_dir() / "tiny.bin").find("too small"), std::string::npos);

  std::vector<uint8_t> garbage(4096, 0xFF);
  write_bytes(scratch_dir() / "garbage.bin", garbage);
  EXPECT_NE(error_of(scratch_dir() / "garbage.bin").find("does not look like a llama2.c checkpoint"), std::string::npos);

  std::vector<uint8_t> version2 = version1_from_legacy(bytes, nullptr);
  version2[4] = 2;
  write_bytes(scratch_dir() / "version2.bin", version2);
  EXPECT_NE(error_of(scratch_dir() / "version2.bin").find("version 2"), std::string::npos);

  EXPECT_NE(error_of(scratch_dir() / "missing.bin").find("missing.bin"), std::string::npos);
}

TEST(Convert, RejectsMismatchedTokenizer) {
  std::vector<uint8_t> tok = read_bytes(tokenizer_path());
  tok.resize(tok.size() - 3);  // cuts the last token short
  write_bytes(scratch_dir() / "short-tok.bin", tok);
  EXPECT_NE(error_of(checkpoint_path(), (scratch_dir() / "short-tok.bin").string()).find("truncated"), std::string::npos);

  // A tokenizer with one token fewer than the checkpoint's vocabulary.
  std::vector<uint8_t> fewer = read_bytes(tokenizer_path());
  size_t pos = 4, last = 4;
  while (pos < fewer.size()) {
    int32_t length;
    std::memcpy(&length, fewer.data() + pos + 4, 4);
    last = pos;
    pos += 8 + static_cast<size_t>(length);
  }
  fewer.resize(last);
  write_bytes(scratch_dir() / "fewer-tok.bin", fewer);
  EXPECT_NE(error_of(checkpoint_path(), (scratch_dir() / "fewer-tok.bin").string()).find("511 tokens"), std::string::npos);
}

TEST(Convert, EverySupportedTypeWithLlamaCppFallbacks) {
  // stories260K's rows of 64 are no whole 256-blocks: each 256-block type falls back to its 32-block kin.
  const struct {
    TensorType requested, stored;
  } cases[] = {{TensorType::Q2_K, TensorType::Q4_0}, {TensorType::Q3_K, TensorType::Q4_0},
               {TensorType::Q4_K, TensorType::Q5_0}, {TensorType::Q5_K, TensorType::Q5_1},
               {TensorType::Q6_K, TensorType::Q8_0}, {TensorType::IQ4_XS, TensorType::IQ4_NL},
               {TensorType::IQ4_NL, TensorType::IQ4_NL}, {TensorType::Q4_1, TensorType::Q4_1},
               {TensorType::Q5_0, TensorType::Q5_0}, {TensorType::BF16, TensorType::BF16}};
  for (const auto& c : cases) {
    const std::string name = std::string("stories260K-") + type_traits(c.requested).name + ".gguf";
    const auto file = gguf::File::open(convert(checkpoint_path(), name, c.requested).string());
    const gguf::Header& h = file->header();
    EXPECT_EQ(h.find_tensor("blk.0.attn_q.weight")->type, c.stored) << name;
    EXPECT_EQ(h.find_tensor("token_embd.weight")->type, c.stored) << name;
    EXPECT_EQ(h.find_tensor("blk.0.ffn_down.weight")->type, c.requested == TensorType::BF16 ? TensorType::BF16 : TensorType::F16) << name;
    EXPECT_EQ(h.get_int("general.file_type"), tools::gguf_file_type(c.requested)) << name;
  }
  try {
    tools::convert_llama2c(checkpoint_path(), tokenizer_path(), (scratch_dir() / "iq2.gguf").string(), TensorType::IQ2_XXS, 1);
    ADD_FAILURE() << "iq2_xxs was written";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("iq2_xxs"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tabllm
