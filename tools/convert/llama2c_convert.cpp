#include "convert/llama2c_convert.h"

#include <filesystem>
#include <map>

#include "common/error.h"
#include "convert/llama2c_checkpoint.h"
#include "convert/llama2c_tokenizer.h"
#include "convert/row_encoding.h"
#include "quant/quantize.h"

namespace tabllm::tools {
namespace {

using Weight = Llama2cCheckpoint::Weight;

// GGUF tensor kinds and the llama2.c weights they come from. The rows of wq and wk go in unpermuted:
// llama2.c rotates pairs (2i, 2i+1), the pairing GGUF "llama" files use.
const std::map<std::string, Weight> kWeightOfKind = {
    {"token_embd.weight", Weight::TokenEmbedding}, {"attn_norm.weight", Weight::AttnNorm},
    {"attn_q.weight", Weight::Wq},                 {"attn_k.weight", Weight::Wk},
    {"attn_v.weight", Weight::Wv},                 {"attn_output.weight", Weight::Wo},
    {"ffn_norm.weight", Weight::FfnNorm},          {"ffn_gate.weight", Weight::W1},
    {"ffn_down.weight", Weight::W2},               {"ffn_up.weight", Weight::W3},
    {"output_norm.weight", Weight::FinalNorm},     {"output.weight", Weight::Classifier},
};

struct ProducerContext {
  Llama2cCheckpoint* checkpoint;
  const std::vector<TensorPlan>* plan;
  int n_threads;
};

void produce_tensor(void* ctx_ptr, size_t index, std::vector<uint8_t>& out) {
  auto& ctx = *static_cast<ProducerContext*>(ctx_ptr);
  const TensorPlan& t = (*ctx.plan)[index];
  const std::vector<float> values = ctx.checkpoint->read(kWeightOfKind.at(t.kind), t.layer);
  const uint64_t row_length = t.dims[0];
  const uint64_t rows = values.size() / row_length;
  out.resize(type_row_bytes(t.type, values.size()));
  encode_rows(t.type, values.data(), rows, row_length, out.data(), ctx.n_threads);
}

}  // namespace

ModelSpec convert_llama2c(const std::string& checkpoint_path, const std::string& tokenizer_path,
                          const std::string& out_path, TensorType type, int n_threads, int64_t context) {
  if (!can_quantize(type))
    throw Error(std::string("cannot convert to ") + type_traits(type).name + " (no quantizer for it): use " +
                supported_type_names());
  Llama2cCheckpoint checkpoint(checkpoint_path);
  const Llama2cConfig& c = checkpoint.config();
  const Vocab vocab = read_llama2c_tokenizer(tokenizer_path, c.vocab_size);

  ModelSpec spec;
  spec.arch = "llama";
  spec.name = std::filesystem::path(checkpoint_path).stem().string();
  spec.vocab_size = c.vocab_size;
  spec.dim = c.dim;
  spec.n_layers = c.n_layers;
  spec.n_heads = c.n_heads;
  spec.n_kv_heads = c.n_kv_heads;
  spec.ffn_dim = c.hidden_dim;
  spec.context_length = context > 0 ? context : c.seq_len;
  spec.norm_eps = 1e-5f;
  spec.rope_base = 10000.0f;
  spec.tied_embeddings = c.shared_classifier;

  gguf::Writer writer;
  write_hyperparameters(writer, spec, type);
  vocab.write_gguf_metadata(writer);
  const std::vector<TensorPlan> plan = plan_tensors(spec, type);
  for (const TensorPlan& t : plan) writer.declare_tensor(t.name, t.dims, t.type);
  ProducerContext ctx{&checkpoint, &plan, n_threads};
  writer.write_file(out_path, produce_tensor, &ctx);
  return spec;
}

}  // namespace tabllm::tools
