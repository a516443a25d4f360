#include "synth/synthesize.h"

#include <cmath>
#include <cstring>

#include "common/error.h"
#include "convert/row_encoding.h"
#include "quant/quantize.h"
#include "synth/model_shapes.h"
#include "synth/random_weights.h"

namespace tabllm::tools {
namespace {

// Spread of the vectors: norm weights near 1 and small biases, as in trained models.
constexpr float kNormSpread = 0.1f;
constexpr float kBiasSpread = 0.1f;

struct SynthContext {
  const SynthOptions* options;
  const ModelSpec* spec;
  const std::vector<TensorPlan>* plan;
};

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

void produce_vector(const SynthContext& ctx, const TensorPlan& t, std::vector<uint8_t>& out) {
  std::vector<float> values;
  if (t.kind == "rope_freqs.weight") {
    values = llama3_rope_factors(ctx.spec->head_size(), ctx.spec->rope_base, ctx.spec->llama3_rope_factor);
  } else if (t.kind == "rope_factors_long.weight" || t.kind == "rope_factors_short.weight") {
    values = longrope_factors(static_cast<int64_t>(t.dims[0]), t.kind == "rope_factors_long.weight");
  } else {
    values.resize(t.dims[0]);
    SplitMix64 rng = row_generator(ctx.options->seed, t.name, 0);
    const bool bias = ends_with(t.kind, ".bias");
    fill_bell(rng, bias ? 0.0f : 1.0f, bias ? kBiasSpread : kNormSpread, values.data(), static_cast<int64_t>(values.size()));
  }
  out.resize(values.size() * sizeof(float));
  std::memcpy(out.data(), values.data(), out.size());
}

// Matrices: every row from its own generator, rows spread over threads.
void produce_matrix(const SynthContext& ctx, const TensorPlan& t, std::vector<uint8_t>& out) {
  const uint64_t row_length = t.dims[0], rows = t.dims[1];
  const size_t row_bytes = type_row_bytes(t.type, row_length);
  const float sigma = ctx.options->weight_scale * static_cast<float>(1.0 / std::sqrt(static_cast<double>(row_length)));
  out.resize(row_bytes * rows);
  uint8_t* dst = out.data();
  parallel_for(rows, ctx.options->n_threads, [&](uint64_t begin, uint64_t end) {
    std::vector<float> floats(row_length);
    for (uint64_t r = begin; r < end; ++r) {
      SplitMix64 rng = row_generator(ctx.options->seed, t.name, r);
      fill_bell(rng, 0.0f, sigma, floats.data(), static_cast<int64_t>(row_length));
      quantize_row(t.type, floats.data(), dst + r * row_bytes, static_cast<int64_t>(row_length));
    }
  });
}

void produce_tensor(void* ctx_ptr, size_t index, std::vector<uint8_t>& out) {
  const auto& ctx = *static_cast<const SynthContext*>(ctx_ptr);
  const TensorPlan& t = (*ctx.plan)[index];
  if (t.dims.size() == 1) produce_vector(ctx, t, out);
  else produce_matrix(ctx, t, out);
}

}  // namespace

ModelSpec synthesize_model(const SynthOptions& options, Vocab vocab, const std::string& out_path) {
  const TensorType base = options.mix ? weight_mix_base_type(*options.mix) : options.type;
  if (!can_quantize(base))
    throw Error(std::string("synth cannot produce ") + type_traits(base).name + ": use " + supported_type_names() +
                " or q4_k_m");
  if (vocab.size() == 0) throw Error("the vocabulary is empty: pass a vocab GGUF or a tokenizer.json");
  ModelSpec spec = find_shape(options.shape, static_cast<int64_t>(vocab.size()));
  if (options.layers > 0) spec.n_layers = options.layers;
  if (options.context > 0) spec.context_length = options.context;
  if (options.pooling >= 0) spec.pooling = options.pooling;
  if (static_cast<int64_t>(vocab.size()) > spec.vocab_size)
    throw Error("the vocabulary has " + std::to_string(vocab.size()) + " tokens, more than the " +
                std::to_string(spec.vocab_size) + " rows of " + options.shape +
                "'s embedding: pass that model's own tokenizer (or a smaller one)");
  vocab.pad_to(static_cast<size_t>(spec.vocab_size));

  gguf::Writer writer;
  write_hyperparameters(writer, spec, base);
  if (options.mix) writer.set("general.file_type", gguf::Value::of_u32(weight_mix_file_type(*options.mix)));
  vocab.write_gguf_metadata(writer);
  std::vector<TensorPlan> plan = plan_tensors(spec, base);
  if (options.mix) apply_weight_mix(*options.mix, spec, plan);
  for (const TensorPlan& t : plan) writer.declare_tensor(t.name, t.dims, t.type);
  SynthContext ctx{&options, &spec, &plan};
  writer.write_file(out_path, produce_tensor, &ctx);
  return spec;
}

}  // namespace tabllm::tools
