#include "quant/types.h"

#include <algorithm>
#include <cctype>

#include "common/error.h"

namespace tabllm {

TypeTraits type_traits(TensorType type) {
  switch (type) {
    case TensorType::F32: return {"f32", 1, 4, true};
    case TensorType::F16: return {"f16", 1, 2, true};
    case TensorType::BF16: return {"bf16", 1, 2, true};
    case TensorType::Q4_0: return {"q4_0", 32, 18, true};
    case TensorType::Q4_1: return {"q4_1", 32, 20, true};
    case TensorType::Q5_0: return {"q5_0", 32, 22, true};
    case TensorType::Q5_1: return {"q5_1", 32, 24, true};
    case TensorType::Q8_0: return {"q8_0", 32, 34, true};
    case TensorType::Q8_1: return {"q8_1", 32, 36, false};
    case TensorType::Q2_K: return {"q2_k", 256, 84, false};
    case TensorType::Q3_K: return {"q3_k", 256, 110, false};
    case TensorType::Q4_K: return {"q4_k", 256, 144, true};
    case TensorType::Q5_K: return {"q5_k", 256, 176, true};
    case TensorType::Q6_K: return {"q6_k", 256, 210, true};
    case TensorType::Q8_K: return {"q8_k", 256, 292, false};
  }
  return {"unknown", 0, 0, false};
}

size_t type_row_bytes(TensorType type, uint64_t n_elements) {
  const TypeTraits t = type_traits(type);
  return static_cast<size_t>(n_elements / t.block_size) * t.type_size;
}

TensorType parse_type_name(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1,
                       TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q5_K,
                       TensorType::Q6_K}) {
    if (lower == type_traits(t).name) return t;
  }
  throw Error("unknown tensor type '" + name + "': use one of f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q5_k, q6_k");
}

}  // namespace tabllm
