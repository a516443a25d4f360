// Turns the JSON parameters a host passes (tabllm_request_create, tabllm_generate_begin) into a
// GenerateRequest. Unknown keys and wrong types are errors naming the key (ParamError), so a misspelt
// parameter never silently falls back to its default.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include "grammar/output_format.h"
#include "runtime/session.h"

namespace tabllm::wasm {

// Applies `params_json` (may be empty: nothing changes) over `request`. The sampling settings are checked
// with OpenAI's ranges and words (temperature in [0, 2], at most 4 stop strings, logit_bias ids below
// `n_vocab` and biases in [-100, 100], ...), so hosts pass them through unchecked. A `response_format` is
// read into `format` (left empty for {"type": "text"}); the caller compiles it and gives each start its
// constraint. Throws ParamError naming the offending key.
void apply_params_json(std::string_view params_json, int64_t n_vocab, GenerateRequest& request,
                       std::optional<grammar::OutputFormat>& format);

}  // namespace tabllm::wasm
