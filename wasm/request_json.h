// Turns the JSON parameters a host passes to tabllm_generate_begin into a GenerateRequest. Unknown keys
// and wrong types are errors, so a misspelt parameter never silently falls back to its default.
#pragma once
#include <string>
#include <string_view>

#include "grammar/output_format.h"
#include "runtime/session.h"

namespace tabllm::wasm {

// `params_json` may be empty (all defaults). Throws Error naming the offending key. A `response_format`
// becomes the request's constraint, made by `formats` (which may be null when the host offers none).
GenerateRequest request_from_json(std::string prompt, std::string_view params_json, grammar::ConstraintFactory* formats = nullptr);

}  // namespace tabllm::wasm
