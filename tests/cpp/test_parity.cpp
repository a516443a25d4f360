// The SIMD path agrees with the scalar reference on whole-model logits: the default model (F32) and a
// synthetic model of each architecture.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "backend/cpu/forward.h"
#include "runtime/session.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

std::vector<float> logits(const Model& model, cpu::Path path, int threads, const std::vector<int32_t>& tokens) {
  CpuOptions o;
  o.path = path;
  o.n_threads = threads;
  o.max_batch = 16;  // several prefill chunks, to cover KV reuse across batches
  o.kv_type = TensorType::F32;  // the paths' own parity; the KV types have tests of their own (test_kv_cache)
  Session s(model, std::make_unique<CpuForward>(model, o));
  return s.logits_all(tokens);
}

std::vector<int32_t> tokens_for(const Model& model, int n) {
  std::vector<int32_t> t = model.tokenizer().encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends every day", true);
  uint64_t s = 7;
  while (static_cast<int>(t.size()) < n) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    t.push_back(static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(model.config().n_vocab)));
  }
  t.resize(static_cast<size_t>(n));
  return t;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// Tolerance is relative to the largest reference logit.
void expect_parity(const std::string& path, float tolerance) {
  const auto model = Model::load(path);
  const auto tokens = tokens_for(*model, 64);
  const auto ref = logits(*model, cpu::Path::Scalar, 1, tokens);
  const auto simd1 = logits(*model, cpu::Path::Simd, 1, tokens);
  const auto simd2 = logits(*model, cpu::Path::Simd, 2, tokens);
  float scale = 0;
  for (float v : ref) scale = std::max(scale, std::fabs(v));
  const float d1 = max_abs_diff(ref, simd1) / scale, d2 = max_abs_diff(ref, simd2) / scale;
  std::printf("[parity] %s (%s): max |simd - scalar| / max |scalar| = %.3g (1 thread), %.3g (2 threads) over 64 positions\n",
              path.c_str(), cpu::simd_level().c_str(), d1, d2);
  EXPECT_LT(d1, tolerance);
  EXPECT_LT(d2, tolerance);
  for (float v : ref) ASSERT_TRUE(std::isfinite(v));
}

}  // namespace

TEST(Parity, Stories260KF32Absolute) {
  // The acceptance bar in absolute terms: max |simd - scalar| < 1e-4 over 64 positions.
  const auto model = Model::load(test::build_dir() + "/models/stories260K-f32.gguf");
  const auto tokens = tokens_for(*model, 64);
  EXPECT_LT(max_abs_diff(logits(*model, cpu::Path::Scalar, 1, tokens), logits(*model, cpu::Path::Simd, 2, tokens)), 1e-4f);
}

TEST(Parity, Stories260KF32) { expect_parity(test::build_dir() + "/models/stories260K-f32.gguf", 1e-5f); }

// A model whose tensor data sits in pieces (one tensor each here), filled as a host streams the file,
// computes the same logits as the memory-mapped file.
TEST(Parity, ModelInPiecesMatchesMappedFile) {
  for (const std::string name : {"stories260K-f32", "tiny-llama-q4_k_m"}) {
    const std::string path = test::build_dir() + "/models/" + name + ".gguf";
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto file = gguf::File::with_pieces(gguf::parse_header(bytes.data(), bytes.size(), bytes.size()), bytes.size(), 0);
    ASSERT_EQ(file->pieces().size(), file->header().tensors.size());
    for (const gguf::File::Piece& p : file->pieces()) std::memcpy(p.data, bytes.data() + p.file_offset, p.size);
    const auto pieces = Model::from_file(std::move(file));
    const auto mapped = Model::load(path);
    const auto tokens = tokens_for(*mapped, 16);
    EXPECT_EQ(logits(*pieces, cpu::Path::Simd, 2, tokens), logits(*mapped, cpu::Path::Simd, 2, tokens)) << name;
  }
}

// F32 weights stay in float on every path; quantized weights meet 8-bit activations on the SIMD path.
class SyntheticParity : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(SyntheticParity, SimdMatchesScalar) {
  const auto& [shape, type] = GetParam();
  const bool float_weights = type == "f32" || type == "f16" || type == "bf16";
  expect_parity(test::build_dir() + "/models/" + shape + "-" + type + ".gguf", float_weights ? 1e-5f : 4e-2f);
}

INSTANTIATE_TEST_SUITE_P(Architectures, SyntheticParity,
                         ::testing::Combine(::testing::Values("tiny-llama", "tiny-qwen2", "tiny-qwen3", "tiny-phi3", "tiny-gemma",
                                                              "tiny-gemma2", "tiny-gemma3"),
                                            ::testing::Values("f32", "q8_0", "q4_0", "q4_k", "q6_k")),
                         [](const auto& info) {
                           std::string name = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           for (char& c : name) if (c == '-') c = '_';
                           return name;
                         });

// Every tensor type (and the q4_k_m mix) on one architecture.
INSTANTIATE_TEST_SUITE_P(TensorTypes, SyntheticParity,
                         ::testing::Combine(::testing::Values("tiny-llama"),
                                            ::testing::Values("f16", "bf16", "q4_1", "q5_0", "q5_1", "iq4_nl", "q2_k",
                                                              "q3_k", "q5_k", "iq4_xs", "q4_k_m")),
                         [](const auto& info) { return std::get<1>(info.param); });
