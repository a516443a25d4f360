// tabllm info: what a GGUF model is, as JSON.
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/args.h"
#include "cli/engine_setup.h"
#include "common/error.h"
#include "model/model.h"

namespace tabllm::cli {

int cmd_info(int argc, char** argv) {
  const Args args(argc, argv, {"m|model"}, {}, "usage: tabllm info -m MODEL");
  const auto model = load_model(args.require("m"));
  const ModelConfig& c = model->config();
  std::map<std::string, int> types;
  uint64_t bytes = 0, params = 0;
  for (const auto& t : model->file().header().tensors) {
    types[type_traits(t.type).name]++;
    bytes += t.n_bytes();
    params += t.n_elements();
  }
  std::string type_list;
  for (const auto& [name, count] : types) type_list += (type_list.empty() ? "" : ", ") + ("\"" + name + "\": " + std::to_string(count));
  const Vocab& v = model->tokenizer().vocab();
  std::printf(
      "{\"name\": \"%s\", \"arch\": \"%s\", \"parameters\": %llu, \"tensor_bytes\": %llu, \"tensor_types\": {%s},\n"
      " \"vocab\": %lld, \"dim\": %lld, \"layers\": %lld, \"heads\": %lld, \"kv_heads\": %lld, \"head_dim\": %lld, "
      "\"ffn\": %lld, \"context\": %lld, \"rope_base\": %g, \"tokenizer\": \"%s\", \"bos\": %d, \"eos\": %d}\n",
      c.name.c_str(), c.arch.c_str(), static_cast<unsigned long long>(params), static_cast<unsigned long long>(bytes), type_list.c_str(),
      static_cast<long long>(c.n_vocab), static_cast<long long>(c.dim), static_cast<long long>(c.n_layers),
      static_cast<long long>(c.n_heads), static_cast<long long>(c.n_kv_heads), static_cast<long long>(c.head_dim),
      static_cast<long long>(c.ffn_dim), static_cast<long long>(c.context_length), c.rope_base,
      v.model == Vocab::Model::SentencePiece ? "sentencepiece"
      : v.model == Vocab::Model::WordPiece   ? "wordpiece"
                                             : ("bpe/" + v.pre).c_str(),
      v.bos, v.eos);
  return 0;
}

}  // namespace tabllm::cli
