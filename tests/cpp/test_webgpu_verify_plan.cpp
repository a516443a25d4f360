// The WebGPU plan's verify list (speculative decoding's k + 1 positions in one call): the row kernel
// reading each weight once for all the call's tokens, attention over every token's causal window (over slices
// of the cache, each token in its own workgroups), the head
// over every token and an argmax per token; absent unless asked, and its size checked. Its numbers on a
// device: tests/js/webgpu-speculative.test.mjs.
#include <gtest/gtest.h>

#include "backend/webgpu/plan.h"
#include "common/error.h"
#include "model/model.h"
#include "test_paths.h"

namespace tabllm {
namespace {

const webgpu::Dispatch& find(const std::vector<webgpu::Dispatch>& list, const std::string& label) {
  for (const auto& d : list)
    if (d.label == label) return d;
  throw Error("no dispatch " + label);
}

std::unique_ptr<Model> stories() { return Model::load(test::build_dir() + "/models/stories260K-f32.gguf"); }  // dim 64, vocab 512

TEST(WebGpuVerifyPlan, RowKernelOverEveryTokenWithTheHeadAndAnArgmaxPerToken) {
  const auto model = stories();
  webgpu::PlanOptions o;
  o.context_size = 64;
  o.verify_batch = 9;
  const webgpu::Plan plan = webgpu::build_model_plan(*model, o);
  EXPECT_EQ(plan.verify_batch, 9);
  ASSERT_FALSE(plan.verify.empty());
  const auto& wo = find(plan.verify, "blk.0.wo");
  EXPECT_EQ(wo.token_tile, 9u);  // one workgroup per row reads its weights once for all 9 tokens
  EXPECT_NE(plan.pipelines[wo.pipeline].key.find("rows=4,tok=9"), std::string::npos) << plan.pipelines[wo.pipeline].key;
  EXPECT_EQ(wo.groups[0] * wo.groups[1], 16u);  // 64 rows, 4 a workgroup: each x load serves 4 rows
  // gate and up's partials of 4 rows × 9 tokens exceed 16 KiB of workgroup memory without subgroups: 2 rows.
  const auto& gate_up = find(plan.verify, "blk.0.gate_up");
  EXPECT_NE(plan.pipelines[gate_up.pipeline].key.find("rows=2,tok=9"), std::string::npos) << plan.pipelines[gate_up.pipeline].key;
  // Attention over slices of the cache, each token in its own workgroups, after qkv_post (not fused).
  const auto& attention = find(plan.verify, "blk.0.attention");
  EXPECT_EQ(plan.pipelines[attention.pipeline].key.rfind("attention_split,", 0), 0u) << plan.pipelines[attention.pipeline].key;
  EXPECT_EQ(attention.token_tile, 1u);
  EXPECT_EQ(find(plan.verify, "blk.0.attention_combine").token_tile, 1u);
  EXPECT_NO_THROW(find(plan.verify, "blk.0.qkv_post"));
  const auto& output = find(plan.verify, "output");
  EXPECT_EQ(output.token_tile, 9u);  // the head over every token, not the last only
  // The argmax of every token's row: workgroups over each row, then one per token merging theirs.
  const auto& merge = plan.verify.back();
  EXPECT_EQ(merge.label, "sample_merge");
  EXPECT_EQ(merge.token_tile, 1u);
  EXPECT_EQ(merge.groups[0], 1u);
  const auto& sample = plan.verify[plan.verify.size() - 2];
  EXPECT_EQ(sample.label, "sample");
  EXPECT_EQ(sample.token_tile, 1u);
  // Rows of logits and result pairs for every token of a verify call.
  EXPECT_GE(plan.buffers[static_cast<size_t>(plan.logits_buffer)].size, 9u * 512u * 4u);
  EXPECT_GE(plan.buffers[static_cast<size_t>(plan.result_buffer)].size, 9u * 8u);
  // Decode and prefill are the same as without a verify list.
  o.verify_batch = 0;
  const webgpu::Plan plain = webgpu::build_model_plan(*model, o);
  EXPECT_TRUE(plain.verify.empty());
  ASSERT_EQ(plain.decode.size(), plan.decode.size());
  for (size_t i = 0; i < plain.decode.size(); ++i) EXPECT_EQ(plain.pipelines[plain.decode[i].pipeline].key, plan.pipelines[plan.decode[i].pipeline].key);
}

TEST(WebGpuVerifyPlan, BatchIsChecked) {
  const auto model = stories();
  webgpu::PlanOptions o;
  o.verify_batch = 17;
  EXPECT_THROW(webgpu::build_model_plan(*model, o), Error);
  EXPECT_EQ(webgpu::parse_plan_options(R"({"verify_batch": 5})").verify_batch, 5);
}

}  // namespace
}  // namespace tabllm
