// Per-tensor type mixes like llama-quantize's (Q4_K_M), applied on top of a plan's single weight type.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "convert/model_spec.h"

namespace tabllm::tools {

enum class WeightMix { Q4_K_M };

// "q4_k_m" (any case) → the mix; nullopt for anything else (a plain type name).
std::optional<WeightMix> parse_weight_mix(const std::string& name);
const char* weight_mix_name(WeightMix mix);
// The type most matrices of the mix get (the plan is made with it first).
TensorType weight_mix_base_type(WeightMix mix);
// general.file_type of the mix as llama.cpp numbers it (LLAMA_FTYPE_MOSTLY_Q4_K_M = 15).
uint32_t weight_mix_file_type(WeightMix mix);

// Re-types the plan's matrices as llama-quantize does for the mix, without an importance matrix:
//   Q4_K_M: q4_k everywhere except q6_k for the output matrix (the embedding when it is tied), attn_v and
//   ffn_down in the first and last eighth of the layers and every third layer between, q5_k for fused
//   attn_qkv; a matrix whose rows are not whole 256-blocks falls back as storage_type says (q6_k → q8_0,
//   q5_k → q5_1, q4_k → q5_0), and the output matrix then always takes q8_0.
void apply_weight_mix(WeightMix mix, const ModelSpec& spec, std::vector<TensorPlan>& plan);

}  // namespace tabllm::tools
