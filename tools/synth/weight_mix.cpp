#include "synth/weight_mix.h"

#include <algorithm>
#include <cctype>

namespace tabllm::tools {
namespace {

// llama-quantize gives "more bits" to the first and last eighth of the layers and every third between.
bool more_bits_layer(int layer, int n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

}  // namespace

std::optional<WeightMix> parse_weight_mix(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "q4_k_m") return WeightMix::Q4_K_M;
  return std::nullopt;
}

const char* weight_mix_name(WeightMix) { return "q4_k_m"; }
TensorType weight_mix_base_type(WeightMix) { return TensorType::Q4_K; }
uint32_t weight_mix_file_type(WeightMix) { return 15; }

void apply_weight_mix(WeightMix, const ModelSpec& spec, std::vector<TensorPlan>& plan) {
  const bool has_output = std::any_of(plan.begin(), plan.end(), [](const TensorPlan& t) { return t.kind == "output.weight"; });
  const auto n_layers = static_cast<int>(spec.n_layers);
  for (TensorPlan& t : plan) {
    if (t.dims.size() != 2) continue;
    const uint64_t row_length = t.dims[0];
    TensorType wanted = TensorType::Q4_K;
    const bool output = t.kind == "output.weight" || (!has_output && t.kind == "token_embd.weight");
    if (output) {
      t.type = row_length % 256 == 0 ? TensorType::Q6_K : TensorType::Q8_0;
      continue;
    }
    if ((t.kind == "attn_v.weight" || t.kind == "ffn_down.weight") && more_bits_layer(t.layer, n_layers)) {
      wanted = TensorType::Q6_K;
    } else if (t.kind == "attn_qkv.weight") {
      wanted = TensorType::Q5_K;
    }
    t.type = storage_type(wanted, row_length);
  }
}

}  // namespace tabllm::tools
