// Tensor element types as numbered in GGUF files, with their block geometry.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tabllm {

// Every type id ggml defines (gaps are ids ggml retired).
enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
};

struct TypeTraits {
  const char* name;
  uint32_t block_size;  // elements per block (1 for plain numbers)
  uint32_t type_size;   // bytes per block
  bool supported;       // tabllm can compute with it
};

// Traits of a GGUF type id; unknown ids get {"unknown", 0, 0, false}.
TypeTraits type_traits(TensorType type);
inline TypeTraits type_traits(uint32_t id) { return type_traits(static_cast<TensorType>(id)); }

// The types tabllm computes with, in a stable order (floats, then 32-blocks, then 256-blocks).
const std::vector<TensorType>& supported_types();
// Their names joined by ", " (for error messages).
std::string supported_type_names();

// Bytes needed for `n_elements` of `type` (n_elements must be a multiple of the block size).
size_t type_row_bytes(TensorType type, uint64_t n_elements);

// "q4_0" / "Q4_0" / "f16" → a supported type; throws tabllm::Error naming the accepted names otherwise.
TensorType parse_type_name(const std::string& name);

}  // namespace tabllm
