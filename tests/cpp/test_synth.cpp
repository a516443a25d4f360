#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "convert/model_spec.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "quant/quantize.h"
#include "synth/model_shapes.h"
#include "synth/synthesize.h"
#include "synth/weight_mix.h"
#include "test_paths.h"
#include "tokenizer/vocab.h"

namespace tabllm {
namespace {

namespace fs = std::filesystem;

const TensorType kAllTypes[] = {TensorType::F32,  TensorType::F16,    TensorType::BF16, TensorType::Q8_0,
                                TensorType::Q4_0, TensorType::Q4_1,   TensorType::Q5_0, TensorType::Q5_1,
                                TensorType::Q2_K, TensorType::Q3_K,   TensorType::Q4_K, TensorType::Q5_K,
                                TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS};

fs::path scratch_dir() {
  const fs::path dir = fs::path(test::build_dir()) / "test-scratch" / "synth";
  fs::create_directories(dir);
  return dir;
}

// A small SentencePiece vocabulary: <unk>, <s>, </s>, 256 byte tokens and a few words.
Vocab small_vocab(size_t size = 300) {
  Vocab v;
  v.model = Vocab::Model::SentencePiece;
  const auto add = [&](std::string piece, TokenType type) {
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(-static_cast<float>(v.tokens.size()));
    v.types.push_back(type);
  };
  add("<unk>", TokenType::Unknown);
  add("<s>", TokenType::Control);
  add("</s>", TokenType::Control);
  for (int b = 0; b < 256; ++b) {
    char piece[8];
    std::snprintf(piece, sizeof piece, "<0x%02X>", b);
    add(piece, TokenType::Byte);
  }
  while (v.tokens.size() < size) add("\xE2\x96\x81w" + std::to_string(v.tokens.size()), TokenType::Normal);
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  v.add_bos = true;
  return v;
}

fs::path synth(const std::string& shape, TensorType type, const std::string& out_name, uint64_t seed = 1,
               int threads = 2, int64_t layers = 0, const Vocab& vocab = small_vocab()) {
  tools::SynthOptions o;
  o.shape = shape;
  o.type = type;
  o.seed = seed;
  o.n_threads = threads;
  o.layers = layers;
  const fs::path out = scratch_dir() / out_name;
  tools::synthesize_model(o, vocab, out.string());
  return out;
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

struct Stats {
  double mean, std;
};
Stats decoded_stats(const gguf::File& f, const gguf::TensorInfo& t) {
  std::vector<float> values(t.n_elements());
  dequantize_row(t.type, f.tensor_data(t), values.data(), static_cast<int64_t>(values.size()));
  double sum = 0, sum_sq = 0;
  for (float v : values) {
    sum += v;
    sum_sq += static_cast<double>(v) * v;
  }
  const double mean = sum / static_cast<double>(values.size());
  return {mean, std::sqrt(sum_sq / static_cast<double>(values.size()) - mean * mean)};
}

TEST(Synth, TinyShapesInEveryTypeReloadWithRightShapes) {
  for (const char* shape : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
    for (TensorType type : kAllTypes) {
      const std::string label = std::string(shape) + " " + type_traits(type).name;
      const fs::path path = synth(shape, type, std::string(shape) + "-" + type_traits(type).name + ".gguf");
      const auto file = gguf::File::open(path.string());
      const gguf::Header& h = file->header();
      const tools::ModelSpec spec = tools::find_shape(shape, 300);
      const std::string arch = spec.arch;
      EXPECT_EQ(h.get_string("general.architecture"), arch) << label;
      EXPECT_EQ(h.get_int(arch + ".block_count"), spec.n_layers) << label;
      EXPECT_EQ(h.get_int(arch + ".embedding_length"), 256) << label;
      EXPECT_EQ(h.get_int(arch + ".vocab_size"), 300) << label;
      EXPECT_EQ(h.get_int("general.file_type"), tools::gguf_file_type(type)) << label;
      EXPECT_EQ(Vocab::from_gguf(h).size(), 300u) << label;

      // Every planned tensor is there with its shape; matrices in the requested type (rows of 256 fit).
      const auto plan = tools::plan_tensors(spec, type);
      ASSERT_EQ(h.tensors.size(), plan.size()) << label;
      for (const auto& p : plan) {
        const gguf::TensorInfo* t = h.find_tensor(p.name);
        ASSERT_TRUE(t) << label << " " << p.name;
        EXPECT_EQ(t->dims, p.dims) << label << " " << p.name;
        EXPECT_EQ(t->type, p.dims.size() == 2 ? type : TensorType::F32) << label << " " << p.name;
      }
      EXPECT_EQ(h.find_tensor("output.weight") != nullptr, !spec.tied_embeddings) << label;

      // Weights decode to mean ~0 and standard deviation ~1/sqrt(fan_in).
      for (const char* name : {"blk.0.ffn_gate.weight", "blk.1.ffn_down.weight", "token_embd.weight"}) {
        const gguf::TensorInfo& t = *h.find_tensor(name);
        const Stats s = decoded_stats(*file, t);
        const double sigma = 1 / std::sqrt(static_cast<double>(t.dims[0]));
        EXPECT_NEAR(s.std, sigma, 0.15 * sigma) << label << " " << name;
        EXPECT_NEAR(s.mean, 0, 0.1 * sigma) << label << " " << name;
      }
      const Stats norm = decoded_stats(*file, *h.find_tensor("blk.0.attn_norm.weight"));
      EXPECT_NEAR(norm.mean, 1.0, 0.05) << label;
      fs::remove(path);
    }
  }
}

TEST(Synth, ArchitectureSpecificTensorsAndKeys) {
  const auto qwen2 = gguf::File::open(synth("tiny-qwen2", TensorType::Q8_0, "qwen2-keys.gguf").string());
  EXPECT_EQ(qwen2->header().find_tensor("blk.1.attn_q.bias")->dims, (std::vector<uint64_t>{256}));
  EXPECT_EQ(qwen2->header().find_tensor("blk.1.attn_k.bias")->dims, (std::vector<uint64_t>{128}));
  EXPECT_FALSE(qwen2->header().find("qwen2.attention.key_length"));
  EXPECT_FLOAT_EQ(static_cast<float>(*qwen2->header().get_float_opt("qwen2.attention.layer_norm_rms_epsilon")), 1e-6f);

  const auto qwen3 = gguf::File::open(synth("tiny-qwen3", TensorType::Q8_0, "qwen3-keys.gguf").string());
  const gguf::Header& h = qwen3->header();
  EXPECT_EQ(h.get_int("qwen3.attention.key_length"), 128);
  EXPECT_EQ(h.get_int("qwen3.attention.value_length"), 128);
  EXPECT_EQ(h.get_int("qwen3.rope.dimension_count"), 128);
  EXPECT_EQ(h.find_tensor("blk.0.attn_q_norm.weight")->dims, (std::vector<uint64_t>{128}));
  EXPECT_EQ(h.find_tensor("blk.0.attn_q.weight")->dims, (std::vector<uint64_t>{256, 512}));
  EXPECT_EQ(h.find_tensor("blk.0.attn_output.weight")->dims, (std::vector<uint64_t>{512, 256}));
  EXPECT_FALSE(h.find_tensor("blk.0.attn_q.bias"));
  EXPECT_FLOAT_EQ(static_cast<float>(*h.get_float_opt("qwen3.rope.freq_base")), 1e6f);
}

TEST(Synth, SameSeedSameBytesWhateverTheThreadCount) {
  const auto a = read_bytes(synth("tiny-qwen2", TensorType::Q4_0, "seed-a.gguf", 7, 1));
  const auto b = read_bytes(synth("tiny-qwen2", TensorType::Q4_0, "seed-b.gguf", 7, 2));
  const auto c = read_bytes(synth("tiny-qwen2", TensorType::Q4_0, "seed-c.gguf", 8, 2));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a.size(), c.size());
  const auto k1 = read_bytes(synth("tiny-llama", TensorType::Q6_K, "seed-k1.gguf", 3, 1));
  const auto k2 = read_bytes(synth("tiny-llama", TensorType::Q6_K, "seed-k2.gguf", 3, 3));
  EXPECT_EQ(k1, k2);
}

TEST(Synth, LayersOverride) {
  const auto file = gguf::File::open(synth("tiny-llama", TensorType::F16, "layers.gguf", 1, 2, 1).string());
  EXPECT_EQ(file->header().get_int("llama.block_count"), 1);
  EXPECT_TRUE(file->header().find_tensor("blk.0.ffn_up.weight"));
  EXPECT_FALSE(file->header().find_tensor("blk.1.ffn_up.weight"));
}

TEST(Synth, ContextOverride) {
  tools::SynthOptions o;
  o.shape = "tiny-llama";
  o.type = TensorType::F16;
  o.layers = 1;
  o.context = 4096;
  const fs::path out = scratch_dir() / "context.gguf";
  EXPECT_EQ(tools::synthesize_model(o, small_vocab(), out.string()).context_length, 4096);
  EXPECT_EQ(gguf::File::open(out.string())->header().get_int("llama.context_length"), 4096);
}

TEST(Synth, RealShapePadsTheVocabulary) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path path = synth("tinyllama-1.1b", TensorType::Q4_K, "tinyllama-1layer.gguf", 1, 2, 1);
  std::printf("tinyllama-1.1b, 1 layer, q4_k: %.2f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  const auto file = gguf::File::open(path.string());
  const gguf::Header& h = file->header();
  EXPECT_EQ(h.get_int("llama.vocab_size"), 32000);
  EXPECT_EQ(h.get_int("llama.context_length"), 2048);
  EXPECT_EQ(h.get_int("llama.attention.head_count"), 32);
  EXPECT_EQ(h.get_int("llama.attention.head_count_kv"), 4);
  EXPECT_EQ(h.get_int("llama.feed_forward_length"), 5632);
  const Vocab v = Vocab::from_gguf(h);
  EXPECT_EQ(v.size(), 32000u);
  EXPECT_EQ(v.tokens[3], "<0x00>");
  EXPECT_EQ(v.types[31999], TokenType::Unused);
  EXPECT_EQ(h.find_tensor("token_embd.weight")->dims, (std::vector<uint64_t>{2048, 32000}));
  EXPECT_EQ(h.find_tensor("output.weight")->dims, (std::vector<uint64_t>{2048, 32000}));
  EXPECT_EQ(h.find_tensor("blk.0.ffn_down.weight")->type, TensorType::Q4_K);
  fs::remove(path);
}

TEST(Synth, OddRowsFallBackToSmallerBlocks) {
  // qwen2.5-0.5b rows of 896 do not fit 256-element K blocks: those matrices fall back to q5_0.
  const auto plan = tools::plan_tensors(tools::find_shape("qwen2.5-0.5b", 0), TensorType::Q4_K);
  const auto type_of = [&](const std::string& name) -> std::optional<TensorType> {
    for (const auto& t : plan)
      if (t.name == name) return t.type;
    return std::nullopt;
  };
  EXPECT_EQ(type_of("token_embd.weight"), TensorType::Q5_0);
  EXPECT_EQ(type_of("blk.0.attn_q.weight"), TensorType::Q5_0);
  EXPECT_EQ(type_of("blk.0.ffn_down.weight"), TensorType::Q4_K);  // rows of 4864 = 19 blocks
  EXPECT_EQ(type_of("blk.0.attn_q.bias"), TensorType::F32);
  EXPECT_EQ(type_of("output.weight"), std::nullopt);  // tied
  EXPECT_EQ(tools::storage_type(TensorType::Q5_K, 896), TensorType::Q5_1);
  EXPECT_EQ(tools::storage_type(TensorType::Q6_K, 896), TensorType::Q8_0);
  EXPECT_EQ(tools::storage_type(TensorType::Q4_0, 172), TensorType::F16);
  EXPECT_EQ(tools::storage_type(TensorType::Q6_K, 100), TensorType::F16);
  EXPECT_EQ(tools::storage_type(TensorType::BF16, 7), TensorType::BF16);
  EXPECT_EQ(tools::storage_type(TensorType::Q2_K, 896), TensorType::Q4_0);
  EXPECT_EQ(tools::storage_type(TensorType::Q3_K, 896), TensorType::Q4_0);
  EXPECT_EQ(tools::storage_type(TensorType::IQ4_XS, 896), TensorType::IQ4_NL);
  EXPECT_EQ(tools::storage_type(TensorType::IQ4_NL, 896), TensorType::IQ4_NL);
}

TEST(Synth, AKnownTypeTabllmCannotComputeWithIsNamedWithTheSupportedOnes) {
  // A tiny-llama file with one iq2_xxs matrix (zero blocks): its header reads, the model is refused by name.
  const tools::ModelSpec spec = tools::find_shape("tiny-llama", 300);
  gguf::Writer writer;
  tools::write_hyperparameters(writer, spec, TensorType::F32);
  small_vocab().write_gguf_metadata(writer);
  for (tools::TensorPlan t : tools::plan_tensors(spec, TensorType::F32)) {
    if (t.name == "blk.0.attn_q.weight") t.type = TensorType::IQ2_XXS;
    uint64_t n = 1;
    for (uint64_t d : t.dims) n *= d;
    const std::vector<uint8_t> zeros(type_row_bytes(t.type, n));
    writer.add_tensor(t.name, t.dims, t.type, zeros.data());
  }
  const fs::path path = scratch_dir() / "tiny-llama-iq2_xxs.gguf";
  writer.write_file(path.string());
  EXPECT_EQ(gguf::File::open(path.string())->header().find_tensor("blk.0.attn_q.weight")->type, TensorType::IQ2_XXS);
  try {
    Model::load(path.string());
    ADD_FAILURE() << "a model with an iq2_xxs matrix loaded";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("blk.0.attn_q.weight"), std::string::npos) << message;
    EXPECT_NE(message.find("iq2_xxs"), std::string::npos) << message;
    EXPECT_NE(message.find(supported_type_names()), std::string::npos) << message;
  }
  fs::remove(path);
}

TEST(Synth, Q4_K_MMixTypesTensorsAsLlamaQuantize) {
  EXPECT_EQ(tools::parse_weight_mix("Q4_K_M"), tools::WeightMix::Q4_K_M);
  EXPECT_EQ(tools::parse_weight_mix("q4_k"), std::nullopt);
  // qwen2.5-0.5b: 24 layers (more bits for 0-2, 21-23 and every third between: 5, 8, ..., 20), rows of 896
  // fall back (q4_k -> q5_0, q6_k -> q8_0), ffn_down rows of 4864 fit; the tied embedding is the output.
  tools::ModelSpec spec = tools::find_shape("qwen2.5-0.5b", 0);
  auto plan = tools::plan_tensors(spec, TensorType::Q4_K);
  tools::apply_weight_mix(tools::WeightMix::Q4_K_M, spec, plan);
  const auto type_of = [&](const std::string& name) -> std::optional<TensorType> {
    for (const auto& t : plan)
      if (t.name == name) return t.type;
    return std::nullopt;
  };
  EXPECT_EQ(type_of("token_embd.weight"), TensorType::Q8_0);
  EXPECT_EQ(type_of("blk.0.attn_q.weight"), TensorType::Q5_0);
  EXPECT_EQ(type_of("blk.0.attn_v.weight"), TensorType::Q8_0);
  EXPECT_EQ(type_of("blk.3.attn_v.weight"), TensorType::Q5_0);
  EXPECT_EQ(type_of("blk.0.ffn_down.weight"), TensorType::Q6_K);
  EXPECT_EQ(type_of("blk.3.ffn_down.weight"), TensorType::Q4_K);
  EXPECT_EQ(type_of("blk.5.ffn_down.weight"), TensorType::Q6_K);
  EXPECT_EQ(type_of("blk.23.ffn_down.weight"), TensorType::Q6_K);
  EXPECT_EQ(type_of("blk.0.attn_norm.weight"), TensorType::F32);
  // An untied model of whole 256-blocks: q6_k output, q4_k embedding.
  spec = tools::find_shape("tinyllama-1.1b", 0);
  plan = tools::plan_tensors(spec, TensorType::Q4_K);
  tools::apply_weight_mix(tools::WeightMix::Q4_K_M, spec, plan);
  EXPECT_EQ(type_of("output.weight"), TensorType::Q6_K);
  EXPECT_EQ(type_of("token_embd.weight"), TensorType::Q4_K);
  EXPECT_EQ(type_of("blk.0.ffn_gate.weight"), TensorType::Q4_K);
  EXPECT_EQ(type_of("blk.21.attn_v.weight"), TensorType::Q6_K);

  // The file: those types, general.file_type 15, and the weights' spread kept.
  tools::SynthOptions o;
  o.shape = "tiny-llama";
  o.mix = tools::WeightMix::Q4_K_M;
  o.type = tools::weight_mix_base_type(*o.mix);
  o.seed = 3;
  const fs::path out = scratch_dir() / "tiny-llama-q4_k_m.gguf";
  tools::synthesize_model(o, small_vocab(), out.string());
  const auto file = gguf::File::open(out.string());
  const gguf::Header& h = file->header();
  EXPECT_EQ(h.get_int("general.file_type"), 15);
  EXPECT_EQ(h.find_tensor("output.weight")->type, TensorType::Q6_K);
  EXPECT_EQ(h.find_tensor("blk.0.ffn_down.weight")->type, TensorType::Q4_K);  // 2 layers: only the last gets more bits
  EXPECT_EQ(h.find_tensor("blk.1.ffn_down.weight")->type, TensorType::Q6_K);
  EXPECT_EQ(h.find_tensor("blk.0.ffn_up.weight")->type, TensorType::Q4_K);
  const gguf::TensorInfo& up = *h.find_tensor("blk.1.ffn_up.weight");
  EXPECT_NEAR(decoded_stats(*file, up).std, 1 / 16.0, 0.15 / 16.0);
  fs::remove(out);
}

TEST(Synth, Phi3AndGemmaTensorsAndKeysAsLlamaCppExpects) {
  const auto phi3 = gguf::File::open(synth("tiny-phi3", TensorType::Q8_0, "phi3-keys.gguf").string());
  const gguf::Header& p = phi3->header();
  EXPECT_EQ(p.find_tensor("blk.1.attn_qkv.weight")->dims, (std::vector<uint64_t>{256, 256 + 2 * 128}));
  EXPECT_EQ(p.find_tensor("blk.1.attn_q.weight"), nullptr);
  EXPECT_EQ(p.find_tensor("blk.1.ffn_up.weight")->dims, (std::vector<uint64_t>{256, 2 * 512}));  // gate | up
  EXPECT_EQ(p.find_tensor("blk.1.ffn_gate.weight"), nullptr);
  EXPECT_EQ(p.find_tensor("rope_factors_long.weight")->dims, (std::vector<uint64_t>{24}));  // 48 rotated dims
  EXPECT_EQ(p.find_tensor("rope_factors_short.weight")->dims, (std::vector<uint64_t>{24}));
  EXPECT_EQ(p.get_int("phi3.rope.dimension_count"), 48);
  EXPECT_EQ(p.get_int("phi3.rope.scaling.original_context_length"), 256);
  EXPECT_NEAR(*p.get_float_opt("phi3.rope.scaling.attn_factor"), std::sqrt(1 + std::log(4.0) / std::log(256.0)), 1e-6);
  EXPECT_TRUE(p.find_tensor("output.weight"));

  const auto gemma2 = gguf::File::open(synth("tiny-gemma2", TensorType::Q8_0, "gemma2-keys.gguf").string());
  const gguf::Header& g2 = gemma2->header();
  EXPECT_TRUE(g2.find_tensor("blk.0.post_attention_norm.weight"));
  EXPECT_TRUE(g2.find_tensor("blk.0.post_ffw_norm.weight"));
  EXPECT_EQ(g2.find_tensor("output.weight"), nullptr);  // llama.cpp loads gemma2 tied only
  EXPECT_EQ(*g2.get_float_opt("gemma2.attn_logit_softcapping"), 50.0);
  EXPECT_EQ(*g2.get_float_opt("gemma2.final_logit_softcapping"), 30.0);
  EXPECT_EQ(g2.get_int("gemma2.attention.sliding_window"), 8);
  EXPECT_EQ(g2.get_int("gemma2.attention.key_length"), 64);

  const auto gemma3 = gguf::File::open(synth("tiny-gemma3", TensorType::Q8_0, "gemma3-keys.gguf").string());
  const gguf::Header& g3 = gemma3->header();
  EXPECT_TRUE(g3.find_tensor("blk.5.attn_q_norm.weight"));
  EXPECT_TRUE(g3.find_tensor("blk.5.post_ffw_norm.weight"));
  EXPECT_EQ(g3.get_int("gemma3.attention.sliding_window_pattern"), 6);
  EXPECT_EQ(*g3.get_float_opt("gemma3.rope.freq_base_swa"), 10000.0);
  EXPECT_FALSE(g3.get_float_opt("gemma3.attn_logit_softcapping"));

  // Real shapes: their own vocabularies and LongRoPE factors over the whole head.
  EXPECT_EQ(tools::find_shape("gemma-3-1b", 0).vocab_size, 262144);
  EXPECT_EQ(tools::find_shape("gemma-2-2b", 0).sliding_window, 4096);
  const auto phi35 = tools::plan_tensors(tools::find_shape("phi-3.5-mini", 0), TensorType::Q4_K);
  bool long_factors = false;
  for (const auto& t : phi35) long_factors |= t.name == "rope_factors_long.weight" && t.dims == std::vector<uint64_t>{48};
  EXPECT_TRUE(long_factors);
  const std::vector<float> shorts = tools::longrope_factors(48, false), longs = tools::longrope_factors(48, true);
  EXPECT_EQ(shorts.front(), 1.0f);
  EXPECT_GT(longs.back(), 30.0f);
}

TEST(Synth, ScaleMultipliesTheWeightSpread) {
  tools::SynthOptions o;
  o.shape = "tiny-llama";
  o.type = TensorType::F32;
  o.seed = 1;
  o.weight_scale = 4;
  const fs::path out = scratch_dir() / "scaled.gguf";
  tools::synthesize_model(o, small_vocab(), out.string());
  const auto file = gguf::File::open(out.string());
  const gguf::TensorInfo& t = *file->header().find_tensor("blk.0.ffn_gate.weight");
  EXPECT_NEAR(decoded_stats(*file, t).std, 4 / std::sqrt(256.0), 0.02);
  const Stats norm = decoded_stats(*file, *file->header().find_tensor("blk.0.attn_norm.weight"));
  EXPECT_NEAR(norm.mean, 1.0, 0.05);  // norms keep their spread
  fs::remove(out);
}

TEST(Synth, Llama3RopeFactors) {
  const tools::ModelSpec spec = tools::find_shape("llama3.2-1b", 0);
  EXPECT_EQ(spec.vocab_size, 128256);
  EXPECT_TRUE(spec.tied_embeddings);
  const auto plan = tools::plan_tensors(spec, TensorType::Q4_0);
  bool has_factors = false;
  for (const auto& t : plan)
    if (t.name == "rope_freqs.weight") has_factors = t.dims == std::vector<uint64_t>{32} && t.type == TensorType::F32;
  EXPECT_TRUE(has_factors);

  const std::vector<float> f = tools::llama3_rope_factors(64, 500000.0);
  ASSERT_EQ(f.size(), 32u);
  EXPECT_EQ(f.front(), 1.0f);  // fast-turning pairs keep their frequency
  EXPECT_EQ(f.back(), 32.0f);  // slow ones are stretched by the full factor
  for (size_t i = 1; i < f.size(); ++i) EXPECT_GE(f[i], f[i - 1]);
  size_t blended = 0;
  for (float x : f) blended += x > 1.0f && x < 32.0f;
  EXPECT_GT(blended, 0u);
}

TEST(Synth, UnknownShapeListsTheKnownOnes) {
  try {
    synth("gpt-5", TensorType::Q4_0, "unknown.gguf");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("gpt-5"), std::string::npos);
    for (const std::string& name : tools::shape_names()) EXPECT_NE(m.find(name), std::string::npos) << name;
  }
}

TEST(Synth, RejectsVocabularyLargerThanTheShape) {
  try {
    synth("tinyllama-1.1b", TensorType::Q4_0, "big-vocab.gguf", 1, 2, 1, small_vocab(32001));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("32001"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tabllm
