// The plan builder shared by the decoder plan (plan.cpp) and the embedding plan (encoder_plan.cpp): buffers,
// weight arenas split at the device's binding limit, one uniform slot of parameters per dispatch, composed
// pipelines, and the matrix products (matmul / matmul_tiled) as dispatches.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "backend/webgpu/kernels.h"
#include "backend/webgpu/plan.h"
#include "common/error.h"

namespace tabllm::webgpu::detail {

constexpr uint32_t kWG = 64;              // threads per workgroup of matmul, embed, attention
constexpr uint64_t kParamSlot = 256;      // bytes of kernel parameters per dispatch (one uniform binding)
constexpr int kTiledTokens = 64;          // tokens (and rows) per workgroup of matmul_tiled

inline uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }

struct Range {
  uint32_t buffer = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
};

// A weight matrix on the GPU: row ranges, each within one binding.
struct MatrixPart {
  Range range;
  int64_t row_first;
  int64_t rows;
};
struct Matrix {
  std::string name;
  TensorType type = TensorType::F32;
  int64_t rows = 0, cols = 0;
  uint64_t row_bytes = 0;
  std::vector<MatrixPart> parts;
};

// The bind group layout of a kernel variant of the decoder's kernels.
std::vector<LayoutEntry> layout_for(const KernelSpec& s);

class Builder {
 public:
  explicit Builder(const DeviceLimits& limits) : limits_(limits) {
    if (limits_.max_storage_buffer_binding_size < 256 || limits_.max_buffer_size < 256)
      throw Error("device limits too small: maxStorageBufferBindingSize and maxBufferSize must be at least 256 bytes");
    align_ = std::max<uint64_t>({limits_.min_storage_buffer_offset_alignment, limits_.min_uniform_buffer_offset_alignment, 16});
    if (kParamSlot % align_ != 0) throw Error("minUniformBufferOffsetAlignment above 256 is not supported");
  }

  Plan plan;
  int matvec_wg = kWG;  // threads per workgroup of one-token matrix products
  int matvec_rows = 1;  // and the output rows each computes, at most:
  int64_t matvec_min_groups = 0;  // fewer while a product would have fewer workgroups than this
  bool subgroups = false;
  int attn_min_slice = 1;  // positions a slice of decode attention takes at least
  bool dot8 = false;  // matvec.wgsl over x as 8-bit integers (DOT8)
  bool matvec_blocks = false;  // one-token products of the types matvec.wgsl decodes run it,
  bool matvec_pairs = false;  // those of types with a pair decoder over pairs of units (PAIRS),
  bool matvec_tokens = false;  // several-token products with several rows a workgroup run matvec.wgsl (TOKENS),
  int64_t matvec_min_units = 0;  // on rows of at least this many 32-value units

  const DeviceLimits& limits() const { return limits_; }
  uint64_t binding_limit() const { return std::min(limits_.max_storage_buffer_binding_size, limits_.max_buffer_size) / 4 * 4; }

  uint32_t add_buffer(const std::string& name, const std::string& role, uint64_t size) {
    size = align_up(std::max<uint64_t>(size, 16), 16);
    if (size > limits_.max_buffer_size)
      throw Error("the " + name + " buffer needs " + std::to_string(size) + " bytes; this device allows buffers of " +
                  std::to_string(limits_.max_buffer_size) + " (maxBufferSize)");
    plan.buffers.push_back(BufferDesc{name, role, size, {}, {}});
    return static_cast<uint32_t>(plan.buffers.size() - 1);
  }

  // A buffer the kernels bind whole: also within the binding limit.
  Range bound_buffer(const std::string& name, const std::string& role, uint64_t size) {
    if (size > binding_limit())
      throw Error("the " + name + " buffer needs a binding of " + std::to_string(size) + " bytes; this device allows " +
                  std::to_string(binding_limit()) + " (maxStorageBufferBindingSize): lower the context size or the batch");
    const uint32_t b = add_buffer(name, role, size);
    return Range{b, 0, plan.buffers[b].size};
  }

