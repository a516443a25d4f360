// The WebGPU plan of an embedding model (core/backend/webgpu/encoder_plan.h): its shape per architecture and
// its errors. The numbers are checked against the CPU in tests/js/webgpu-embeddings.test.mjs.
#include <gtest/gtest.h>

#include "backend/webgpu/plan.h"
#include "common/error.h"
#include "model/model.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

std::unique_ptr<Model> load(const std::string& shape, const std::string& type = "f32") {
  return Model::load(test::build_dir() + "/models/" + shape + "-" + type + ".gguf");
}

size_t count(const webgpu::Plan& plan, const std::string& label_suffix) {
  size_t n = 0;
  for (const auto& d : plan.prefill) n += d.label.size() >= label_suffix.size() && d.label.compare(d.label.size() - label_suffix.size(), label_suffix.size(), label_suffix) == 0;
  return n;
}

}  // namespace

TEST(WebGpuEncoderPlan, OnePassOverTheBatchWithTheArchitecturesKernels) {
  for (const char* shape : {"tiny-bert", "tiny-nomic-bert"}) {
    const auto model = load(shape);
    const ModelConfig& c = model->config();
    webgpu::PlanOptions o;
    o.max_batch = 8192;  // above a decoder's 4096: a pass holds many inputs
    const webgpu::Plan plan = webgpu::build_model_plan(*model, o);
    EXPECT_EQ(plan.kind, "encoder");
    EXPECT_EQ(plan.max_batch, 8192);
    EXPECT_TRUE(plan.decode.empty()) << shape;
    EXPECT_TRUE(plan.kv_rows.empty()) << shape;
    EXPECT_GE(plan.seqs_buffer, 0);
    EXPECT_EQ(plan.result_buffer, -1);  // the vectors are read from `pooled`, not a sampling result
    ASSERT_GE(plan.buffer_index("pooled"), 0);
    EXPECT_GE(plan.buffers[plan.buffer_index("pooled")].size, 4ull * 8192 * c.dim);
    const auto layers = static_cast<size_t>(c.n_layers);
    EXPECT_EQ(count(plan, "attention"), layers);
    EXPECT_EQ(count(plan, "qkv_post"), layers);  // bert: its biases; nomic-bert: RoPE
    EXPECT_EQ(count(plan, "act"), c.ffn_gated ? 0 : layers);
    EXPECT_EQ(count(plan, "gate_up"), c.ffn_gated ? layers : 0);
    EXPECT_EQ(count(plan, "norm"), 2 * layers + 1);
    EXPECT_EQ(plan.prefill.back().label, "pool");
    EXPECT_EQ(plan.prefill.size(), 3 + layers * (c.ffn_gated ? 8 : 9)) << shape;
  }
}

TEST(WebGpuEncoderPlan, ADecoderEmbeddingModelRunsAsACausalEncoder) {
  const auto model = load("tiny-qwen3-embedding");
  const ModelConfig& c = model->config();
  const webgpu::Plan plan = webgpu::build_model_plan(*model, webgpu::PlanOptions{});
  EXPECT_EQ(plan.kind, "encoder");
  EXPECT_TRUE(plan.decode.empty());
  const auto layers = static_cast<size_t>(c.n_layers);
  // embed, per layer qkv (norm fused), qkv_post (q/k norms, RoPE), attention, wo, gate_up, down; output_norm, pool.
  EXPECT_EQ(plan.prefill.size(), 3 + 6 * layers);
  EXPECT_EQ(count(plan, "output_norm"), 1u);
  bool qk_norm = false, causal_norm_fused = false;
  for (const auto& p : plan.pipelines) {
    qk_norm |= p.key.rfind("encoder_qkv+rope+qknorm", 0) == 0;
    causal_norm_fused |= p.key.rfind("matmul_tiled+norm+multi", 0) == 0;
  }
  EXPECT_TRUE(qk_norm);
  EXPECT_TRUE(causal_norm_fused);
  // A chat model of the same architecture keeps the decoder plan.
  EXPECT_EQ(webgpu::build_model_plan(*load("tiny-qwen3"), webgpu::PlanOptions{}).kind, "model");
}

TEST(WebGpuEncoderPlan, RefusesWhatItCannotHold) {
  const auto model = load("tiny-bert");
  webgpu::PlanOptions o;
  o.max_batch = 20000;
  EXPECT_THROW(webgpu::build_model_plan(*model, o), Error);
  o.max_batch = 4096;
  o.limits.max_storage_buffer_binding_size = 4096;  // activations of 4096 tokens need more
  try {
    webgpu::build_model_plan(*model, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("maxStorageBufferBindingSize"), std::string::npos) << e.what();
  }
}
