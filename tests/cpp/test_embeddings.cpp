// Embedding models on the CPU: the encoder architectures' traits, inputs batched together giving what
// each gives alone, Path::Scalar against Path::Simd, the special tokens around an input, and the errors.
// Agreement with llama.cpp's llama-embedding is checked outside CI (bench/embeddings/llama-compare.mjs).
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/forward.h"
#include "common/error.h"
#include "runtime/embedder.h"
#include "synth/wordpiece_vocab.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

const char* kShapes[] = {"tiny-bert", "tiny-nomic-bert", "tiny-qwen3-embedding"};

std::unique_ptr<Model> load(const std::string& shape, const std::string& type = "f32") {
  return Model::load(test::build_dir() + "/models/" + shape + "-" + type + ".gguf");
}

std::vector<std::vector<int32_t>> some_inputs(const Model& m) {
  const Tokenizer& t = m.tokenizer();
  return {t.encode_input("the quick brown fox jumps over the lazy dog"), t.encode_input("hello"),
          t.encode_input("a cat sat on the mat, and what a cat it was: 42 times!"), t.encode_input("search notes in the browser page")};
}

std::vector<float> embed(const Model& m, const std::vector<std::vector<int32_t>>& inputs, cpu::Path path, int threads = 2,
                         int64_t max_batch_tokens = 2048) {
  Embedder e(m, {threads, path, max_batch_tokens});
  std::vector<float> out(inputs.size() * static_cast<size_t>(e.dim()));
  e.embed(inputs, out.data());
  return out;
}

double cosine(const float* a, const float* b, int64_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; ++i) ab += static_cast<double>(a[i]) * b[i], aa += static_cast<double>(a[i]) * a[i], bb += static_cast<double>(b[i]) * b[i];
  return ab / std::sqrt(aa * bb);
}

}  // namespace

TEST(Embeddings, ArchitecturesReadTheirTraits) {
  const auto bert = load("tiny-bert");
  EXPECT_TRUE(bert->config().encoder);
  EXPECT_FALSE(bert->config().causal);
  EXPECT_TRUE(bert->config().position_embeddings);
  EXPECT_FALSE(bert->config().ffn_gated);
  EXPECT_EQ(bert->config().pooling, Pooling::Mean);
  EXPECT_FLOAT_EQ(bert->config().norm_eps, 1e-12f);
  const auto nomic = load("tiny-nomic-bert");
  EXPECT_TRUE(nomic->config().encoder);
  EXPECT_FALSE(nomic->config().position_embeddings);
  EXPECT_TRUE(nomic->config().ffn_gated);
  EXPECT_FLOAT_EQ(nomic->config().rope_base, 1000.0f);
  const auto qwen = load("tiny-qwen3-embedding");
  EXPECT_FALSE(qwen->config().encoder);
  EXPECT_TRUE(qwen->config().causal);
  EXPECT_TRUE(qwen->config().is_embedding());
  EXPECT_EQ(qwen->config().pooling, Pooling::Last);
  EXPECT_FALSE(load("tiny-qwen3")->config().is_embedding());
}

TEST(Embeddings, WordPieceInputsAreWrappedInClsAndSep) {
  const auto bert = load("tiny-bert");
  const Vocab& v = bert->tokenizer().vocab();
  const auto id = [&](const std::string& piece) {
    for (size_t i = 0; i < v.tokens.size(); ++i)
      if (v.tokens[i] == piece) return static_cast<int32_t>(i);
    return -1;
  };
  EXPECT_EQ(bert->tokenizer().encode_input("Hello, World"),
            (std::vector<int32_t>{101, id("\xE2\x96\x81hello"), id("\xE2\x96\x81,"), id("\xE2\x96\x81world"), 102}));
  EXPECT_EQ(bert->tokenizer().encode_input("walking"), (std::vector<int32_t>{101, id("\xE2\x96\x81w"), id("a"), id("l"), id("k"), id("ing"), 102}));
  EXPECT_EQ(bert->tokenizer().encode_input(""), (std::vector<int32_t>{101, 102}));
  // A SentencePiece vocabulary (no add_eos): BOS and the text.
  const auto qwen = load("tiny-qwen3-embedding");
  EXPECT_EQ(qwen->tokenizer().encode_input("Once"), qwen->tokenizer().encode("Once", true));
}