  // Reserves `size` bytes in the arena of `role` (weights, kv): buffers of at most maxBufferSize, ranges
  // aligned for binding offsets.
  Range place(const std::string& role, uint64_t size, const std::string& what) {
    size = align_up(size, 4);
    if (size > binding_limit())
      throw Error(what + " needs a binding of " + std::to_string(size) + " bytes; this device allows " + std::to_string(binding_limit()));
    Arena& a = arenas_[role];
    if (a.buffer < 0 || align_up(a.used, align_) + size > limits_.max_buffer_size) {
      a.buffer = static_cast<int>(add_buffer(role + "." + std::to_string(a.count++), role, 16));
      a.used = 0;
    }
    const uint64_t offset = align_up(a.used, align_);
    a.used = offset + size;
    plan.buffers[a.buffer].size = align_up(a.used, 16);
    return Range{static_cast<uint32_t>(a.buffer), offset, size};
  }

  // File bytes [file_offset, +size) into a new weights range.
  Range upload(uint64_t file_offset, uint64_t size, const std::string& what) {
    const Range r = place("weights", size, what);
    plan.buffers[r.buffer].uploads.push_back(Upload{file_offset, size, r.offset});
    plan.weight_bytes += size;
    return r;
  }

  // Several f32 vectors of the file side by side in one weights range (bq | bk | bv, q_norm | k_norm), as the
  // rows of a fused qkv output lie.
  template <class TensorT>
  Range upload_side_by_side(std::initializer_list<const TensorT*> ts, const std::string& what) {
    uint64_t total = 0;
    for (const TensorT* t : ts) total += t->row_bytes();
    const Range r = place("weights", total, what);
    uint64_t at = r.offset;
    for (const TensorT* t : ts) {
      plan.buffers[r.buffer].uploads.push_back(Upload{t->file_offset, t->row_bytes(), at});
      plan.weight_bytes += t->row_bytes();
      at += t->row_bytes();
    }
    return r;
  }

  // Bytes computed by the planner into a new range of the `role` arena (or the given buffer).
  void fill(uint32_t buffer, uint64_t buffer_offset, const void* data, uint64_t size) {
    const uint64_t at = align_up(plan.blob.size(), 4);
    plan.blob.resize(at + size);
    std::memcpy(plan.blob.data() + at, data, size);
    plan.buffers[buffer].fills.push_back(Fill{at, size, buffer_offset});
  }

  // A 2-D weight, split by rows into parts of at most rows_per_part rows (0: as many as a binding holds).
  Matrix matrix(const std::string& name, TensorType type, int64_t rows, int64_t cols, uint64_t file_offset, int64_t rows_per_part = 0) {
    Matrix m{name, type, rows, cols, type_row_bytes(type, static_cast<uint64_t>(cols)), {}};
    if (!gpu_weight_type(type))
      throw Error("tensor " + name + " has type " + type_traits(type).name + ", which the WebGPU backend cannot read (it reads " + gpu_weight_type_names() + ")");
    if (cols % 4 != 0) throw Error("tensor " + name + ": the WebGPU kernels need a multiple of 4 columns, got " + std::to_string(cols));
    const int64_t fit = static_cast<int64_t>(binding_limit() / m.row_bytes);
    if (fit < 1)
      throw Error("a row of " + name + " takes " + std::to_string(m.row_bytes) + " bytes; this device binds at most " + std::to_string(binding_limit()));
    const int64_t per = rows_per_part > 0 ? std::min(rows_per_part, fit) : fit;
    for (int64_t r = 0; r < rows; r += per) {
      const int64_t n = std::min(per, rows - r);
      const uint64_t bytes = m.row_bytes * static_cast<uint64_t>(n);
      const Range range = file_offset == kNoFile ? place("weights", bytes, name) : upload(file_offset + m.row_bytes * static_cast<uint64_t>(r), bytes, name);
      m.parts.push_back(MatrixPart{range, r, n});
    }
    return m;
  }
  static constexpr uint64_t kNoFile = ~0ull;

