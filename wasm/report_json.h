// What the C ABI reports to hosts, as JSON: the model, a finished generation, token ids, the build.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/session.h"

namespace tabllm::wasm {

// `has_weights`: false for a model opened from its header only (its weights live on a GPU).
std::string model_info_json(const gguf::Header& header, const ModelConfig& config, const Tokenizer& tokenizer, bool has_weights);
// Adds "tokens" and, when the request asked for them, "logprobs" (see token_logprobs_json); with `paged`
// (a session with a kvBudget), "kv_pages" and "warnings".
std::string result_json(const GenerateResult& result, const Tokenizer& tokenizer, bool paged = false);
// The last `count` generated tokens: [{"id", "bytes", "logprob"?, "top_logprobs"?: [{"id", "bytes", "logprob"}]}].
std::string last_tokens_json(const GenerateResult& result, size_t count, const Tokenizer& tokenizer);
std::string token_ids_json(const std::vector<int32_t>& ids);
std::string build_info_json();

}  // namespace tabllm::wasm
