// The KV cache's element types: rows read back as the type rounds them (any head slice, even inside a
// q8_0 block), a type the rows cannot take is refused by name, and the model's logits with f16 and q8_0
// caches stay within the rounding of their type of the f32 cache's, on both paths and after a shift. The
// WebGPU plan takes the same types (its numbers against the CPU: tests/js/webgpu-kv.test.mjs).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "backend/cpu/forward.h"
#include "backend/webgpu/plan.h"
#include "common/error.h"
#include "quant/quantize.h"
#include "runtime/context_shift.h"
#include "runtime/session.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

std::vector<float> ramp(int64_t n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = std::sin(static_cast<float>(i) * 0.37f) * scale;
  return v;
}

std::vector<float> logits(const Model& model, TensorType kv, cpu::Path path, const std::vector<int32_t>& tokens) {
  CpuOptions o;
  o.path = path;
  o.kv_type = kv;
  o.max_batch = 16;
  Session s(model, std::make_unique<CpuForward>(model, o));
  return s.logits_all(tokens);
}

// max |a - b| / max |b|
float relative_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0, m = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    d = std::max(d, std::fabs(a[i] - b[i]));
    m = std::max(m, std::fabs(b[i]));
  }
  return d / m;
}

std::vector<int32_t> story_tokens(const Model& model) {
  return model.tokenizer().encode(
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends every day. "
      "One day, she saw a big red ball under a tree.",
      true);
}

}  // namespace

TEST(KvCache, RowsReadBackAsTheirTypeRoundsThem) {
  const int64_t kv_dim = 64;
  const auto k = ramp(kv_dim, 3.0f), v = ramp(kv_dim, -2.0f);
  for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::Q8_0}) {
    KvCache cache(2, kv_dim, 300, type);
    cache.reserve(300);
    cache.store(1, 299, k.data(), v.data());  // the last position of the second page
    std::vector<float> expected(static_cast<size_t>(kv_dim)), bytes(static_cast<size_t>(kv_dim) * 2);
    quantize_row(type, k.data(), bytes.data(), kv_dim);
    dequantize_row(type, bytes.data(), expected.data(), kv_dim);
    // Slices of 8 (a head of stories260K) start inside q8_0 blocks; slices of 48 cross one.
    for (int64_t offset : {0, 8, 24, 40}) {
      const int64_t n = offset == 40 ? 24 : 8;
      std::vector<float> scratch(static_cast<size_t>(n));
      const float* row = cache.key(1, 299, offset, n, scratch.data());
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(row[i], expected[static_cast<size_t>(offset + i)]) << type_traits(type).name << " at " << offset + i;
    }
  }
  EXPECT_EQ(KvCache(2, kv_dim, 300, TensorType::F16).bytes_per_position(), 2u * 2 * 64 * 2);
  EXPECT_EQ(KvCache(2, kv_dim, 300, TensorType::Q8_0).bytes_per_position(), 2u * 2 * 2 * 34);
}

TEST(KvCache, RefusesATypeItsRowsCannotTake) {
  try {
    KvCache(1, 40, 16, TensorType::Q8_0);
    FAIL() << "a q8_0 cache of 40-value rows was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(KvCache(1, 64, 16, TensorType::Q4_0), Error);
  EXPECT_EQ(kv_cache_type("q8_0"), TensorType::Q8_0);
  try {
    kv_cache_type("q4");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("f32, f16, q8_0"), std::string::npos) << e.what();
  }
}

// Bounds measured on stories260K (f16: ~1e-3, q8_0: ~1e-2 of the largest logit), with room to spare;
// perplexity is the quality figure (docs/long-context.md).
TEST(KvCache, LogitsStayCloseToTheF32Caches) {
  const auto model = Model::load(test::build_dir() + "/models/stories260K-f32.gguf");
  const auto tokens = story_tokens(*model);
  for (cpu::Path path : {cpu::Path::Scalar, cpu::Path::Simd}) {
    const auto f32 = logits(*model, TensorType::F32, path, tokens);
    const float f16 = relative_diff(logits(*model, TensorType::F16, path, tokens), f32);
    const float q8 = relative_diff(logits(*model, TensorType::Q8_0, path, tokens), f32);
    std::printf("[kv] stories260K, %zu positions, %s: f16 %.3g, q8_0 %.3g of the largest f32-cache logit\n", tokens.size(),
                path == cpu::Path::Scalar ? "scalar" : "simd", f16, q8);
    EXPECT_LT(f16, 5e-3f);
    EXPECT_LT(q8, 5e-2f);
  }
  // The paths agree on a rounded cache as they do on an f32 one, up to a rounding step of the keys.
  EXPECT_LT(relative_diff(logits(*model, TensorType::F16, cpu::Path::Simd, tokens), logits(*model, TensorType::F16, cpu::Path::Scalar, tokens)),
            5e-3f);
}

