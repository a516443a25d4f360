#include "report_json.h"

#include <map>
#include <nlohmann/json.hpp>

#include "backend/cpu/kernels.h"

namespace tabllm::wasm {

namespace {

using nlohmann::json;

// Text from a model file or a model's output may hold invalid UTF-8; it is replaced (U+FFFD) rather than
// making the dump throw.
std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string model_info_json(const Model& model) {
  const ModelConfig& c = model.config();
  std::map<std::string, int> types;
  uint64_t bytes = 0, params = 0;
  for (const auto& t : model.file().header().tensors) {
    types[type_traits(t.type).name]++;
    bytes += t.n_bytes();
    params += t.n_elements();
  }
  const Vocab& v = model.tokenizer().vocab();
  const json info = {
      {"name", c.name},
      {"arch", c.arch},
      {"parameters", params},
      {"tensor_bytes", bytes},
      {"tensor_types", types},
      {"vocab", c.n_vocab},
      {"dim", c.dim},
      {"layers", c.n_layers},
      {"heads", c.n_heads},
      {"kv_heads", c.n_kv_heads},
      {"head_dim", c.head_dim},
      {"ffn", c.ffn_dim},
      {"context", c.context_length},
      {"tokenizer", v.model == Vocab::Model::SentencePiece ? "sentencepiece" : "bpe/" + v.pre},
      {"bos", v.bos},
      {"eos", v.eos},
  };
  return dump(info);
}

std::string result_json(const GenerateResult& r) {
  const Timings& t = r.timings;
  const json out = {
      {"text", r.text},
      {"finish_reason", finish_reason_name(r.finish)},
      {"prompt_tokens", t.prompt_tokens},
      {"prompt_tokens_reused", t.prompt_tokens_reused},
      {"generated_tokens", t.generated_tokens},
      {"ttft_ms", t.ttft_ms},
      {"prefill_ms", t.prefill_ms},
      {"decode_ms", t.decode_ms},
      {"prefill_tokens_per_s", t.prefill_tokens_per_s()},
      {"decode_tokens_per_s", t.decode_tokens_per_s()},
  };
  return dump(out);
}

std::string token_ids_json(const std::vector<int32_t>& ids) { return json(ids).dump(); }

std::string build_info_json() {
#ifdef __EMSCRIPTEN_PTHREADS__
  const bool threads = true;
#else
  const bool threads = false;
#endif
  return dump({{"simd", cpu::simd_level()}, {"threads", threads}});
}

}  // namespace tabllm::wasm
