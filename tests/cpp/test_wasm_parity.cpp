// Native scalar logits of the default model and of tiny-llama in every tensor type, written for the Node
// test (tests/js/wasm_parity.test.mjs), which checks the WebAssembly SIMD and scalar paths against them.
// Native SIMD against native scalar is checked in test_parity.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "backend/cpu/forward.h"
#include "runtime/session.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

constexpr size_t kPositions = 64;

// The first greedy reference: its prompt and generated ids, cut to kPositions.
std::vector<int32_t> reference_tokens() {
  std::ifstream in(test::shared_dir() + "/models/stories260K/greedy_reference.jsonl");
  std::string line;
  EXPECT_TRUE(std::getline(in, line)) << "greedy_reference.jsonl is missing";
  const auto ref = nlohmann::json::parse(line);
  auto tokens = ref.at("prompt_ids").get<std::vector<int32_t>>();
  const auto ids = ref.at("ids").get<std::vector<int32_t>>();
  tokens.insert(tokens.end(), ids.begin(), ids.end());
  tokens.resize(kPositions);
  return tokens;
}

}  // namespace

TEST(WasmParity, WritesNativeScalarLogits) {
  const auto model = Model::load(test::build_dir() + "/models/stories260K-f32.gguf");
  CpuOptions options;
  options.path = cpu::Path::Scalar;
  options.kv_type = TensorType::F32;  // kernel parity, on an exact cache
  Session session(*model, std::make_unique<CpuForward>(*model, options));
  const std::vector<int32_t> tokens = reference_tokens();
  const std::vector<float> logits = session.logits_all(tokens);
  ASSERT_EQ(logits.size(), kPositions * static_cast<size_t>(model->config().n_vocab));
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));

  const std::filesystem::path out = test::build_dir() + "/parity/stories260K-f32-native-scalar-logits.json";
  std::filesystem::create_directories(out.parent_path());
  const nlohmann::json file = {{"model", "stories260K-f32"}, {"tokens", tokens}, {"n_vocab", model->config().n_vocab}, {"logits", logits}};
  std::ofstream(out) << file.dump();
  ASSERT_TRUE(std::filesystem::exists(out));
}

// The tensor types of the synthetic tiny-llama models (tools/CMakeLists.txt), 16 positions each.
TEST(WasmParity, WritesNativeScalarLogitsOfEveryTensorType) {
  for (const char* type : {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl", "q2_k", "q3_k",
                           "q4_k", "q5_k", "q6_k", "iq4_xs", "q4_k_m"}) {
    const std::string name = std::string("tiny-llama-") + type;
    const auto model = Model::load(test::build_dir() + "/models/" + name + ".gguf");
    CpuOptions options;
    options.path = cpu::Path::Scalar;
    options.kv_type = TensorType::F32;  // kernel parity, on an exact cache
    Session session(*model, std::make_unique<CpuForward>(*model, options));
    std::vector<int32_t> tokens = {1};
    for (int32_t i = 1; i < 16; ++i) tokens.push_back((i * 37 + 11) % static_cast<int32_t>(model->config().n_vocab));
    const std::vector<float> logits = session.logits_all(tokens);
    for (float v : logits) ASSERT_TRUE(std::isfinite(v)) << name;
    const std::filesystem::path out = test::build_dir() + "/parity/" + name + "-native-scalar-logits.json";
    std::filesystem::create_directories(out.parent_path());
    const nlohmann::json file = {{"model", name}, {"tokens", tokens}, {"n_vocab", model->config().n_vocab}, {"logits", logits}};
    std::ofstream(out) << file.dump();
    ASSERT_TRUE(std::filesystem::exists(out)) << name;
  }
}