// A shift re-rounds the rotated keys: the logits after a shift of an f16 or q8_0 cache stay within their
// type's rounding of the same shift of an f32 cache (whose equality with a fresh prefill is ContextShift's
// test; on a model of several layers a shift is not a fresh prefill, since the kept rows of upper layers
// saw the dropped tokens).
TEST(KvCache, AShiftOfARoundedCacheStaysCloseToTheSameShiftOfAnF32One) {
  const auto model = Model::load(test::build_dir() + "/models/stories260K-f32.gguf");
  const int64_t ctx = 64;
  std::vector<int32_t> tokens = story_tokens(*model);
  while (static_cast<int64_t>(tokens.size()) < ctx) tokens.push_back(static_cast<int32_t>(tokens.size() * 7 % 500 + 3));
  tokens.resize(static_cast<size_t>(ctx));
  const int32_t next = 77;
  const KvShift s = plan_context_shift(ctx, kDefaultKeep, ctx);
  const auto shifted = [&](TensorType type) {
    CpuOptions o;
    o.context_size = ctx;
    o.kv_type = type;
    CpuForward forward(*model, o);
    std::vector<float> out(static_cast<size_t>(model->config().n_vocab));
    forward.forward(tokens, 0, Logits::Last, out.data());
    forward.shift(s);
    forward.forward({&next, 1}, s.end - s.discard, Logits::Last, out.data());
    return out;
  };
  const auto f32 = shifted(TensorType::F32);
  for (TensorType type : {TensorType::F16, TensorType::Q8_0}) {
    const float d = relative_diff(shifted(type), f32);
    std::printf("[kv] after a shift, %s cache: %.3g of the largest f32-cache logit\n", type_traits(type).name, d);
    EXPECT_LT(d, type == TensorType::F16 ? 5e-3f : 1e-1f);
  }
}

// The WebGPU plan's kv_type: f16 by default, the cache buffers sized by the type, the same refusals as the
// CPU's cache, and kernels composed with the type's codec (stores only where a kernel writes the cache).
TEST(KvCache, WebGpuPlanSizesAndComposesTheCacheOfItsType) {
  const auto model = Model::load(test::build_dir() + "/models/stories260K-f32.gguf");  // 5 layers, kv_dim 32
  webgpu::PlanOptions o;
  o.context_size = 64;
  EXPECT_EQ(o.kv_type, "f16");
  const std::map<std::string, uint64_t> row_bytes = {{"f32", 128}, {"f16", 64}, {"q8_0", 36}};
  for (const auto& [type, bytes] : row_bytes) {
    o.kv_type = type;
    const webgpu::Plan plan = webgpu::build_model_plan(*model, o);
    EXPECT_EQ(plan.kv_type, type);
    EXPECT_EQ(plan.kv_bytes_per_token, 2 * 5 * bytes) << type;
    uint64_t kv = 0;
    for (const auto& b : plan.buffers) kv += b.role == "kv" ? b.size : 0;
    EXPECT_GE(kv, 2 * 5 * 64 * bytes) << type;
    EXPECT_LT(kv, 2 * 5 * 64 * bytes + 10 * 256) << type;  // ranges aligned to 256 bytes
    for (const auto& p : plan.pipelines) {
      const bool cache = p.key.rfind("qkv_post", 0) == 0 || p.key.rfind("attention", 0) == 0 || p.key.rfind("kv_shift", 0) == 0;
      const bool combine = p.key.rfind("attention_combine", 0) == 0;
      EXPECT_EQ(p.code.find("fn kcache_load4(") != std::string::npos, cache && !combine) << p.key;
      // Decode attention that does qkv_post's work appends to the cache too.
      const bool writes = p.key.rfind("qkv_post", 0) == 0 || p.key.rfind("kv_shift", 0) == 0 || p.key.rfind("attention_split+post", 0) == 0;
      EXPECT_EQ(p.code.find("fn vcache_store(") != std::string::npos, writes) << p.key;
    }
    EXPECT_NE(plan.to_json().find("\"kv_type\":\"" + type + "\""), std::string::npos);
  }
  EXPECT_EQ(webgpu::parse_plan_options(R"({"kv_type": "q8_0"})").kv_type, "q8_0");
  try {
    webgpu::parse_plan_options(R"({"kv_type": "q4_0"})");
    FAIL() << "kv_type q4_0 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("f32, f16, q8_0"), std::string::npos) << e.what();
  }
  try {  // kv_dim 48: not whole q8_0 blocks
    webgpu::build_op_plan(R"({"op": "attention", "n_heads": 2, "n_kv_heads": 1, "head_dim": 48, "n_tokens": 1, "context": 4, "kv_type": "q8_0"})");
    FAIL() << "a q8_0 cache of 48-value rows was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(use kv type f16)"), std::string::npos) << e.what();
  }
}
