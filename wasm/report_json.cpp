#include "report_json.h"

#include <algorithm>
#include <array>
#include <map>
#include <nlohmann/json.hpp>

#include "backend/cpu/kernels.h"

namespace tabllm::wasm {

namespace {

using nlohmann::json;

// Text from a model file or a model's output may hold invalid UTF-8; it is replaced (U+FFFD) rather than
// making the dump throw.
std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// A token's bytes as numbers: they may be part of a UTF-8 character, so they cannot always be a string.
json bytes_of(const Tokenizer& tokenizer, int32_t id) {
  json out = json::array();
  for (const char c : tokenizer.token_bytes(id)) out.push_back(static_cast<unsigned char>(c));
  return out;
}

// The text of a special token as a template writes it ("<s>", "<|endoftext|>"); "" when there is none.
std::string token_text(const Vocab& v, int32_t id) { return id >= 0 && static_cast<size_t>(id) < v.tokens.size() ? v.tokens[static_cast<size_t>(id)] : ""; }

json token_json(const Tokenizer& tokenizer, int32_t id, float logprob) {
  return {{"id", id}, {"bytes", bytes_of(tokenizer, id)}, {"logprob", logprob}};
}

json tokens_json(const GenerateResult& r, size_t first, const Tokenizer& tokenizer) {
  json out = json::array();
  for (size_t i = first; i < r.tokens.size(); ++i) {
    json t = {{"id", r.tokens[i]}, {"bytes", bytes_of(tokenizer, r.tokens[i])}};
    if (i < r.logprobs.size()) {
      t["logprob"] = r.logprobs[i].logprob;
      json top = json::array();
      for (const auto& [id, lp] : r.logprobs[i].top) top.push_back(token_json(tokenizer, id, lp));
      t["top_logprobs"] = std::move(top);
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

std::string model_info_json(const gguf::Header& header, const ModelConfig& c, const Tokenizer& tokenizer, bool has_weights) {
  std::map<std::string, int> types;
  uint64_t bytes = 0, params = 0;
  for (const auto& t : header.tensors) {
    types[type_traits(t.type).name]++;
    bytes += t.n_bytes();
    params += t.n_elements();
  }
  const Vocab& v = tokenizer.vocab();
  const json info = {
      {"name", c.name},
      {"arch", c.arch},
      {"kind", c.is_embedding() ? "embedding" : "chat"},
      {"pooling", std::array<const char*, 4>{"none", "mean", "cls", "last"}[static_cast<size_t>(c.pooling)]},
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
      {"tokenizer", v.model == Vocab::Model::SentencePiece ? "sentencepiece" : v.model == Vocab::Model::WordPiece ? "wordpiece" : "bpe/" + v.pre},
      {"bos", v.bos},
      {"eos", v.eos},
      {"eot", v.eot},
      {"add_bos", v.add_bos},
      {"bos_token", token_text(v, v.bos)},
      {"eos_token", token_text(v, v.eos)},
      {"chat_template", v.chat_template},
      {"weights", has_weights},
  };
  return dump(info);
}

std::string result_json(const GenerateResult& r, const Tokenizer& tokenizer, bool paged) {
  const Timings& t = r.timings;
  json out = {
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
      {"truncated_prompt_tokens", r.truncated_prompt_tokens},
      {"context_shifts", r.context_shifts},
      {"tokens", tokens_json(r, 0, tokenizer)},
  };
  if (r.speculative.method != SpeculativeMethod::Off) {
    const SpeculativeStats& s = r.speculative;
    out["speculative"] = {{"method", speculative_method_name(s.method)}, {"drafted", s.drafted}, {"accepted", s.accepted},
                          {"acceptance_rate", s.acceptance_rate()}, {"forward_passes", s.forward_passes}, {"draft_passes", s.draft_passes}};
  }
  if (paged) {
    const KvPagerStats& p = r.kv_pages;
    out["kv_pages"] = {{"pages_out", p.pages_out}, {"pages_in", p.pages_in}, {"bytes_out", p.bytes_out}, {"bytes_in", p.bytes_in},
                       {"page_out_ms", p.page_out_ms}, {"rehydrate_ms", p.rehydrate_ms}, {"failures", p.failures}};
    out["warnings"] = r.warnings;
  }
  return dump(out);
}

std::string last_tokens_json(const GenerateResult& r, size_t count, const Tokenizer& tokenizer) {
  return dump(tokens_json(r, r.tokens.size() - std::min(count, r.tokens.size()), tokenizer));
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
