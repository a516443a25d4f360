// The WebGPU plan's one-token matrix products: rows per workgroup, the subgroup reduction where the device
// has the feature, and the options that choose them (their numbers: tests/webgpu-cases/ops.mjs).
#include <gtest/gtest.h>

#include "backend/webgpu/plan.h"
#include "common/error.h"
#include "model/model.h"
#include "test_paths.h"

namespace tabllm {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

const webgpu::Dispatch& find(const std::vector<webgpu::Dispatch>& list, const std::string& label) {
  for (const auto& d : list)
    if (d.label == label) return d;
  throw Error("no dispatch " + label);
}

TEST(WebGpuPlan, OneTokenProductsTakeSeveralRowsPerWorkgroupAndSubgroupsWhenOffered) {
  const auto model = Model::load(test::build_dir() + "/models/stories260K-f32.gguf");  // dim 64, ffn 172, vocab 512
  webgpu::PlanOptions o;
  o.context_size = 64;
  o.tok_tile = 8;  // prefill through the row kernel too: it keeps one row per workgroup
  EXPECT_EQ(o.matvec_rows, 16);
  EXPECT_EQ(o.matvec_min_groups, 768);
  EXPECT_EQ(o.matvec_wg, 128);
  {
    // Products of fewer than 768 workgroups take fewer rows a workgroup: 64 rows, 1 a workgroup.
    const webgpu::Plan plan = webgpu::build_model_plan(*model, o);
    EXPECT_NE(plan.pipelines[find(plan.decode, "blk.0.wo").pipeline].key.find("rows=1"), std::string::npos);
  }
  o.matvec_rows = 4;
  o.matvec_min_groups = 0;
  EXPECT_FALSE(o.subgroups);
  for (const bool subgroups : {false, true}) {
    o.subgroups = subgroups;
    const webgpu::Plan plan = webgpu::build_model_plan(*model, o);
    const auto& wo = find(plan.decode, "blk.0.wo");
    EXPECT_EQ(wo.groups[0] * wo.groups[1], 16u);  // 64 rows, 4 a workgroup
    const auto& output = find(plan.decode, "output");
    EXPECT_EQ(output.groups[0] * output.groups[1], 128u);
    EXPECT_NE(plan.pipelines[wo.pipeline].key.find("rows=4"), std::string::npos);
    EXPECT_NE(plan.pipelines[find(plan.prefill, "blk.0.wo").pipeline].key.find("rows=1"), std::string::npos);
    for (const auto& p : plan.pipelines) {
      if (!starts_with(p.key, "matmul+") && !starts_with(p.key, "matmul:")) continue;
      EXPECT_EQ(p.key.find("+subgroups") != std::string::npos, subgroups) << p.key;
      EXPECT_EQ(starts_with(p.code, "enable subgroups;\n"), subgroups) << p.key;
    }
  }
}

TEST(WebGpuPlan, OneTokenProductsOfBlockTypesRunTheWholeBlockKernel) {
  const auto model = Model::load(test::build_dir() + "/models/stories260K-q8_0.gguf");  // dim 64, ffn 172
  webgpu::PlanOptions o;
  o.context_size = 64;
  o.tok_tile = 8;
  o.matvec_rows = 2;
  o.matvec_min_groups = 0;
  EXPECT_TRUE(o.matvec_blocks);
  const auto key = [](const webgpu::Plan& plan, const std::vector<webgpu::Dispatch>& list, const std::string& label) {
    return plan.pipelines[find(list, label).pipeline].key;
  };
  {
    // By default rows of fewer 32-value units than threads (64 values: 2 units) keep the row kernel.
    const webgpu::Plan plan = webgpu::build_model_plan(*model, o);
    EXPECT_TRUE(starts_with(key(plan, plan.decode, "blk.0.qkv"), "matmul+")) << key(plan, plan.decode, "blk.0.qkv");
  }
  o.matvec_min_units = 0;
  const webgpu::Plan plan = webgpu::build_model_plan(*model, o);
  for (const char* label : {"blk.0.qkv", "blk.0.wo", "blk.0.gate_up", "output"})
    EXPECT_TRUE(starts_with(key(plan, plan.decode, label), "matvec+")) << label << ": " << key(plan, plan.decode, label);
  // Rows of 172 values are not whole 32-value units; prefill keeps the row kernel.
  EXPECT_TRUE(starts_with(key(plan, plan.decode, "blk.0.down"), "matmul+")) << key(plan, plan.decode, "blk.0.down");
  EXPECT_TRUE(starts_with(key(plan, plan.prefill, "blk.0.wo"), "matmul+")) << key(plan, plan.prefill, "blk.0.wo");
  EXPECT_EQ(find(plan.decode, "blk.0.wo").groups[0] * find(plan.decode, "blk.0.wo").groups[1], 32u);  // 64 rows, 2 a workgroup
  o = webgpu::parse_plan_options(R"({"matvec_blocks": false, "context_size": 64})");
  const webgpu::Plan groups = webgpu::build_model_plan(*model, o);
  EXPECT_TRUE(starts_with(key(groups, groups.decode, "blk.0.qkv"), "matmul+")) << key(groups, groups.decode, "blk.0.qkv");
  EXPECT_THROW(webgpu::parse_plan_options(R"({"matvec_blocks": 1})"), Error);
}

// 8-bit x (DOT8, where WGSL offers packed_4x8_integer_dot_product): matvec on rows of 32 units and more,
// its workgroup no wider than a row's units, and half as wide on products of many workgroups.
TEST(WebGpuPlan, EightBitXProductsChooseTheirThreads) {
  const auto key = [](const std::string& spec) {
    const webgpu::Plan plan = webgpu::build_op_plan(spec);
    return plan.pipelines[plan.decode.at(0).pipeline].key;
  };
  const std::string q4 = R"({"op": "matmul", "types": ["q4_0"], "n_tokens": 1, "matvec_blocks": true, "matvec_rows": 8, "matvec_wg": 128, )";
  EXPECT_EQ(key(q4 + R"("rows": [64], "cols": 1024, "dot8": true})"), "matvec+dot8:q4_0,rows=8,tok=1,wg=32");
  EXPECT_EQ(key(q4 + R"("rows": [64], "cols": 2048, "dot8": true})"), "matvec+dot8:q4_0,rows=8,tok=1,wg=64");
  EXPECT_EQ(key(q4 + R"("rows": [64], "cols": 4096, "dot8": true})"), "matvec+dot8:q4_0,rows=8,tok=1,wg=128");
  EXPECT_EQ(key(q4 + R"("rows": [64], "cols": 4096})"), "matvec:q4_0,rows=8,tok=1,wg=128");
  // 12,288 rows of 8 a workgroup: 1,536 workgroups, 1.5 x 1,024; 4,096 rows: 4 a workgroup, 1,024 of them.
  EXPECT_EQ(key(q4 + R"("rows": [12288], "cols": 4096, "dot8": true, "matvec_min_groups": 1024})"), "matvec+dot8:q4_0,rows=8,tok=1,wg=64");
  EXPECT_EQ(key(q4 + R"("rows": [4096], "cols": 4096, "dot8": true, "matvec_min_groups": 1024})"), "matvec+dot8:q4_0,rows=4,tok=1,wg=128");
  EXPECT_EQ(key(q4 + R"("rows": [12288], "cols": 4096, "matvec_min_groups": 1024})"), "matvec:q4_0,rows=8,tok=1,wg=128");
  // matvec_rows counts the rows of weights read: 16 rows of one matrix, 8 of gate and up; the row kernel takes 8.
  const std::string rows16 = R"({"op": "matmul", "n_tokens": 1, "matvec_blocks": true, "matvec_rows": 16, "matvec_wg": 128, "dot8": true, "matvec_min_groups": 768, )";
  EXPECT_EQ(key(rows16 + R"("types": ["q4_0"], "rows": [12288], "cols": 4096})"), "matvec+dot8:q4_0,rows=16,tok=1,wg=128");
  EXPECT_EQ(key(rows16 + R"("types": ["q4_0", "q4_0"], "rows": [11008, 11008], "cols": 4096, "flags": ["GATED"]})"), "matvec+gated+dot8:q4_0:q4_0,rows=8,tok=1,wg=64");
  EXPECT_EQ(key(rows16 + R"("types": ["f32"], "rows": [12288], "cols": 4096})"), "matmul:f32,rows=8,tok=1,wg=128");
  // Q4_K and Q5_K take units in pairs (PAIRS): threads up to the row's pairs, and no halving for many
  // workgroups (a pair is the two units the halved workgroup would give a thread); a Q6_K row beside them
  // reads its pair as two units. matvec_pairs false keeps single units.
  EXPECT_EQ(key(rows16 + R"("types": ["q4_k"], "rows": [4096], "cols": 4096, "matvec_pairs": true})"), "matvec+pairs+dot8:q4_k,rows=4,tok=1,wg=64");
  EXPECT_EQ(key(rows16 + R"("types": ["q4_k", "q4_k"], "rows": [14336, 14336], "cols": 4096, "flags": ["GATED"], "matvec_pairs": true})"),
            "matvec+gated+pairs+dot8:q4_k:q4_k,rows=8,tok=1,wg=64");
  EXPECT_EQ(key(rows16 + R"("types": ["q4_k"], "rows": [4096], "cols": 14336, "matvec_pairs": true})"), "matvec+pairs+dot8:q4_k,rows=4,tok=1,wg=128");
  EXPECT_EQ(key(rows16 + R"("types": ["q4_k", "q4_k", "q6_k"], "rows": [4096, 1024, 1024], "cols": 4096, "flags": ["MULTI"], "matvec_pairs": true})"),
            "matvec+multi+pairs+dot8:q4_k:q4_k:q6_k,rows=8,tok=1,wg=64");
  EXPECT_EQ(key(rows16 + R"("types": ["q5_k"], "rows": [4096], "cols": 4096, "matvec_pairs": true})"), "matvec+pairs+dot8:q5_k,rows=4,tok=1,wg=64");
  EXPECT_EQ(key(rows16 + R"("types": ["q4_0"], "rows": [4096], "cols": 4096, "matvec_pairs": true})"), "matvec+dot8:q4_0,rows=4,tok=1,wg=128");
  EXPECT_EQ(key(rows16 + R"("types": ["q4_k"], "rows": [4096], "cols": 4096})"), "matvec+dot8:q4_k,rows=4,tok=1,wg=128");
  // The verify list's several-token products (several_rows): TOKENS over the types matvec decodes, after
  // quantize_x, matvec_wg threads splitting the rows, no pairs; matvec_tokens false or another type: the
  // row kernel.
  const auto product = [](const std::string& spec) {  // the last dispatch: the product after quantize_x
    const webgpu::Plan plan = webgpu::build_op_plan(spec);
    return plan.pipelines[plan.decode.back().pipeline].key;
  };
  const std::string verify = R"({"op": "matmul", "n_tokens": 9, "tok": 9, "several_rows": 4, "matvec_blocks": true, "matvec_wg": 128, "dot8": true, "subgroups": true, )";
  EXPECT_EQ(product(verify + R"("types": ["q4_0"], "rows": [4096], "cols": 4096})"), "matvec+tokens+subgroups+dot8:q4_0,rows=4,tok=9,wg=128");
  EXPECT_EQ(product(verify + R"("types": ["q4_k", "q4_k"], "rows": [14336, 14336], "cols": 4096, "flags": ["GATED"], "matvec_pairs": true})"),
            "matvec+gated+tokens+subgroups+dot8:q4_k:q4_k,rows=4,tok=9,wg=128");
  EXPECT_EQ(product(verify + R"("types": ["q4_0"], "rows": [4096], "cols": 4096, "matvec_tokens": false})"), "matmul+subgroups:q4_0,rows=4,tok=9,wg=64");
  EXPECT_EQ(product(verify + R"("types": ["q4_1"], "rows": [4096], "cols": 4096})"), "matmul+subgroups:q4_1,rows=4,tok=9,wg=64");
    EXPECT_EQ(key(verify + R"("types": ["q4_0"], "rows": [4096], "cols": 4096})"), "quantize_x+dot8,wg=256");
  EXPECT_EQ(key(verify + R"("types": ["q4_0"], "rows": [4096], "cols": 4096, "flags": ["NORM"]})"), "quantize_x+dot8+norm,wg=256");
// One token over rows of few values: no more threads than the row has groups of 8, at least 32.
  const std::string row = R"({"op": "matmul", "n_tokens": 1, "matvec_rows": 8, "matvec_wg": 128, "types": ["f32"], "rows": [64], )";
  EXPECT_EQ(key(row + R"("cols": 64})"), "matmul:f32,rows=8,tok=1,wg=32");
  EXPECT_EQ(key(row + R"("cols": 512})"), "matmul:f32,rows=8,tok=1,wg=64");
  EXPECT_EQ(key(row + R"("cols": 1024})"), "matmul:f32,rows=8,tok=1,wg=128");

  const auto model = Model::load(test::build_dir() + "/models/stories260K-q8_0.gguf");  // dim 64: 2 units
  webgpu::PlanOptions o = webgpu::parse_plan_options(R"({"dot8": true, "context_size": 64})");
  EXPECT_TRUE(o.dot8);
  {
    const webgpu::Plan plan = webgpu::build_model_plan(*model, o);  // fewer than 32 units: the row kernel
    EXPECT_TRUE(starts_with(plan.pipelines[find(plan.decode, "blk.0.qkv").pipeline].key, "matmul+"));
  }
  o.matvec_min_units = 0;
  const webgpu::Plan plan = webgpu::build_model_plan(*model, o);
  const std::string qkv = plan.pipelines[find(plan.decode, "blk.0.qkv").pipeline].key;
  EXPECT_TRUE(starts_with(qkv, "matvec+norm+multi+subgroups+dot8:") || starts_with(qkv, "matvec+norm+multi+dot8:")) << qkv;
  EXPECT_NE(qkv.find("wg=32"), std::string::npos) << qkv;
  EXPECT_THROW(webgpu::parse_plan_options(R"({"dot8": "yes"})"), Error);
}

TEST(WebGpuPlan, RowKernelOptionsAreChecked) {
  EXPECT_EQ(webgpu::parse_plan_options(R"({"matvec_rows": 4, "subgroups": true})").matvec_rows, 4);
  EXPECT_TRUE(webgpu::parse_plan_options(R"({"subgroups": true})").subgroups);
  EXPECT_THROW(
      {
        try {
          webgpu::parse_plan_options(R"({"subgroups": "yes"})");
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("subgroups must be true or false"), std::string::npos);
          throw;
        }
      },
      Error);
  const auto model = Model::load(test::build_dir() + "/models/stories260K-f32.gguf");
  webgpu::PlanOptions o;
  o.context_size = 64;
  o.matvec_rows = 3;
  EXPECT_THROW(webgpu::build_model_plan(*model, o), Error);
  // 8 rows of gate and up (16 rows read) with the norm fused: 17 values a thread, 2,176 bytes over the 32
  // threads that rows of 64 values take. (Prefill attention tiles of one query stay within the limit.)
  o.matvec_rows = 16;
  o.matvec_min_groups = 0;
  o.attn_tile = 1;
  o.limits.max_compute_workgroup_storage_size = 2048;
  try {
    webgpu::build_model_plan(*model, o);
    ADD_FAILURE() << "a row kernel over the workgroup memory limit was planned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lower matvec_rows"), std::string::npos) << e.what();
  }
  o.subgroups = true;  // one partial per subgroup of at least 4: fits
  EXPECT_NO_THROW(webgpu::build_model_plan(*model, o));
}