TEST(Embeddings, BatchedInputsEqualEachAloneAndHaveUnitLength) {
  for (const char* shape : kShapes) {
    SCOPED_TRACE(shape);
    const auto m = load(shape);
    const auto inputs = some_inputs(*m);
    const int64_t dim = m->config().dim;
    const auto together = embed(*m, inputs, cpu::Path::Scalar);
    // Groups of at most 20 tokens: the inputs split over several passes.
    const auto grouped = embed(*m, inputs, cpu::Path::Scalar, 1, 20);
    for (size_t i = 0; i < inputs.size(); ++i) {
      const auto alone = embed(*m, {inputs[i]}, cpu::Path::Scalar, 1);
      const float* t = &together[i * dim];
      double norm = 0;
      for (int64_t d = 0; d < dim; ++d) {
        EXPECT_NEAR(t[d], alone[static_cast<size_t>(d)], 1e-6) << "input " << i << " dim " << d;
        EXPECT_NEAR(t[d], grouped[i * dim + d], 1e-6) << "input " << i << " dim " << d;
        norm += static_cast<double>(t[d]) * t[d];
      }
      EXPECT_NEAR(norm, 1.0, 1e-5);
    }
    // Different inputs give different embeddings.
    EXPECT_LT(cosine(&together[0], &together[dim], dim), 0.999);
  }
}

TEST(Embeddings, SimdMatchesScalar) {
  for (const char* shape : kShapes) {
    for (const char* type : {"f32", "q8_0", "q4_k"}) {
      SCOPED_TRACE(std::string(shape) + " " + type);
      const auto m = load(shape, type);
      const auto inputs = some_inputs(*m);
      const int64_t dim = m->config().dim;
      const auto scalar = embed(*m, inputs, cpu::Path::Scalar);
      const auto simd = embed(*m, inputs, cpu::Path::Simd);
      // f32 weights stay in float on both paths; quantized ones see 8-bit activations on the SIMD path.
      const double want = std::string(type) == "f32" ? 0.999999 : 0.999;
      for (size_t i = 0; i < inputs.size(); ++i) EXPECT_GT(cosine(&scalar[i * dim], &simd[i * dim], dim), want) << "input " << i;
    }
  }
}

TEST(Embeddings, BidirectionalAttentionSeesLaterTokens) {
  // The first token's final state depends on what follows it in an encoder, not in a causal decoder:
  // CLS pooling over a bert reads token 0, which changes with the rest of the input.
  const auto bert = load("tiny-bert");
  const Tokenizer& t = bert->tokenizer();
  CpuEncoder encoder(*bert, 1, cpu::Path::Scalar);
  const auto a = t.encode_input("the cat"), b = t.encode_input("the dog");
  const int64_t dim = bert->config().dim;
  std::vector<float> ha(a.size() * dim), hb(b.size() * dim);
  encoder.hidden_states(std::vector<std::span<const int32_t>>{a}, ha.data());
  encoder.hidden_states(std::vector<std::span<const int32_t>>{b}, hb.data());
  EXPECT_LT(cosine(ha.data(), hb.data(), dim), 0.99999);
}

TEST(Embeddings, ErrorsSayWhatIsWrong) {
  const auto chat = load("tiny-qwen3");
  try {
    Embedder e(*chat, {});
    FAIL() << "a chat model made an embedder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("chat model"), std::string::npos) << e.what();
  }
  const auto bert = load("tiny-bert");
  try {
    CpuForward f(*bert, {});
    FAIL() << "an encoder made a text session";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("embedding model"), std::string::npos) << e.what();
  }
  Embedder e(*bert, {});
  std::vector<float> out(static_cast<size_t>(2 * e.dim()));
  const auto expect_error = [&](const std::vector<std::vector<int32_t>>& inputs, const std::string& says) {
    try {
      e.embed(inputs, out.data());
      FAIL() << "accepted inputs that should fail with: " << says;
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find(says), std::string::npos) << err.what();
    }
  };
  expect_error({{101, 102}, {}}, "input 1 is empty");
  expect_error({{101, 102}, std::vector<int32_t>(513, 5)}, "input 1 has 513 tokens, more than the model's context of 512");
  expect_error({{101, 99999}}, "input 0 holds token id 99999");
}
