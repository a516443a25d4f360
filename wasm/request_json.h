// Turns the JSON parameters a host passes to tabllm_generate_begin into a GenerateRequest. Unknown keys
// and wrong types are errors, so a misspelt parameter never silently falls back to its default.
#pragma once
#include <string>
#include <string_view>

#include "runtime/session.h"

namespace tabllm::wasm {

// `params_json` may be empty (all defaults). Throws Error naming the offending key.
GenerateRequest request_from_json(std::string prompt, std::string_view params_json);

}  // namespace tabllm::wasm
