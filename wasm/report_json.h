// What the C ABI reports to hosts, as JSON: the model, a finished generation, token ids, the build.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/session.h"

namespace tabllm::wasm {

std::string model_info_json(const Model& model);
std::string result_json(const GenerateResult& result);
std::string token_ids_json(const std::vector<int32_t>& ids);
std::string build_info_json();

}  // namespace tabllm::wasm
