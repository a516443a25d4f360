// The WebGPU plan: everything the JavaScript executor needs to run a model, decided once by the core.
//
//   buffers    GPU buffers with their byte sizes, what fills them (byte ranges of the GGUF file, or ranges
//              of the plan's blob: kernel parameters, the RoPE table) — weights keep their GGUF block layout
//   pipelines  composed WGSL modules (kernels.h) with their bind group layouts
//   decode     the ordered dispatch list for one token, with bindings and workgroup counts
//   prefill    the same for a batch of up to max_batch tokens (matrix-matrix kernels, tiled attention)
//   verify     with verify_batch > 0: the same for up to verify_batch tokens, with the output head over every
//              token (logits rows [token][n_vocab]) and the argmax of each row into result[token] — speculative
//              decoding verifies k + 1 positions in one call (docs/speculative.md); its products read each
//              weight block once for all the tokens (the row kernel with TOK = verify_batch)
//   shift      a context shift of the KV cache (backend.h KvShift): one dispatch per layer; the host writes
//              [keep, discard, end, 0] to the shift buffer and runs it when the core says so
//              (tabllm_generate_pending_shift), before the next forward call
//   kv_type    the KV cache's element type (kv_<type>.wgsl): f16 (the default), q8_0 or f32, as on the CPU
//              (core/backend/cpu/kv_cache.h), values rounded as the CPU rounds them
//
// Per forward call the host writes the step buffer ([n_tokens, pos, chained, 0, token ids]; chained = 1:
// the single token is the one the previous step sampled, read from the result buffer), encodes the list in
// one compute pass, submits once and reads back the result buffer: the top-k (index, value) pairs of the
// last token's logits (k = 1: greedy). Nothing is created per token: a dispatch's token-axis workgroup
// count is ceil(n_tokens / token_tile) when token_tile > 0, its fixed count otherwise.
//
// A list ends with its sampling: `sample` or `sample_masked`, of which a call runs one, then
// `sample_merge`. `sample_masked` picks among the tokens whose bit is set in the mask buffer (n_vocab bits
// in u32 words, bit id % 32 of word id / 32; the host writes it per step under structured output).
// Everything before them is the forward pass, which the host may also submit alone and sample later.
//
// Tensors larger than the device's maxStorageBufferBindingSize are split by rows into parts, each bound
// separately (one dispatch per part). A model that cannot fit the limits is refused by build_model_plan
// before anything is uploaded, with what it needs and what the device allows.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "model/config.h"

namespace tabllm {
class Model;
}

