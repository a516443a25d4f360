// What each architecture description means, on the tiny synthetic models of the build: the traits read
// from the files, and behaviours a parity test cannot see (sliding windows, LongRoPE's choice by context
// size, soft-capping). Agreement with llama.cpp is checked outside CI (docs/architectures.md).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "backend/cpu/forward.h"
#include "backend/webgpu/plan.h"
#include "common/error.h"
#include "runtime/session.h"
#include "synth/synthesize.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

std::string tiny(const std::string& arch) { return test::build_dir() + "/models/tiny-" + arch + "-f32.gguf"; }

// A variant of a tiny shape, synthesized into the test scratch folder.
std::string synth_variant(const std::string& shape, int64_t layers, float scale, const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(test::build_dir()) / "test-scratch" / "architectures";
  std::filesystem::create_directories(dir);
  tools::SynthOptions o;
  o.shape = shape;
  o.type = TensorType::F32;
  o.seed = 3;
  o.layers = layers;
  o.weight_scale = scale;
  const std::string out = (dir / name).string();
  tools::synthesize_model(o, Vocab::load(test::build_dir() + "/models/stories260K-f32.gguf"), out);
  return out;
}

std::vector<float> logits(const Model& model, const std::vector<int32_t>& tokens, int64_t context = 0) {
  CpuOptions o;
  o.path = cpu::Path::Scalar;
  o.context_size = context;
  o.max_batch = 5;  // several chunks, so windows cross batch boundaries
  o.kv_type = TensorType::F32;
  Session s(model, std::make_unique<CpuForward>(model, o));
  return s.logits_all(tokens);
}

std::vector<int32_t> some_tokens(int n, int32_t first) {
  std::vector<int32_t> t{first};
  for (int i = 1; i < n; ++i) t.push_back(static_cast<int32_t>(3 + (i * 37) % 400));
  return t;
}

bool same_row(const std::vector<float>& a, const std::vector<float>& b, int64_t row, int64_t n) {
  for (int64_t i = row * n; i < (row + 1) * n; ++i)
    if (a[static_cast<size_t>(i)] != b[static_cast<size_t>(i)]) return false;
  return true;
}

}  // namespace

TEST(Architectures, Phi3TraitsAndFusedTensors) {
  const auto model = Model::load(tiny("phi3"));
  const ModelConfig& c = model->config();
  EXPECT_EQ(c.rope_pairing, RopePairing::Halves);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rope_dims, 48);  // partial rotary
  EXPECT_EQ(c.rope_original_context, 256);
  EXPECT_FLOAT_EQ(c.rope_attn_factor, static_cast<float>(std::sqrt(1 + std::log(4.0) / std::log(256.0))));
  EXPECT_EQ(c.sliding_window, 0);  // the file's window is ignored, as llama.cpp does
  EXPECT_EQ(c.ffn_activation, FfnActivation::Silu);
  const LayerWeights& l = model->weights().layers[1];
  // Views of the fused rows: q, k, v of attn_qkv; gate then up of ffn_up.
  EXPECT_EQ(l.wk.data, l.wq.data + c.q_dim() * l.wq.row_bytes());
  EXPECT_EQ(l.wv.data, l.wk.data + c.kv_dim() * l.wk.row_bytes());
  EXPECT_EQ(l.w_up.data, l.w_gate.data + c.ffn_dim * l.w_gate.row_bytes());
  EXPECT_TRUE(model->weights().rope_long.present());
  EXPECT_TRUE(model->weights().rope_short.present());
  EXPECT_NE(model->weights().output.data, model->weights().token_embd.data);
}

TEST(Architectures, GemmaTraits) {
  const auto gemma = Model::load(tiny("gemma"));
  EXPECT_TRUE(gemma->config().scale_embedding);
  EXPECT_EQ(gemma->config().ffn_activation, FfnActivation::GeluTanh);
  EXPECT_FALSE(gemma->config().post_norms);
  EXPECT_EQ(gemma->config().sliding_window, 0);
  EXPECT_EQ(gemma->weights().output.data, gemma->weights().token_embd.data);

  const auto gemma2 = Model::load(tiny("gemma2"));
  const ModelConfig& c2 = gemma2->config();
  EXPECT_TRUE(c2.post_norms);
  EXPECT_FALSE(c2.qk_norm);
  EXPECT_EQ(c2.attn_soft_cap, 50.0f);
  EXPECT_EQ(c2.final_soft_cap, 30.0f);
  EXPECT_EQ(c2.sliding_window, 8);
  EXPECT_EQ(c2.layer_is_local, (std::vector<bool>{true, false}));  // alternating, local first
  EXPECT_EQ(c2.rope_local.base, c2.rope_base);
  EXPECT_FLOAT_EQ(c2.attn_scale, 1.0f / 8.0f);  // 1/sqrt(attention.key_length)

  const auto gemma3 = Model::load(tiny("gemma3"));
  const ModelConfig& c3 = gemma3->config();
  EXPECT_TRUE(c3.post_norms);
  EXPECT_TRUE(c3.qk_norm);
  EXPECT_EQ(c3.attn_soft_cap, 0.0f);
  EXPECT_EQ(c3.final_soft_cap, 0.0f);
  EXPECT_EQ(c3.layer_is_local, (std::vector<bool>{true, true, true, true, true, false}));  // 5 local : 1 global
  EXPECT_EQ(c3.rope_base, 1000000.0f);
  EXPECT_EQ(c3.rope_local.base, 10000.0f);
}