// Decode attention's slices take at least attn_min_slice positions (16 by default): there are no more slices
// than the context fills so, and a short cache fills fewer (the rest return at once; the combine reads all).
TEST(WebGpuPlan, DecodeAttentionSlicesTakeAMinimumOfPositions) {
  const auto model = Model::load(test::build_dir() + "/models/stories260K-f32.gguf");
  webgpu::PlanOptions o;
  o.context_size = 64;
  const auto split_key = [&] {
    const webgpu::Plan plan = webgpu::build_model_plan(*model, o);
    for (const auto& d : plan.decode)
      if (starts_with(plan.pipelines[d.pipeline].key, "attention_split")) return plan.pipelines[d.pipeline].key;
    return std::string();
  };
  EXPECT_NE(split_key().find("min_slice=16,s=4,"), std::string::npos) << split_key();  // 64 positions
  o.context_size = 512;
  EXPECT_NE(split_key().find("min_slice=16,s=32,"), std::string::npos) << split_key();
  o.attn_min_slice = 1;
  o.context_size = 64;
  EXPECT_NE(split_key().find("min_slice=1,s=32,"), std::string::npos) << split_key();
  o.attn_min_slice = 0;
  EXPECT_THROW(webgpu::build_model_plan(*model, o), Error);
}

// Decode attention over slices does qkv_post's work (attention_split's POST) when the cache codec's groups lie
// within heads: one dispatch less a layer. Prefill and verify keep qkv_post, as does fuse_qkv_post false.
TEST(WebGpuPlan, DecodeAttentionDoesQkvPostsWork) {
  const auto model = Model::load(test::build_dir() + "/models/stories260K-f32.gguf");  // 5 layers, heads of 8
  webgpu::PlanOptions o;
  o.context_size = 64;
  o.verify_batch = 4;
  auto count = [](const std::vector<webgpu::Dispatch>& list, const std::string& suffix) {
    return std::count_if(list.begin(), list.end(), [&](const webgpu::Dispatch& d) { return d.label.size() >= suffix.size() && d.label.compare(d.label.size() - suffix.size(), suffix.size(), suffix) == 0; });
  };
  for (const std::string type : {"f32", "f16", "q8_0"}) {
    o.kv_type = type;
    const webgpu::Plan plan = webgpu::build_model_plan(*model, o);
    // q8_0's blocks of 32 span 4 heads of 8: qkv_post stays.
    const bool fused = type != "q8_0";
    EXPECT_EQ(count(plan.decode, ".qkv_post"), fused ? 0 : 5) << type;
    EXPECT_EQ(count(plan.prefill, ".qkv_post"), 5) << type;
    EXPECT_EQ(count(plan.verify, ".qkv_post"), 5) << type;
    const std::string& key = plan.pipelines[find(plan.decode, "blk.0.attention").pipeline].key;
    EXPECT_EQ(starts_with(key, "attention_split+post"), fused) << key;
  }
  o.kv_type = "f16";
  o.fuse_qkv_post = false;
  const webgpu::Plan plain = webgpu::build_model_plan(*model, o);
  EXPECT_EQ(count(plain.decode, ".qkv_post"), 5);
  EXPECT_TRUE(starts_with(plain.pipelines[find(plain.decode, "blk.0.attention").pipeline].key, "attention_split,"));
  EXPECT_FALSE(webgpu::parse_plan_options(R"({"fuse_qkv_post": false})").fuse_qkv_post);
  o = webgpu::PlanOptions{};
  o.context_size = 64;
  o.attn_splits = 0;  // one workgroup per head: the one-pass kernel, after qkv_post
  EXPECT_EQ(count(webgpu::build_model_plan(*model, o).decode, ".qkv_post"), 5);
}

}  // namespace
}  // namespace tabllm