namespace tabllm::webgpu {

// What the adapter allows (GPUSupportedLimits), as the host reports it. Tests lower them to force splits.
struct DeviceLimits {
  uint64_t max_storage_buffer_binding_size = 128ull << 20;
  uint64_t max_buffer_size = 256ull << 20;
  uint32_t max_storage_buffers_per_shader_stage = 8;
  uint32_t max_compute_workgroups_per_dimension = 65535;
  uint32_t min_storage_buffer_offset_alignment = 256;
  uint32_t min_uniform_buffer_offset_alignment = 256;
  uint32_t max_compute_workgroup_storage_size = 16384;
};

struct PlanOptions {
  DeviceLimits limits;
  int64_t context_size = 0;  // positions in the KV cache; 0: the model's, at most 4096
  int64_t max_batch = 512;   // tokens per prefill forward call (at most the context)
  int verify_batch = 0;      // tokens per verify call, in [0, 16] (0: no verify list)
  int verify_rows = 16;      // rows per workgroup of its products (a power of two up to 64; the row kernel takes up to 4 when 9 tokens fill them)
  int top_k = 1;             // candidates read back per step (1: greedy)
  int tok_tile = 64;         // tokens per workgroup in prefill matrix products (64: matmul_tiled)
  int attn_tile = 4;         // queries per workgroup in prefill attention
  int attn_splits = 32;      // slices of the cache in decode attention (0: one workgroup per head)
  int attn_min_slice = 16;   // positions a slice takes at least (short contexts fill fewer slices)
  bool fuse_qkv_post = true; // decode attention over slices also does qkv_post's work (one dispatch less a layer)
  int matvec_wg = 128;       // threads per workgroup in one-token matrix products
  int matvec_rows = 16;      // rows of weights a workgroup of a one-token product reads (1, 2, 4, 8 or 16; a gated
                             // row reads two; `matmul` takes 8 rows at most), at most:
  int64_t matvec_min_groups = 768;  // halved while a product would have fewer workgroups than this
  bool subgroups = false;    // the device has the `subgroups` feature: row-kernel reductions use subgroupAdd
  bool matvec_blocks = true; // one-token products of Q4_0, Q8_0, Q4_K, Q5_K, Q6_K weights run matvec.wgsl (whole blocks)
  bool matvec_pairs = true;  // those of Q4_K, Q5_K take units in pairs, reading their shared words once (PAIRS)
  bool matvec_tokens = true; // the verify list's products of those types run matvec.wgsl too, all its tokens at once (TOKENS)
  int64_t matvec_min_units = -1;  // on rows of at least this many 32-value units (-1: 32 with dot8, else matvec_wg)
  bool dot8 = false;         // WGSL has packed_4x8_integer_dot_product: those products take x as 8-bit integers
  std::string kv_type = "f16";  // the KV cache's element type: f16, q8_0 (rows of a multiple of 32) or f32
};

// Parses {"limits": {"maxStorageBufferBindingSize": ..., ...}, "context_size": ..., "max_batch": ..., "verify_batch": ...,
// "top_k": ..., "subgroups": true, "dot8": true, "kv_type": "f16"}; unknown keys are errors.
PlanOptions parse_plan_options(const std::string& json);

// Bytes of one position's key (or value) row of one layer in the GPU's KV cache of `type` (kv_<type>.wgsl:
// q8_0 keeps its blocks as 9 words, where the CPU's take 34 bytes). Throws Error for a type the rows do not fit.
uint64_t kv_row_bytes(const std::string& type, int64_t kv_dim);

struct Upload {          // bytes of the GGUF file copied into a buffer
  uint64_t file_offset;  // absolute offset in the file
  uint64_t size;
  uint64_t buffer_offset;
};
struct Fill {            // bytes of the plan's blob copied into a buffer
  uint64_t blob_offset;
  uint64_t size;
  uint64_t buffer_offset;
};

struct BufferDesc {
  std::string name;
  std::string role;  // weights, activation, kv, params, step, result
  uint64_t size = 0;
  std::vector<Upload> uploads;
  std::vector<Fill> fills;
};

struct LayoutEntry {
  uint32_t binding;
  std::string type;  // "uniform", "read-only-storage", "storage" (GPUBufferBindingType)
};

struct PipelineDesc {
  std::string key;
  std::string code;
  std::vector<LayoutEntry> layout;
};

struct Binding {
  uint32_t binding;
  uint32_t buffer;
  uint64_t offset;
  uint64_t size;
};

struct Dispatch {
  std::string label;
  uint32_t pipeline = 0;
  std::vector<Binding> bindings;
  uint32_t groups[3] = {1, 1, 1};
  uint32_t token_tile = 0;  // > 0: groups[2] = ceil(n_tokens / token_tile)
};

struct Plan {
  std::string kind;  // "model" or the op name
  std::vector<BufferDesc> buffers;
  std::vector<PipelineDesc> pipelines;
  std::vector<Dispatch> decode;
  std::vector<Dispatch> prefill;
  std::vector<Dispatch> verify;
  std::vector<Dispatch> shift;
  std::vector<uint8_t> blob;
  int64_t max_batch = 1;
  int64_t verify_batch = 0;  // tokens a verify call takes (0: no verify list)
  int64_t context_size = 0;
  int64_t n_vocab = 0;
  int top_k = 1;
  int step_buffer = -1;
  int result_buffer = -1;
  int logits_buffer = -1;
  int mask_buffer = -1;
  int shift_buffer = -1;
  int seqs_buffer = -1;  // encoders: where each token's input lies (encoder_plan.h)
  uint64_t weight_bytes = 0;  // uploaded from the file
  uint64_t total_bytes = 0;   // all buffers
  std::string kv_type;              // the KV cache's element type (model plans)
  uint64_t kv_bytes_per_token = 0;  // KV cache bytes one position takes, keys and values of every layer
  uint64_t kv_row_bytes = 0;        // one position's key (or value) row of one layer
  // Per layer where its keys and its values lie: {key buffer, byte offset, value buffer, byte offset}; a
  // position's row at offset + position * kv_row_bytes (the host copies rows: KV pages, docs/long-context.md).
  std::vector<std::array<uint64_t, 4>> kv_rows;