TEST(Architectures, LocalLayersSeeOnlyTheirWindow) {
  // One gemma3 layer is a local one (window 8): a change of token 0 reaches positions 0..7 and no further.
  const auto model = Model::load(synth_variant("tiny-gemma3", 1, 1.0f, "gemma3-one-local-layer.gguf"));
  ASSERT_TRUE(model->config().is_local(0));
  const int64_t V = model->config().n_vocab;
  const auto a = logits(*model, some_tokens(20, 1));
  const auto b = logits(*model, some_tokens(20, 7));
  for (int64_t p = 0; p < 8; ++p) EXPECT_FALSE(same_row(a, b, p, V)) << "position " << p;
  for (int64_t p = 8; p < 20; ++p) EXPECT_TRUE(same_row(a, b, p, V)) << "position " << p;

  // The full model has a global layer: the change reaches everything.
  const auto full = Model::load(tiny("gemma3"));
  const auto fa = logits(*full, some_tokens(20, 1));
  const auto fb = logits(*full, some_tokens(20, 7));
  EXPECT_FALSE(same_row(fa, fb, 19, V));
}

TEST(Architectures, LongRopeFactorsFollowTheContextSize) {
  // tiny-phi3 was trained (nominally) on 256 positions: contexts up to 256 use the short factors, longer
  // ones the long factors. Position 0 is not rotated, so only later positions differ.
  const auto model = Model::load(tiny("phi3"));
  const int64_t V = model->config().n_vocab;
  const auto tokens = some_tokens(12, 1);
  const auto short_a = logits(*model, tokens, 256);
  const auto short_b = logits(*model, tokens, 100);
  const auto long_ = logits(*model, tokens, 1024);
  EXPECT_EQ(short_a, short_b);
  EXPECT_TRUE(same_row(short_a, long_, 0, V));
  EXPECT_FALSE(same_row(short_a, long_, 5, V));
}

TEST(Architectures, FinalSoftCapBoundsLogits) {
  // Large weights push raw logits far past gemma2's cap of 30; capped, they stay inside (-30, 30).
  const auto model = Model::load(synth_variant("tiny-gemma2", 0, 16.0f, "gemma2-large-weights.gguf"));
  const auto l = logits(*model, some_tokens(6, 1));
  float max_abs = 0;
  for (float v : l) max_abs = std::max(max_abs, std::fabs(v));
  EXPECT_LT(max_abs, 30.0f);
  EXPECT_GT(max_abs, 25.0f);
}

TEST(Architectures, WebGpuPlansEveryArchitecture) {
  // Each feature as the plan's kernels (the numbers: tests/webgpu-cases/model.mjs against the CPU).
  auto has_pipeline = [](const webgpu::Plan& plan, const std::string& prefix) {
    for (const auto& p : plan.pipelines)
      if (p.key.rfind(prefix, 0) == 0) return true;
    return false;
  };
  for (const char* arch : {"llama", "qwen2", "qwen3", "phi3", "gemma", "gemma2", "gemma3"}) {
    const auto model = Model::load(tiny(arch));
    const ModelConfig& c = model->config();
    const webgpu::Plan plan = webgpu::build_model_plan(*model, webgpu::PlanOptions{});
    EXPECT_EQ(has_pipeline(plan, "norm_add"), c.post_norms) << arch;
    EXPECT_EQ(has_pipeline(plan, "matmul+norm+gated+gelu"), c.ffn_activation == FfnActivation::GeluTanh) << arch;
    EXPECT_EQ(has_pipeline(plan, "matmul+norm+softcap"), c.final_soft_cap > 0) << arch;
  }
  // The LongRoPE factors are read from the file's first bytes, as rope_freqs is.
  const auto phi3 = Model::load(tiny("phi3"));
  const gguf::Header& h = phi3->file().header();
  for (const char* name : {"rope_factors_long.weight", "rope_factors_short.weight"}) {
    const gguf::TensorInfo* t = h.find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_GE(webgpu::prefix_bytes_needed(h), h.data_offset + t->offset + t->n_bytes()) << name;
  }
}

TEST(Architectures, WebGpuPlanRefusesAnAttentionTileBeyondWorkgroupMemory) {
  // tiny-qwen3's heads of 128: 16 queries a workgroup need 16,640 bytes, past the 16 KiB every device has.
  const auto model = Model::load(tiny("qwen3"));
  webgpu::PlanOptions o;
  o.attn_tile = 16;
  try {
    webgpu::build_model_plan(*model, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("maxComputeWorkgroupStorageSize"), std::string::npos) << e.what();
  }
  o.limits.max_compute_workgroup_storage_size = 32768;
  EXPECT_NO_THROW(webgpu::build_model_plan(*model, o));
}

// Native scalar logits of every tiny architecture, for the WebAssembly comparison
// (tests/js/wasm_architectures.test.mjs), over 24 positions that cross every sliding window.
TEST(Architectures, WritesNativeScalarLogitsForWasm) {
  for (const char* arch : {"llama", "qwen2", "qwen3", "phi3", "gemma", "gemma2", "gemma3"}) {
    const auto model = Model::load(tiny(arch));
    const std::vector<int32_t> tokens = some_tokens(24, 1);
    const std::vector<float> l = logits(*model, tokens);
    for (float v : l) ASSERT_TRUE(std::isfinite(v)) << arch;
    const std::filesystem::path out = test::build_dir() + "/parity/tiny-" + arch + "-f32-native-scalar-logits.json";
    std::filesystem::create_directories(out.parent_path());
    const nlohmann::json file = {{"model", std::string("tiny-") + arch + "-f32"}, {"tokens", tokens}, {"n_vocab", model->config().n_vocab}, {"logits", l}};
    std::ofstream(out) << file.dump();
    ASSERT_TRUE(std::filesystem::exists(out)) << arch;
  }
}