  // Kernel parameters: one 256-byte slot of the params buffer per dispatch.
  Range params(const std::vector<uint32_t>& words) {
    if (words.size() * 4 > kParamSlot) throw Error("kernel parameters exceed one slot");
    const uint64_t offset = params_.size() * 4;
    params_.resize(params_.size() + kParamSlot / 4, 0);
    std::copy(words.begin(), words.end(), params_.begin() + static_cast<std::ptrdiff_t>(offset / 4));
    return Range{params_buffer_, offset, kParamSlot};
  }
  void set_params_buffer(uint32_t b) { params_buffer_ = b; }

  uint32_t pipeline(const KernelSpec& spec) { return pipeline(spec, layout_for(spec)); }
  // A kernel whose bindings layout_for does not know (the embedding pass's own kernels, encoder_plan.cpp).
  uint32_t pipeline(const KernelSpec& spec, const std::vector<LayoutEntry>& layout) {
    const std::string key = spec.key();
    const auto it = pipelines_.find(key);
    if (it != pipelines_.end()) return it->second;
    uint32_t storage = 0;
    for (const auto& e : layout) storage += e.type != "uniform";
    if (storage > limits_.max_storage_buffers_per_shader_stage)
      throw Error("kernel " + key + " binds " + std::to_string(storage) + " storage buffers; this device allows " +
                  std::to_string(limits_.max_storage_buffers_per_shader_stage) + " (maxStorageBuffersPerShaderStage)");
    plan.pipelines.push_back(PipelineDesc{key, compose_kernel(spec), layout});
    const auto index = static_cast<uint32_t>(plan.pipelines.size() - 1);
    pipelines_[key] = index;
    return index;
  }

  // Grid for `rows` workgroups along x (wrapping into y past the per-dimension limit).
  std::pair<uint32_t, uint32_t> rows_grid(int64_t rows) const {
    const int64_t gx = std::min<int64_t>(rows, limits_.max_compute_workgroups_per_dimension);
    return {u32(gx), u32((rows + gx - 1) / gx)};
  }

  void finish() {
    BufferDesc& p = plan.buffers[params_buffer_];
    p.size = align_up(std::max<uint64_t>(params_.size() * 4, 16), 16);
    if (p.size > limits_.max_buffer_size) throw Error("kernel parameters exceed maxBufferSize");
    if (!params_.empty()) fill(params_buffer_, 0, params_.data(), params_.size() * 4);
    plan.total_bytes = 0;
    for (const auto& b : plan.buffers) plan.total_bytes += b.size;
  }

 private:
  struct Arena {
    int buffer = -1;
    int count = 0;
    uint64_t used = 0;
  };
  DeviceLimits limits_;
  uint64_t align_ = 256;
  std::map<std::string, Arena> arenas_;
  std::vector<uint32_t> params_;
  uint32_t params_buffer_ = 0;
  std::map<std::string, uint32_t> pipelines_;
};

inline Binding bind(uint32_t binding, const Range& r) { return Binding{binding, r.buffer, r.offset, r.size}; }

// One matrix product (or fused group) as dispatches.
struct MatmulCall {
  std::string label;
  std::vector<const Matrix*> w;   // 1 weight; GATED: gate, up; MULTI: three concatenated
  std::vector<std::string> flags; // NORM, RESIDUAL, GATED (+ GELU), MULTI, SOFTCAP
  Range x, y, norm;
  int64_t x_stride = 0, y_stride = 0, y_offset = 0;
  bool last_only = false;
  float eps = 0;
  int tok = 1;
  float soft_cap = 0;  // SOFTCAP
  int rows = 0;        // > 1: rows per workgroup of a several-token product, as many of them as workgroup memory holds
  Range xq{};          // where such a product may round x once (matvec TOKENS, quantize_x): xq_words(cols, tok) words
};

void emit_matmul(Builder& b, std::vector<Dispatch>& list, Range step, const MatmulCall& c);

// Words of x rounded for `tokens` tokens of `cols` values (quantize_x.wgsl): 12 a 32-value unit, 4 a token.
inline int64_t xq_words(int64_t cols, int64_t tokens) { return tokens * (12 * (cols / 32) + 4); }

}  // namespace tabllm::webgpu::detail