  int buffer_index(const std::string& name) const;  // -1 when absent
  std::string to_json() const;
};

// RoPE (cos, sin) pairs for positions [0, positions) and rope_dims / 2 frequencies, from the same
// functions as the CPU forward pass (ops/rope.h; factors: Llama 3's rope_freqs, LongRoPE's long or short
// factors, or null; attn_factor: LongRoPE's scale of cos and sin, 1 elsewhere). Layout
// [position][pair][cos, sin].
std::vector<float> rope_table(int64_t positions, int64_t rope_dims, float base, const float* factors, float linear_scale,
                              float attn_factor);

// The plan of a model from its GGUF header. `prefix` holds the first bytes of the file; it must cover the
// header and, when the model has them, the small RoPE factor tensors (rope_freqs, rope_factors_long/short;
// see prefix_bytes_needed).
Plan build_model_plan(const uint8_t* prefix, size_t prefix_size, const PlanOptions& options);
// The same from a header parsed already (a host that keeps it parses it once per load).
Plan build_model_plan(const gguf::Header& header, const uint8_t* prefix, size_t prefix_size, const PlanOptions& options);
Plan build_model_plan(const Model& model, const PlanOptions& options);

// How many leading bytes of the file build_model_plan needs, or std::nullopt when `prefix` does not yet
// hold the whole header (pass more).
std::optional<uint64_t> prefix_bytes_needed(const uint8_t* prefix, size_t prefix_size);
uint64_t prefix_bytes_needed(const gguf::Header& header);

// A plan running one kernel on named buffers, for per-op parity tests. `spec_json` names the op and shapes:
//   {"op": "matmul", "types": ["q4_0"], "rows": [R] (one per weight), "cols": C, "n_tokens": N,
//    "flags": ["NORM", "RESIDUAL", "GATED", "GELU", "MULTI", "SOFTCAP"], "tok": 8, "last_only": false, "eps": 1e-5,
//    "soft_cap": 30}
//   {"op": "embed", "type": T, "rows": R, "cols": C, "n_tokens": N, "scale": 1}
//   {"op": "qkv_post", "n_heads", "n_kv_heads", "head_dim", "rope_dims", "halves", "n_tokens", "context",
//    "flags": ["BIAS", "QKNORM"], "eps", "kv_type" ("f32")}
//   {"op": "attention", "n_heads", "n_kv_heads", "head_dim", "n_tokens", "context", "tq", "splits",
//    "scale" (1/sqrt(head_dim)), "soft_cap" (0), "window" (0), "kv_type" ("f32")}
//   {"op": "norm_add", "dim", "n_tokens", "eps"}      (x += rmsnorm(y) * g)
//   {"op": "sample", "n", "k"}                        (with a mask buffer: the three sampling dispatches)
// Its dispatch (a sample op's three) is in `decode` (and `prefill`); buffers are named after the kernel's
// inputs/outputs (the caches k and v hold context positions in the layout of kv_<kv_type>.wgsl).
Plan build_op_plan(const std::string& spec_json);

}  // namespace tabllm::webgpu
