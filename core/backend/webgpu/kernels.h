// WGSL kernels of the WebGPU backend: the sources (wgsl/*.wgsl, embedded at build time) and the composer
// that turns a kernel name, its variant flags and its weight types into one WGSL module.
//
// A kernel file may contain lines `//#if A|B`, `//#ifnot A`, `//#else`, `//#endif` (nestable) selecting
// variants, and `$NAME` tokens replaced by integer constants (`$WGu` → `64u` when WG = 64). Weight decoders
// (dequant_<type>.wgsl) use `$W` for the storage buffer they read; the composer appends one copy per weight
// binding, renamed to w0, w1, w2. Kernels that touch the KV cache read and write it through a codec
// (kv_<type>.wgsl, after kv_common.wgsl) composed once per cache binding with `$C` renamed to kcache and
// vcache; its store functions only where the kernel writes the cache.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "quant/types.h"

namespace tabllm::webgpu {

struct EmbeddedWgsl {
  const char* name;  // file name without .wgsl
  const char* text;
};
extern const EmbeddedWgsl kEmbeddedWgsl[];
extern const size_t kEmbeddedWgslCount;

// The embedded source of wgsl/NAME.wgsl; throws Error when there is none.
std::string_view wgsl_source(std::string_view name);

// Whether the kernels read weights of this type in place.
bool gpu_weight_type(TensorType type);
// Their names joined by ", " (for error messages).
std::string gpu_weight_type_names();

// Whether the one-token `matvec` kernel has a whole-unit decoder (matvec_<type>.wgsl) for this type.
bool matvec_weight_type(TensorType type);
// Types whose matvec decoder reads units 2p and 2p + 1 together (wN_pair): their units share words.
bool matvec_pair_decoder(TensorType type);

struct KernelSpec {
  std::string kernel;                  // matmul, matvec, embed, qkv_post, attention, sample, kv_shift
  std::vector<std::string> flags;      // variant flags: NORM, RESIDUAL, GATED, MULTI, BIAS, QKNORM, MASK
  std::vector<TensorType> weights;     // one decoder per weight binding w0, w1, ...
  std::map<std::string, int64_t> constants;  // WG, TOK, TQ, HD, S, UNIT
  std::string kv{};                    // the KV cache's type (f32, f16, q8_0) when it touches the cache
  // A stable name for the pipeline: kernel, flags, weight types and constants.
  std::string key() const;
};

// Values a KV cache codec stores together (one thread writes them): 1 for f32, 2 for f16, 32 for q8_0.
int64_t kv_group(std::string_view kv_type);

// The complete WGSL module of a kernel variant.
std::string compose_kernel(const KernelSpec& spec);

}  // namespace tabllm::webgpu
