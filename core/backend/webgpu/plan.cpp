#include "backend/webgpu/plan.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>

#include <nlohmann/json.hpp>

#include "backend/cpu/kv_cache.h"
#include "backend/webgpu/encoder_plan.h"
#include "backend/webgpu/kernels.h"
#include "backend/webgpu/plan_builder.h"
#include "common/error.h"
#include "model/model.h"
#include "model/weights.h"
#include "ops/rope.h"

namespace tabllm::webgpu {
namespace detail {

std::vector<LayoutEntry> layout_for(const KernelSpec& s) {
  auto has = [&](const char* f) { return std::find(s.flags.begin(), s.flags.end(), f) != s.flags.end(); };
  const std::string U = "uniform", R = "read-only-storage", W = "storage";
  if (s.kernel == "matmul" || s.kernel == "matmul_tiled" || s.kernel == "matvec") {
    std::vector<LayoutEntry> l = {{0, U}, {1, R}, {2, R}, {3, W}, {4, R}};
    if (has("GATED") || has("MULTI")) l.push_back({5, R});
    if (has("MULTI")) l.push_back({6, R});
    if (has("NORM")) l.push_back({7, R});
    return l;
  }
  if (s.kernel == "quantize_x") {
    std::vector<LayoutEntry> l = {{0, U}, {1, R}, {2, R}, {3, W}};
    if (has("NORM")) l.push_back({7, R});
    return l;
  }
  if (s.kernel == "embed") return {{0, U}, {1, R}, {2, R}, {3, W}, {4, R}};
  if (s.kernel == "qkv_post") {
    std::vector<LayoutEntry> l = {{0, U}, {1, R}, {3, W}, {4, R}, {5, W}, {6, W}};
    if (has("BIAS")) l.push_back({7, R});
    if (has("QKNORM")) l.push_back({8, R});
    return l;
  }
  if (s.kernel == "attention_split" && has("POST")) {
    std::vector<LayoutEntry> l = {{0, U}, {1, R}, {2, R}, {3, W}, {4, R}, {5, W}, {6, W}};
    if (has("BIAS")) l.push_back({7, R});
    if (has("QKNORM")) l.push_back({8, R});
    return l;
  }
  if (s.kernel == "attention" || s.kernel == "attention_split") return {{0, U}, {1, R}, {2, R}, {3, W}, {5, R}, {6, R}};
  if (s.kernel == "attention_combine") return {{0, U}, {1, R}, {2, R}, {3, W}};
  if (s.kernel == "norm_add") return {{0, U}, {1, R}, {2, R}, {3, W}, {4, R}};
  if (s.kernel == "kv_shift") return {{0, U}, {1, R}, {4, R}, {5, W}, {6, W}};
  if (s.kernel == "sample") {
    if (has("MASK")) return {{0, U}, {2, R}, {3, W}, {4, R}};
    return {{0, U}, {2, R}, {3, W}};
  }
  throw Error("no layout for kernel " + s.kernel);
}

void emit_matmul(Builder& b, std::vector<Dispatch>& list, Range step, const MatmulCall& c) {
  auto has = [&](const char* f) { return std::find(c.flags.begin(), c.flags.end(), f) != c.flags.end(); };
  const bool gated = has("GATED"), multi = has("MULTI");
  const int tok = c.last_only ? 1 : c.tok;
  const bool tiled = tok == kTiledTokens;
  // One token over weights that all have whole-unit decoders (rows of 32-value units): matvec.wgsl, which
  // reads x once per ROWS rows. Without DOT8, by default only on rows of at least one unit per thread: on
  // shorter rows (the 1B models' 2048 columns at 128 threads) half the threads idle, and the H200 ran 8-15 %
  // slower. With DOT8 on rows of 32 units and more, the workgroup halved to the row's units: 64 threads on
  // those 1B rows ran their step 23 % faster than `matmul` (docs/benchmarks.md).
  // Several tokens with several rows per workgroup (the verify list's few tokens) take it too, TOKENS: each
  // unit of weights decoded once for all the tokens.
  const int64_t row_units = c.w[0]->cols / 32;
  const bool several_tokens = b.matvec_tokens && b.dot8 && c.xq.size > 0 && tok > 1 && !tiled && c.rows > 1;
  const bool units = (tok == 1 || several_tokens) && b.matvec_blocks && c.w[0]->cols % 32 == 0 && row_units >= b.matvec_min_units &&
                     std::all_of(c.w.begin(), c.w.end(), [](const Matrix* m) { return matvec_weight_type(m->type); });
  const bool tokens = units && tok > 1;  // matvec's TOKENS, after quantize_x
  // One token (or TOKENS): no more threads than a row has groups of 8 values, and at least 32 (tiny models'
  // rows of 64 values would leave most threads of a workgroup idle; CPU implementations of WebGPU run every one).
  int wg = tok == 1 || units ? b.matvec_wg : static_cast<int>(kWG);
  while (tok == 1 && wg > 32 && c.w[0]->cols / 8 < wg) wg /= 2;
  // One token: several rows per workgroup, so each load of x serves them all. `matvec_rows` counts the rows
  // of weights a workgroup reads (a gated row reads two, gate's and up's: the H200 ran the 7B/8B gate/up
  // 40 % slower at 16 than at 8, their qkv 10-15 % faster at 16 than at 8; the row kernel takes 8 at most).
  // Fewer on products of few rows, whose workgroups would not fill the GPU.
  int rows_per_wg = tok == 1 ? std::max(1, std::min(b.matvec_rows / (gated ? 2 : 1), units ? 16 : 8)) : 1;
  int64_t total_rows = 0;
  for (const Matrix* m : c.w) total_rows += m->rows;
  if (gated) total_rows = c.w[0]->rows;
  while (rows_per_wg > 1 && total_rows / rows_per_wg < b.matvec_min_groups) rows_per_wg /= 2;
  // The kernel's workgroup memory: one partial per thread (per subgroup of at least 4 with SUBGROUPS) and
  // value reduced (the products, gate's and up's, and the sums of squares of NORM).
  auto shared_bytes = [&](int rows) -> int64_t {
    if (tokens) return 4 * (gated ? 2 : 1) * tok * wg;  // each thread's partials per token
    const int64_t values = (gated ? 2 : 1) * rows * tok + (has("NORM") ? tok : 0);
    return 4 * values * (b.subgroups ? (wg + 3) / 4 : wg);
  };
  if (c.rows > 1 && !tiled) {
    // Each x load then serves several rows; in the row kernel a thread writes one output, so rows × tokens
    // stay within the workgroup. Under TOKENS the workgroup's threads split its rows (at least one each).
    rows_per_wg = std::min(c.rows, wg);
    while (rows_per_wg > 1 && (shared_bytes(rows_per_wg) > b.limits().max_compute_workgroup_storage_size || (!units && rows_per_wg * tok > wg))) rows_per_wg /= 2;
  }
  KernelSpec spec{"matmul_tiled", c.flags, {}, {}};
  if (units) {
    // Threads: no more than the row has units; with DOT8, a product of many workgroups (at least 1.5 ×
    // matvec_min_groups, a gated row counting twice) takes half, each with twice the units: on the H200 the
    // 7B/8B qkv and gate/up products ran 11-16 % faster so, while those of 4,096 rows (1,024 workgroups) ran
    // 5-17 % slower (docs/benchmarks.md).
    // Where a type's neighbouring units share words (Q4_K's, Q5_K's nibbles), each thread takes units in
    // pairs (PAIRS), reading those words and the scales once: a thread's step is then two units, as the
    // halved workgroup gives them to the others.
    const bool pairs = b.matvec_pairs && !tokens && row_units % 2 == 0 &&
                       std::any_of(c.w.begin(), c.w.end(), [](const Matrix* m) { return matvec_pair_decoder(m->type); });
    const int64_t thread_steps = pairs ? row_units / 2 : row_units;
    // (TOKENS: matvec_wg threads, WG / ROWS a row.)
    int matvec_threads = wg;
    while (!tokens && matvec_threads > 32 && thread_steps < matvec_threads) matvec_threads /= 2;
    const int64_t row_reads = (gated ? 2 : 1) * total_rows;
    if (!pairs && !tokens && b.dot8 && b.matvec_min_groups > 0 && matvec_threads == wg && wg > 32 && row_reads / rows_per_wg >= 3 * b.matvec_min_groups / 2)
      matvec_threads /= 2;
    spec = KernelSpec{"matvec", c.flags, {}, {{"WG", matvec_threads}, {"ROWS", rows_per_wg}, {"TOK", tok}}};
    if (pairs) spec.flags.push_back("PAIRS");
    if (tokens) spec.flags.push_back("TOKENS");
  } else if (!tiled) {
    spec = KernelSpec{"matmul", c.flags, {}, {{"WG", wg}, {"TOK", tok}, {"ROWS", rows_per_wg}}};
  }
  if (!tiled) {
    if (b.subgroups) spec.flags.push_back("SUBGROUPS");
    if (units && b.dot8) spec.flags.push_back("DOT8");
    const int64_t bytes = shared_bytes(rows_per_wg);
    if (bytes > b.limits().max_compute_workgroup_storage_size)
      throw Error("the row matrix kernel needs " + std::to_string(bytes) + " bytes of workgroup memory; this device allows " +
                  std::to_string(b.limits().max_compute_workgroup_storage_size) +
                  " (maxComputeWorkgroupStorageSize): lower matvec_rows, matvec_wg or tok_tile");
  }
  for (const Matrix* m : c.w) spec.weights.push_back(m->type);
  const uint32_t pipeline = b.pipeline(spec);
  const Matrix& m0 = *c.w[0];
  // TOKENS reads x rounded once for the product (quantize_x.wgsl, one workgroup of 256 per token: with 64 its
  // loop over a 7B's units made the four a layer cost 1.7 ms of a 13 ms verify call on the H200).
  Range x = c.x;
  int64_t x_stride = c.x_stride;
  if (tokens) {
    x_stride = xq_words(m0.cols, 1);
    if (static_cast<uint64_t>(xq_words(m0.cols, tok)) * 4 > c.xq.size) throw Error("internal: the xq buffer is too small");
    std::vector<std::string> flags = {"DOT8"};
    if (has("NORM")) flags.push_back("NORM");
    Dispatch q;
    q.label = c.label + "_quantize_x";
    q.pipeline = b.pipeline(KernelSpec{"quantize_x", flags, {}, {{"WG", 256}}});
    q.bindings = {bind(0, b.params({u32(m0.cols), u32(c.x_stride), u32(x_stride), f32_bits(c.eps), f32_bits(1.0f / static_cast<float>(m0.cols))})),
                  bind(1, step), bind(2, c.x), bind(3, c.xq)};
    if (has("NORM")) q.bindings.push_back(bind(7, c.norm));
    q.token_tile = 1;
    list.push_back(std::move(q));
    x = c.xq;
  }
  auto add = [&](int64_t rows, int64_t y_offset, std::vector<Binding> weights, int64_t rows0, int64_t rows1, const std::string& label) {
    const int64_t per_group = tiled ? kTiledTokens : rows_per_wg;
    const auto [gx, gy] = b.rows_grid((rows + per_group - 1) / per_group);
    const std::vector<uint32_t> words = {
        u32(rows), u32(m0.cols), u32(rows0), u32(rows1), u32(m0.row_bytes),
        u32(c.w.size() > 1 ? c.w[1]->row_bytes : 0), u32(c.w.size() > 2 ? c.w[2]->row_bytes : 0),
        u32(x_stride), u32(c.y_stride), u32(y_offset), gx, c.last_only ? 1u : 0u, f32_bits(c.eps),
        f32_bits(1.0f / static_cast<float>(m0.cols)), f32_bits(c.soft_cap)};
    Dispatch d;
    d.label = label;
    d.pipeline = pipeline;
    d.bindings = {bind(0, b.params(words)), bind(1, step), bind(2, x), bind(3, c.y)};
    for (auto& w : weights) d.bindings.push_back(w);
    if (has("NORM")) d.bindings.push_back(bind(7, c.norm));
    d.groups[0] = gx;
    d.groups[1] = gy;
    d.token_tile = c.last_only ? 0 : static_cast<uint32_t>(tok);
    list.push_back(std::move(d));
  };
  if (multi) {
    for (const Matrix* m : c.w)
      if (m->parts.size() != 1 || m->cols != m0.cols) throw Error("internal: MULTI matmul over split matrices");
    add(c.w[0]->rows + c.w[1]->rows + c.w[2]->rows, c.y_offset,
        {bind(4, c.w[0]->parts[0].range), bind(5, c.w[1]->parts[0].range), bind(6, c.w[2]->parts[0].range)},
        c.w[0]->rows, c.w[1]->rows, c.label);
    return;
  }
  for (size_t p = 0; p < m0.parts.size(); ++p) {
    const MatrixPart& part = m0.parts[p];
    std::vector<Binding> weights = {bind(4, part.range)};
    if (gated) {
      const MatrixPart& up = c.w[1]->parts.at(p);
      if (up.row_first != part.row_first || up.rows != part.rows) throw Error("internal: GATED parts differ");
      weights.push_back(bind(5, up.range));
    }
    const std::string label = m0.parts.size() > 1 ? c.label + "[" + std::to_string(p) + "]" : c.label;
    add(part.rows, c.y_offset + part.row_first, weights, part.rows, 0, label);
  }
}

}  // namespace detail

namespace {

using json = nlohmann::json;
using namespace detail;

constexpr int64_t kMaxHeadDim = 512;      // qkv_post keeps a head in workgroup memory

// `result` is where the previous step's sampled token lies (chained decoding reads it from there); rows are
// multiplied by `scale`.
void emit_embed(Builder& b, std::vector<Dispatch>& list, Range step, const Matrix& e, float scale, Range x, Range result) {
  const uint32_t pipeline = b.pipeline(KernelSpec{"embed", {}, {e.type}, {{"WG", kWG}}});
  for (size_t p = 0; p < e.parts.size(); ++p) {
    const MatrixPart& part = e.parts[p];
    Dispatch d;
    d.label = e.parts.size() > 1 ? "embed[" + std::to_string(p) + "]" : "embed";
    d.pipeline = pipeline;
    d.bindings = {bind(0, b.params({u32(e.row_bytes), u32(e.cols), u32(part.row_first), u32(part.rows), f32_bits(scale)})), bind(1, step),
                  bind(2, result), bind(3, x), bind(4, part.range)};
    d.groups[0] = u32((e.cols / 8 + kWG - 1) / kWG);
    d.token_tile = 1;
    list.push_back(std::move(d));
  }
}

// The KV cache on the GPU (kv_<type>.wgsl): a layer's keys (and its values) are an array<u32> of `row_bytes`
// per position. qkv_post and kv_shift take a row in units of `unit` values, whole heads and whole codec
// groups (a q8_0 block of 32 may span several heads, or cut through one), so one thread writes a group.
struct KvLayout {
  std::string type = "f32";
  int64_t unit = 0;
  uint64_t row_bytes = 0;
};

}  // namespace

uint64_t kv_row_bytes(const std::string& type, int64_t kv_dim) {
  check_kv_cache_type(kv_cache_type(type), kv_dim);
  const auto values = static_cast<uint64_t>(kv_dim);
  return type == "f32" ? 4 * values : type == "f16" ? 2 * values : values / 32 * 36;  // q8_0: 9 words a block
}

namespace {

KvLayout kv_layout(const std::string& type, int64_t head_dim, int64_t kv_dim, const DeviceLimits& limits) {
  check_kv_cache_type(kv_cache_type(type), kv_dim);
  KvLayout l;
  l.type = type;
  const int64_t group = kv_group(type);
  l.unit = std::lcm(head_dim, group);
  l.row_bytes = kv_row_bytes(type, kv_dim);
  // qkv_post keeps a unit and a reduction row of 64 floats in workgroup memory.
  const uint64_t shared = 4 * static_cast<uint64_t>(l.unit + 64);
  if (shared > limits.max_compute_workgroup_storage_size)
    throw Error("a " + type + " KV cache with heads of " + std::to_string(head_dim) + " values is written in units of " + std::to_string(l.unit) +
                " values, which need " + std::to_string(shared) + " bytes of workgroup memory; this device allows " +
                std::to_string(limits.max_compute_workgroup_storage_size) + " (maxComputeWorkgroupStorageSize): use kv type f16");
  return l;
}

struct AttnShape {
  int64_t n_heads, n_kv_heads, head_dim, rope_pairs;
  bool halves;
  float eps;
  float scale;         // multiplies q·k
  float soft_cap;      // > 0: scores soft-capped
  int64_t window = 0;  // > 0: sliding-window attention (a local layer)
  KvLayout kv{};
};

// qkv_post's inputs beyond the qkv rows and the cache: the RoPE table, the bias and the q/k norms, with the
// flags and bindings they add to qkv_post, or to decode attention doing its work (below).
struct QkvPost {
  Range rope;
  const Range* bias = nullptr;
  const Range* qknorm = nullptr;

  void add_flags(std::vector<std::string>& flags) const {
    if (bias) flags.push_back("BIAS");
    if (qknorm) flags.push_back("QKNORM");
  }
  void add_bindings(std::vector<Binding>& bindings) const {
    bindings.push_back(bind(4, rope));
    if (bias) bindings.push_back(bind(7, *bias));
    if (qknorm) bindings.push_back(bind(8, *qknorm));
  }
};

void emit_qkv_post(Builder& b, std::vector<Dispatch>& list, Range step, const AttnShape& s, Range qkv, const QkvPost& post, Range k, Range v,
                   const std::string& label) {
  std::vector<std::string> flags;
  post.add_flags(flags);
  const uint32_t pipeline = b.pipeline(KernelSpec{"qkv_post", flags, {}, {{"UNIT", s.kv.unit}}, s.kv.type});
  const int64_t kv_dim = s.n_kv_heads * s.head_dim;
  Dispatch d;
  d.label = label;
  d.pipeline = pipeline;
  d.bindings = {bind(0, b.params({u32(s.n_heads), u32(s.n_kv_heads), u32(s.head_dim), u32(s.rope_pairs), s.halves ? 1u : 0u,
                                  u32(s.n_heads * s.head_dim + 2 * kv_dim), u32(kv_dim), f32_bits(s.eps)})),
                bind(1, step), bind(3, qkv), bind(5, k), bind(6, v)};
  post.add_bindings(d.bindings);
  d.groups[0] = u32(s.n_heads + 2 * kv_dim / s.kv.unit);
  d.token_tile = 1;
  list.push_back(std::move(d));
}

// Whether decode attention over `splits` slices can do qkv_post's work (attention_split.wgsl's POST): each
// of its workgroups stages one head, so the cache codec's groups must lie within heads.
bool post_in_attention(const AttnShape& s, int tq, int splits) {  // (for one token a step)
  return tq == 1 && splits > 0 && s.kv.unit == s.head_dim;
}

// Attention for `tq` queries per workgroup. Decoding (tq = 1) with splits > 0 runs as attention_split over
// `splits` slices of the cache into `part`, then attention_combine: two dispatches, but all SMs busy; each
// token of the step in its own workgroups (the verify list's several: `part` holds theirs side by side). With
// `post` (post_in_attention), attention_split also rotates q and k and appends k and v to the cache.
void emit_attention(Builder& b, std::vector<Dispatch>& list, Range step, const AttnShape& s, int tq, int splits, Range q, int64_t q_stride,
                    Range out, Range k, Range v, Range part, const std::string& label, const QkvPost* post = nullptr) {
  const std::vector<uint32_t> words = {u32(s.n_heads), u32(s.n_kv_heads), u32(q_stride), u32(s.n_kv_heads * s.head_dim),
                                       u32(s.n_heads * s.head_dim), f32_bits(s.scale), f32_bits(s.soft_cap), u32(s.window),
                                       u32(s.rope_pairs), s.halves ? 1u : 0u, f32_bits(s.eps)};
  const Range params = b.params(words);
  Dispatch d;
  d.label = label;
  d.groups[0] = u32(s.n_heads);
  if (tq == 1 && splits > 0) {
    if (post && !post_in_attention(s, tq, splits)) throw Error("internal: qkv_post cannot run in this attention");
    const std::map<std::string, int64_t> constants = {{"WG", kWG}, {"HD", s.head_dim}, {"S", splits}, {"MIN_SLICE", b.attn_min_slice}};
    std::vector<std::string> flags;
    if (b.subgroups) flags.push_back("SUBGROUPS");
    if (post) {
      flags.push_back("POST");
      post->add_flags(flags);
    }
    d.pipeline = b.pipeline(KernelSpec{"attention_split", flags, {}, constants, s.kv.type});
    d.bindings = {bind(0, params), bind(1, step), bind(2, q), bind(3, part), bind(5, k), bind(6, v)};
    if (post) post->add_bindings(d.bindings);
    d.groups[1] = u32(splits);
    d.token_tile = 1;
    list.push_back(d);
    Dispatch c;
    c.label = label + "_combine";
    // Workgroups of 32 outputs: several per head, so more SMs share the slices' loads.
    constexpr int64_t kCombineWG = 32;
    c.pipeline = b.pipeline(KernelSpec{"attention_combine", {}, {}, {{"WG", kCombineWG}, {"HD", s.head_dim}, {"S", splits}}});
    c.bindings = {bind(0, params), bind(1, step), bind(2, part), bind(3, out)};
    c.groups[0] = u32(s.n_heads);
    c.groups[1] = u32((s.head_dim + kCombineWG - 1) / kCombineWG);
    c.token_tile = 1;
    list.push_back(std::move(c));
    return;
  }
  // The tile's queries, scores and softmax statistics live in workgroup memory (attention.wgsl).
  const uint64_t shared = 4 * static_cast<uint64_t>(tq) * static_cast<uint64_t>(s.head_dim + 2 * kWG + 4);
  if (shared > b.limits().max_compute_workgroup_storage_size)
    throw Error("prefill attention over " + std::to_string(tq) + " queries of head_dim " + std::to_string(s.head_dim) + " needs " +
                std::to_string(shared) + " bytes of workgroup memory; this device allows " +
                std::to_string(b.limits().max_compute_workgroup_storage_size) + " (maxComputeWorkgroupStorageSize): lower attn_tile");
  d.pipeline = b.pipeline(KernelSpec{"attention", {}, {}, {{"WG", kWG}, {"TQ", tq}, {"HD", s.head_dim}}, s.kv.type});
  d.bindings = {bind(0, params), bind(1, step), bind(2, q), bind(3, out), bind(5, k), bind(6, v)};
  d.token_tile = static_cast<uint32_t>(tq);
  list.push_back(std::move(d));
}

// x += rmsnorm(y) * g per token (post norms: the block's output y normalized before the residual add).
void emit_norm_add(Builder& b, std::vector<Dispatch>& list, Range step, int64_t dim, float eps, Range y, Range x, Range g, const std::string& label) {
  Dispatch d;
  d.label = label;
  d.pipeline = b.pipeline(KernelSpec{"norm_add", {}, {}, {{"WG", kWG}}});
  d.bindings = {bind(0, b.params({u32(dim), f32_bits(eps), f32_bits(1.0f / static_cast<float>(dim))})), bind(1, step), bind(2, y), bind(3, x), bind(4, g)};
  d.token_tile = 1;
  list.push_back(std::move(d));
}

// The sampling's workgroups each take the top-k of this many logits (sample.wgsl: 256 threads, 4 each).
constexpr int64_t kSampleChunk = 1024;

int64_t sample_groups(int64_t n_vocab) { return (n_vocab + kSampleChunk - 1) / kSampleChunk; }

// The bytes of the sampling's per-workgroup candidates: k pairs per workgroup per row.
uint64_t sample_part_bytes(int64_t n_vocab, int64_t k, int64_t rows) {
  return 8 * static_cast<uint64_t>(sample_groups(n_vocab) * k * rows);
}

// The list's sampling tail (sample.wgsl): `sample` (each workgroup's top-k of its chunk into `part`), with a
// mask also `sample_masked` (the same over the tokens the mask allows), then `sample_merge` (the top-k of
// those into `result`). A forward call runs one of the first two, then the merge (plan.h). `rows` > 1: the
// verify list, one row of logits per token (token_tile 1), argmax only.
void emit_sample(Builder& b, std::vector<Dispatch>& list, int64_t n, int k, bool rows, Range logits, Range part, Range result,
                 const Range* mask) {
  const uint32_t groups = u32(sample_groups(n));
  const Range params = b.params({u32(n), static_cast<uint32_t>(k), u32(kSampleChunk), groups});
  Dispatch d;
  d.label = "sample";
  d.pipeline = b.pipeline(KernelSpec{"sample", {}, {}, {}});
  d.bindings = {bind(0, params), bind(2, logits), bind(3, part)};
  d.groups[0] = groups;
  d.token_tile = rows ? 1 : 0;
  list.push_back(d);
  if (mask) {
    d.label = "sample_masked";
    d.pipeline = b.pipeline(KernelSpec{"sample", {"MASK"}, {}, {}});
    d.bindings.push_back(bind(4, *mask));
    list.push_back(d);
  }
  d.label = "sample_merge";
  d.pipeline = b.pipeline(KernelSpec{"sample", {"MERGE"}, {}, {}});
  d.bindings = {bind(0, params), bind(2, part), bind(3, result)};
  d.groups[0] = 1;
  list.push_back(std::move(d));
}

// A context shift in one layer (kv_shift.wgsl): the rows after the dropped ones move down and their keys
// are rotated back by the dropped distance, with keep, discard and end read from `shift` (written by the
// host) and the cos and sin of every distance from `rotations` ([distance][pair], the layer's RoPE without
// LongRoPE's attn_factor, which the keys carry already). At most `rows` rows move; they are strided over
// the y workgroups.
void emit_kv_shift(Builder& b, std::vector<Dispatch>& list, Range shift, const AttnShape& s, int64_t rows, Range rotations, Range k,
                   Range v, const std::string& label) {
  Dispatch d;
  d.label = label;
  d.pipeline = b.pipeline(KernelSpec{"kv_shift", {}, {}, {{"WG", kWG}, {"UNIT", s.kv.unit}}, s.kv.type});
  d.bindings = {bind(0, b.params({u32(s.n_kv_heads), u32(s.head_dim), u32(s.rope_pairs), s.halves ? 1u : 0u, u32(s.n_kv_heads * s.head_dim)})),
                bind(1, shift), bind(4, rotations), bind(5, k), bind(6, v)};
  d.groups[0] = u32(2 * s.n_kv_heads * s.head_dim / s.kv.unit);
  d.groups[1] = u32(std::clamp<int64_t>(rows, 1, b.limits().max_compute_workgroups_per_dimension));
  list.push_back(std::move(d));
}

// One bit per token of the vocabulary, in u32 words.
uint64_t mask_bytes(int64_t n_vocab) { return 4 * ((static_cast<uint64_t>(n_vocab) + 31) / 32); }

void check_options(const PlanOptions& o) {
  if (o.max_batch < 1 || o.max_batch > 4096) throw Error("max_batch must be in [1, 4096], got " + std::to_string(o.max_batch));
  if (o.top_k < 1 || o.top_k > 256) throw Error("top_k must be in [1, 256], got " + std::to_string(o.top_k));
  if ((o.tok_tile < 1 || o.tok_tile > 16) && o.tok_tile != kTiledTokens) throw Error("tok_tile must be in [1, 16], or 64 (the tiled kernel)");
  if (o.attn_tile < 1 || o.attn_tile > 16) throw Error("attn_tile must be in [1, 16]");
  if (o.attn_splits < 0 || o.attn_splits > 256) throw Error("attn_splits must be in [0, 256]");
  if (o.attn_min_slice < 1) throw Error("attn_min_slice must be at least 1 (positions per slice of decode attention)");
  if (o.matvec_wg != 32 && o.matvec_wg != 64 && o.matvec_wg != 128 && o.matvec_wg != 256) throw Error("matvec_wg must be 32, 64, 128 or 256");
  if (o.matvec_rows != 1 && o.matvec_rows != 2 && o.matvec_rows != 4 && o.matvec_rows != 8 && o.matvec_rows != 16) throw Error("matvec_rows must be 1, 2, 4, 8 or 16");
  if (o.matvec_min_groups < 0) throw Error("matvec_min_groups must be >= 0");
  if (o.matvec_min_units < -1) throw Error("matvec_min_units must be >= 0, or -1 for the default (32 with dot8, else matvec_wg)");
  if (o.context_size < 0) throw Error("context_size must be >= 0");
  // The verify list's products read each weight once for all its tokens (the row kernel's TOK).
  if (o.verify_rows < 1 || o.verify_rows > 64 || (o.verify_rows & (o.verify_rows - 1)) != 0)
    throw Error("verify_rows must be a power of two from 1 to 64, got " + std::to_string(o.verify_rows));
  if (o.verify_batch < 0 || o.verify_batch > 16) throw Error("verify_batch must be in [0, 16] (0: no verify list), got " + std::to_string(o.verify_batch));
}

// ---- the model plan ----

// `read_vector` returns the values of a small f32 tensor (the RoPE factors the plan folds into its tables).
using ReadVector = std::function<std::vector<float>(const Tensor&)>;

Plan build_from_header(const gguf::Header& h, const ReadVector& read_vector, const PlanOptions& o) {
  const ModelConfig c = read_config(h);
  if (c.is_embedding()) return build_encoder_plan(h, c, o);  // encoder_plan.h: embeddings, no KV cache
  check_options(o);
  // Only shapes, names and file offsets: the host uploads tensor bytes from the file.
  const ModelWeights w = bind_weights(h, c);
  if (c.n_heads % c.n_kv_heads != 0) throw Error("n_heads must be a multiple of n_kv_heads");
  if (c.head_dim > kMaxHeadDim || c.head_dim % 2 != 0)
    throw Error("the WebGPU kernels need an even head_dim of at most " + std::to_string(kMaxHeadDim) + ", got " + std::to_string(c.head_dim));
  for (int64_t d : {c.dim, c.q_dim(), c.kv_dim()})
    if (d % 8 != 0) throw Error("the WebGPU kernels need model, q and kv dimensions that are multiples of 8, got " + std::to_string(d));
  if (c.ffn_dim % 4 != 0) throw Error("the WebGPU kernels need a feed-forward dimension that is a multiple of 4, got " + std::to_string(c.ffn_dim));

  const int64_t ctx = o.context_size > 0 ? std::min(o.context_size, c.context_length) : std::min<int64_t>(c.context_length, 4096);
  const int64_t B = std::min(o.max_batch, ctx);  // a batch never needs more rows than the context
  const int64_t q_dim = c.q_dim(), kv_dim = c.kv_dim(), qkv_dim = q_dim + 2 * kv_dim;

  Builder b(o.limits);
  b.matvec_wg = o.matvec_wg;
  b.matvec_rows = o.matvec_rows;
  b.matvec_min_groups = o.matvec_min_groups;
  b.subgroups = o.subgroups;
  b.attn_min_slice = o.attn_min_slice;
  b.matvec_blocks = o.matvec_blocks;
  b.dot8 = o.dot8;
  b.matvec_pairs = o.matvec_pairs;
  b.matvec_tokens = o.matvec_tokens;
  b.matvec_min_units = o.matvec_min_units >= 0 ? o.matvec_min_units : o.dot8 ? 32 : o.matvec_wg;
  Plan& plan = b.plan;
  plan.kind = "model";
  plan.max_batch = B;
  plan.context_size = ctx;
  plan.n_vocab = c.n_vocab;
  plan.top_k = o.top_k;
  const int64_t V = std::min<int64_t>(o.verify_batch, ctx);  // tokens of a verify call: logits rows, argmax per row
  plan.verify_batch = V;

  const Range step = b.bound_buffer("step", "step", 16 + 4 * static_cast<uint64_t>(B));
  plan.step_buffer = static_cast<int>(step.buffer);
  b.set_params_buffer(b.add_buffer("params", "params", 16));
  const Range x = b.bound_buffer("x", "activation", 4 * static_cast<uint64_t>(B * c.dim));
  const Range qkv = b.bound_buffer("qkv", "activation", 4 * static_cast<uint64_t>(B * qkv_dim));
  const Range att = b.bound_buffer("att", "activation", 4 * static_cast<uint64_t>(B * q_dim));
  const Range ffn = b.bound_buffer("ffn", "activation", 4 * static_cast<uint64_t>(B * c.ffn_dim));
  // Post norms: the outputs of wo and down land here, to be normalized into the residual stream.
  const Range xb = c.post_norms ? b.bound_buffer("xb", "activation", 4 * static_cast<uint64_t>(B * c.dim)) : Range{};
  const Range part = b.bound_buffer("attn_part", "activation",
                                    4 * static_cast<uint64_t>(std::max<int64_t>(V, 1) * c.n_heads * std::max(o.attn_splits, 1) * (c.head_dim + 2)));
  const Range logits = b.bound_buffer("logits", "activation", 4 * static_cast<uint64_t>(std::max<int64_t>(V, 1) * c.n_vocab));
  const Range result = b.bound_buffer("result", "result", 8 * static_cast<uint64_t>(std::max<int64_t>(o.top_k, V)));
  const Range mask = b.bound_buffer("mask", "mask", mask_bytes(c.n_vocab));
  const Range sample_part = b.bound_buffer("sample_part", "activation", sample_part_bytes(c.n_vocab, std::max<int64_t>(o.top_k, V), 1));
  // The verify list's products round x here once each (matvec TOKENS, emit_matmul).
  const Range xq = V > 1 && o.dot8 && o.matvec_tokens && o.matvec_blocks
                       ? b.bound_buffer("xq", "activation", 4 * static_cast<uint64_t>(xq_words(std::max({c.dim, q_dim, c.ffn_dim}), V)))
                       : Range{};
  plan.logits_buffer = static_cast<int>(logits.buffer);
  plan.result_buffer = static_cast<int>(result.buffer);
  plan.mask_buffer = static_cast<int>(mask.buffer);

  const KvLayout kv = kv_layout(o.kv_type, c.head_dim, kv_dim, o.limits);
  plan.kv_type = kv.type;
  plan.kv_bytes_per_token = 2 * static_cast<uint64_t>(c.n_layers) * kv.row_bytes;
  std::vector<Range> kcache, vcache;
  const uint64_t kv_bytes = static_cast<uint64_t>(ctx) * kv.row_bytes;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    kcache.push_back(b.place("kv", kv_bytes, "the KV cache of one layer (" + std::to_string(ctx) + " positions)"));
    vcache.push_back(b.place("kv", kv_bytes, "the KV cache of one layer (" + std::to_string(ctx) + " positions)"));
    plan.kv_rows.push_back({kcache.back().buffer, kcache.back().offset, vcache.back().buffer, vcache.back().offset});
  }
  plan.kv_row_bytes = kv.row_bytes;

  // RoPE cos/sin for every position, computed as the CPU forward pass does: its frequency factors chosen
  // for this context, a second table for sliding-window layers when their RoPE differs.
  const int64_t pairs = c.rope_dims / 2;
  const Tensor& factor_tensor = rope_factors(w, c, ctx);
  const std::vector<float> factors = factor_tensor.present() ? read_vector(factor_tensor) : std::vector<float>();
  auto rope_range = [&](const RopeSettings& r) {
    const std::vector<float> table = rope_table(ctx, c.rope_dims, r.base, factors.empty() ? nullptr : factors.data(), r.linear_scale, c.rope_attn_factor);
    const Range range = b.place("weights", std::max<uint64_t>(table.size() * 4, 16), "the RoPE table");
    b.fill(range.buffer, range.offset, table.data(), table.size() * 4);
    return range;
  };
  const Range rope_global = rope_range({c.rope_base, c.rope_linear_scale});
  const bool any_local = std::find(c.layer_is_local.begin(), c.layer_is_local.end(), true) != c.layer_is_local.end();
  const bool same_rope = c.rope_local.base == c.rope_base && c.rope_local.linear_scale == c.rope_linear_scale;
  const Range rope_local = any_local && !same_rope ? rope_range(c.rope_local) : rope_global;

  auto vec = [&](const Tensor& t) { return b.upload(t.file_offset, t.row_bytes(), t.name); };
  auto mat = [&](const Tensor& t, int64_t rows_per_part = 0) { return b.matrix(t.name, t.type, t.rows, t.cols, t.file_offset, rows_per_part); };
  auto joint_rows = [&](const Tensor& a, const Tensor& bb) {
    return static_cast<int64_t>(std::min(b.binding_limit() / std::max<uint64_t>(a.row_bytes(), 1), b.binding_limit() / std::max<uint64_t>(bb.row_bytes(), 1)));
  };

  const Matrix embd = mat(w.token_embd);
  const bool tied = w.output.name == w.token_embd.name;
  const Matrix output = tied ? embd : mat(w.output);
  const Range output_norm = vec(w.output_norm);

  struct Layer {
    Range attn_norm, ffn_norm, bias, qknorm, attn_post_norm, ffn_post_norm;
    Matrix wq, wk, wv, wo, gate, up, down;
  };
  std::vector<Layer> layers;
  for (const LayerWeights& L : w.layers) {
    Layer y;
    y.attn_norm = vec(L.attn_norm);
    y.wq = mat(L.wq);
    y.wk = mat(L.wk);
    y.wv = mat(L.wv);
    if (c.qkv_bias) y.bias = b.upload_side_by_side<Tensor>({&L.bq, &L.bk, &L.bv}, "qkv bias");
    if (c.qk_norm) y.qknorm = b.upload_side_by_side<Tensor>({&L.q_norm, &L.k_norm}, "q/k norm");
    y.wo = mat(L.wo);
    if (c.post_norms) {
      y.attn_post_norm = vec(L.attn_post_norm);
      y.ffn_post_norm = vec(L.ffn_post_norm);
    }
    y.ffn_norm = vec(L.ffn_norm);
    const int64_t gu_rows = joint_rows(L.w_gate, L.w_up);
    y.gate = mat(L.w_gate, gu_rows);
    y.up = mat(L.w_up, gu_rows);
    y.down = mat(L.w_down);
    layers.push_back(std::move(y));
  }

  const float embedding_scale = c.scale_embedding ? std::sqrt(static_cast<float>(c.dim)) : 1.0f;
  const std::vector<std::string> ffn_flags = c.ffn_activation == FfnActivation::GeluTanh
                                                 ? std::vector<std::string>{"NORM", "GATED", "GELU"}
                                                 : std::vector<std::string>{"NORM", "GATED"};
  // Rows per workgroup of the several-token products: the verify list's take up to verify_rows (emit_matmul).
  int several_rows = 0;
  auto matmul = [&](std::vector<Dispatch>& list, MatmulCall call) {
    call.rows = several_rows;
    if (several_rows > 1) call.xq = xq;
    emit_matmul(b, list, step, call);
  };
  // A block's output (wo, down) goes straight into the residual stream, or through its post norm.
  auto block_out = [&](std::vector<Dispatch>& list, const std::string& label, const Matrix& m, Range in, int64_t in_dim, Range post_norm, int tok) {
    if (!c.post_norms) {
      matmul(list, MatmulCall{label, {&m}, {"RESIDUAL"}, in, x, {}, in_dim, c.dim, 0, false, 0, tok});
      return;
    }
    matmul(list, MatmulCall{label, {&m}, {}, in, xb, {}, in_dim, c.dim, 0, false, 0, tok});
    emit_norm_add(b, list, step, c.dim, c.norm_eps, xb, x, post_norm, label + "_norm");
  };
  // `verify`: the head over every token, not the last one only, and the argmax of each row.
  auto emit = [&](std::vector<Dispatch>& list, int tok, int tq, bool verify) {
    const bool prefill = &list == &plan.prefill;
    several_rows = verify ? o.verify_rows : 0;
    emit_embed(b, list, step, embd, embedding_scale, x, result);
    for (size_t l = 0; l < layers.size(); ++l) {
      const Layer& y = layers[l];
      const std::string p = "blk." + std::to_string(l) + ".";
      const bool local = c.is_local(static_cast<int64_t>(l));
      const AttnShape shape{c.n_heads, c.n_kv_heads, c.head_dim, pairs, c.rope_pairing == RopePairing::Halves, c.norm_eps,
                            c.attn_scale, c.attn_soft_cap, local ? c.sliding_window : 0, kv};
      if (y.wq.parts.size() == 1 && y.wk.parts.size() == 1 && y.wv.parts.size() == 1) {
        matmul(list, MatmulCall{p + "qkv", {&y.wq, &y.wk, &y.wv}, {"NORM", "MULTI"}, x, qkv, y.attn_norm, c.dim, qkv_dim, 0, false, c.norm_eps, tok});
      } else {
        matmul(list, MatmulCall{p + "q", {&y.wq}, {"NORM"}, x, qkv, y.attn_norm, c.dim, qkv_dim, 0, false, c.norm_eps, tok});
        matmul(list, MatmulCall{p + "k", {&y.wk}, {"NORM"}, x, qkv, y.attn_norm, c.dim, qkv_dim, q_dim, false, c.norm_eps, tok});
        matmul(list, MatmulCall{p + "v", {&y.wv}, {"NORM"}, x, qkv, y.attn_norm, c.dim, qkv_dim, q_dim + kv_dim, false, c.norm_eps, tok});
      }
      // No more slices than the positions a query sees fill at attn_min_slice each.
      const int64_t seen = local && c.sliding_window > 0 ? std::min(ctx, c.sliding_window) : ctx;
      // Decode and verify attend over slices of the cache, each of verify's tokens in its own workgroups (the
      // tiled kernel gave a 7B's 9 tokens 3 workgroups a head: 3.2 ms a call on the H200); prefill tiles.
      const int splits = prefill ? 0 : static_cast<int>(std::min<int64_t>(o.attn_splits, (seen + o.attn_min_slice - 1) / o.attn_min_slice));
      const int queries = splits > 0 ? 1 : tq;
      const QkvPost post{local ? rope_local : rope_global, c.qkv_bias ? &y.bias : nullptr, c.qk_norm ? &y.qknorm : nullptr};
      const bool fused = !verify && o.fuse_qkv_post && post_in_attention(shape, queries, splits);
      if (!fused) emit_qkv_post(b, list, step, shape, qkv, post, kcache[l], vcache[l], p + "qkv_post");
      emit_attention(b, list, step, shape, queries, splits, qkv, qkv_dim, att, kcache[l], vcache[l], part, p + "attention", fused ? &post : nullptr);
      block_out(list, p + "wo", y.wo, att, q_dim, y.attn_post_norm, tok);
      matmul(list, MatmulCall{p + "gate_up", {&y.gate, &y.up}, ffn_flags, x, ffn, y.ffn_norm, c.dim, c.ffn_dim, 0, false, c.norm_eps, tok});
      block_out(list, p + "down", y.down, ffn, c.ffn_dim, y.ffn_post_norm, tok);
    }
    MatmulCall out{"output", {&output}, {"NORM"}, x, logits, output_norm, c.dim, c.n_vocab, 0, !verify, c.norm_eps, verify ? tok : 1};
    if (c.final_soft_cap > 0) {
      out.flags.push_back("SOFTCAP");  // the sampler's top-k values are capped logits too
      out.soft_cap = c.final_soft_cap;
    }
    matmul(list, out);
    if (verify) emit_sample(b, list, c.n_vocab, 1, true, logits, sample_part, result, nullptr);
    else emit_sample(b, list, c.n_vocab, o.top_k, false, logits, sample_part, result, &mask);
  };
  emit(plan.decode, 1, 1, false);
  emit(plan.prefill, o.tok_tile, o.attn_tile, false);
  // Speculative decoding's verification (docs/speculative.md): a few tokens, so the row kernel reading each
  // weight block once for all of them (matmul_tiled's 64-token tiles cost as much for 2 tokens as for 64).
  if (V > 0) emit(plan.verify, static_cast<int>(V), std::min<int>(o.attn_tile, static_cast<int>(V)), true);

  // Context shifts (emit_kv_shift): the buffer the host writes per shift, and the rotation by every distance;
  // a shift moves at most half the context's rows.
  const Range shift = b.bound_buffer("shift", "shift", 16);
  plan.shift_buffer = static_cast<int>(shift.buffer);
  // The keys carry LongRoPE's attn_factor already, so the rotations leave it out; sliding-window layers
  // rotate with their own RoPE when it differs.
  auto rotation_range = [&](const RopeSettings& r) {
    const std::vector<float> rotations = rope_table(ctx, c.rope_dims, r.base, factors.empty() ? nullptr : factors.data(), r.linear_scale, 1.0f);
    const Range range = b.place("weights", std::max<uint64_t>(rotations.size() * 4, 16), "the context shift's rotations");
    b.fill(range.buffer, range.offset, rotations.data(), rotations.size() * 4);
    return range;
  };
  const Range rotation_global = rotation_range({c.rope_base, c.rope_linear_scale});
  const Range rotation_local = any_local && !same_rope ? rotation_range(c.rope_local) : rotation_global;
  const AttnShape shift_shape{c.n_heads, c.n_kv_heads, c.head_dim, pairs, c.rope_pairing == RopePairing::Halves, c.norm_eps, c.attn_scale, c.attn_soft_cap, 0, kv};
  for (size_t l = 0; l < layers.size(); ++l)
    emit_kv_shift(b, plan.shift, shift, shift_shape, ctx / 2, c.is_local(static_cast<int64_t>(l)) ? rotation_local : rotation_global, kcache[l], vcache[l],
                  "blk." + std::to_string(l) + ".kv_shift");
  b.finish();
  return std::move(b.plan);
}

// ---- single-op plans (tests) ----

json parse_json(const std::string& text, const char* what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(std::string(what) + " is not valid JSON: " + e.what());
  }
}

Plan build_op(const json& s) {
  const std::string op = s.at("op").get<std::string>();
  Builder b(DeviceLimits{1ull << 30, 1ull << 30, 10, 65535, 256, 256});
  Plan& plan = b.plan;
  plan.kind = op;
  b.subgroups = s.value("subgroups", false);
  b.attn_min_slice = s.value("attn_min_slice", 1);
  const int64_t n_tokens = s.value("n_tokens", 1);
  plan.max_batch = n_tokens;
  const Range step = b.bound_buffer("step", "step", 16 + 4 * static_cast<uint64_t>(n_tokens));
  plan.step_buffer = static_cast<int>(step.buffer);
  b.set_params_buffer(b.add_buffer("params", "params", 16));
  auto act = [&](const std::string& name, int64_t floats) { return b.bound_buffer(name, "activation", 4 * static_cast<uint64_t>(floats)); };
  auto weights = [&](const std::string& name, TensorType type, int64_t rows, int64_t cols) {
    Matrix m{name, type, rows, cols, type_row_bytes(type, static_cast<uint64_t>(cols)), {}};
    const uint32_t buf = b.add_buffer(name, "weights", m.row_bytes * static_cast<uint64_t>(rows) + 4);
    m.parts.push_back(MatrixPart{Range{buf, 0, align_up(m.row_bytes * static_cast<uint64_t>(rows), 4)}, 0, rows});
    return m;
  };
  std::vector<Dispatch>& list = plan.decode;
  if (op == "matmul") {
    const auto types = s.at("types").get<std::vector<std::string>>();
    const auto rows = s.at("rows").get<std::vector<int64_t>>();
    const int64_t cols = s.at("cols").get<int64_t>();
    if (types.empty() || types.size() != rows.size()) throw Error("matmul: types and rows must have the same length");
    std::vector<Matrix> ms;
    int64_t total = 0;
    for (size_t i = 0; i < types.size(); ++i) {
      ms.push_back(weights("w" + std::to_string(i), parse_type_name(types[i]), rows[i], cols));
      total += rows[i];
    }
    MatmulCall c;
    c.label = "matmul";
    for (const Matrix& m : ms) c.w.push_back(&m);
    c.flags = s.value("flags", std::vector<std::string>{});
    const bool gated = std::find(c.flags.begin(), c.flags.end(), "GATED") != c.flags.end();
    c.last_only = s.value("last_only", false);
    const int64_t out_rows = gated ? rows[0] : total;
    const int64_t y_tokens = c.last_only ? 1 : n_tokens;
    c.x = act("x", n_tokens * cols);
    c.y = act("y", y_tokens * out_rows);
    c.norm = act("g", cols);
    c.x_stride = cols;
    c.y_stride = out_rows;
    c.eps = s.value("eps", 1e-5f);
    c.tok = s.value("tok", 1);
    c.rows = s.value("several_rows", 0);  // the verify list's several-token products
    if (c.rows > 1) c.xq = act("xq", xq_words(cols, std::max<int64_t>(n_tokens, c.tok)));
    b.matvec_rows = s.value("matvec_rows", 1);
    b.matvec_blocks = s.value("matvec_blocks", false);
    b.dot8 = s.value("dot8", false);
    b.matvec_pairs = s.value("matvec_pairs", false);
    b.matvec_tokens = s.value("matvec_tokens", true);
    b.matvec_min_groups = s.value("matvec_min_groups", int64_t{0});
    b.matvec_wg = s.value("matvec_wg", b.matvec_wg);
    c.soft_cap = s.value("soft_cap", 0.0f);
    emit_matmul(b, list, step, c);
  } else if (op == "embed") {
    const int64_t rows = s.at("rows").get<int64_t>(), cols = s.at("cols").get<int64_t>();
    const Matrix e = weights("w0", parse_type_name(s.at("type").get<std::string>()), rows, cols);
    emit_embed(b, list, step, e, s.value("scale", 1.0f), act("y", n_tokens * cols), step);  // never chained: the step's flag is 0
  } else if (op == "qkv_post" || op == "attention") {
    const int64_t n_heads = s.at("n_heads").get<int64_t>(), n_kv = s.at("n_kv_heads").get<int64_t>(), hd = s.at("head_dim").get<int64_t>();
    const int64_t ctx = s.at("context").get<int64_t>();
    const int64_t rope_dims = s.value("rope_dims", hd);
    const KvLayout kv = kv_layout(s.value("kv_type", std::string("f32")), hd, n_kv * hd, b.limits());
    const AttnShape shape{n_heads, n_kv, hd, rope_dims / 2, s.value("halves", false), s.value("eps", 1e-5f),
                          s.value("scale", 1.0f / std::sqrt(static_cast<float>(hd))), s.value("soft_cap", 0.0f), s.value("window", int64_t{0}), kv};
    const int64_t qkv_dim = (n_heads + 2 * n_kv) * hd;
    const Range qkv = act("qkv", n_tokens * qkv_dim);
    const Range k = b.bound_buffer("k", "activation", static_cast<uint64_t>(ctx) * kv.row_bytes);
    const Range v = b.bound_buffer("v", "activation", static_cast<uint64_t>(ctx) * kv.row_bytes);
    // qkv_post's inputs; "post": true runs its work inside decode attention.
    const auto flags = s.value("flags", std::vector<std::string>{});
    const bool bias = std::find(flags.begin(), flags.end(), "BIAS") != flags.end();
    const bool qkn = std::find(flags.begin(), flags.end(), "QKNORM") != flags.end();
    const bool post = op == "qkv_post" || s.value("post", false);
    const Range rope = post ? act("rope", ctx * rope_dims) : Range{};
    const Range bias_r = post ? act("bias", qkv_dim) : Range{}, norm_r = post ? act("qknorm", 2 * hd) : Range{};
    const QkvPost inputs{rope, bias ? &bias_r : nullptr, qkn ? &norm_r : nullptr};
    if (op == "qkv_post") {
      emit_qkv_post(b, list, step, shape, qkv, inputs, k, v, "qkv_post");
    } else {
      const int splits = s.value("splits", 0);
      emit_attention(b, list, step, shape, s.value("tq", 1), splits, qkv, qkv_dim, act("out", n_tokens * n_heads * hd), k, v,
                     act("part", n_tokens * n_heads * std::max(splits, 1) * (hd + 2)), "attention", post ? &inputs : nullptr);
    }
  } else if (op == "norm_add") {
    const int64_t dim = s.at("dim").get<int64_t>();
    emit_norm_add(b, list, step, dim, s.value("eps", 1e-5f), act("y", n_tokens * dim), act("x", n_tokens * dim), act("g", dim), "norm_add");
  } else if (op == "sample") {
    const int64_t n = s.at("n").get<int64_t>();
    const int k = s.value("k", 1);
    const Range logits = act("logits", n);
    const Range result = b.bound_buffer("result", "result", 8 * static_cast<uint64_t>(k));
    const Range mask = b.bound_buffer("mask", "mask", mask_bytes(n));
    const Range part = act("part", static_cast<int64_t>(sample_part_bytes(n, k, 1) / 4));
    plan.n_vocab = n;
    plan.result_buffer = static_cast<int>(result.buffer);
    plan.mask_buffer = static_cast<int>(mask.buffer);
    emit_sample(b, list, n, k, false, logits, part, result, &mask);
  } else {
    throw Error("unknown op \"" + op + "\" (matmul, embed, qkv_post, attention, norm_add, sample)");
  }
  plan.prefill = plan.decode;
  b.finish();
  return std::move(b.plan);
}

}  // namespace

std::vector<float> rope_table(int64_t positions, int64_t rope_dims, float base, const float* factors, float linear_scale, float attn_factor) {
  const std::vector<float> inv_freq = ops::rope_inverse_frequencies(rope_dims, base, factors, linear_scale);
  const size_t pairs = inv_freq.size();
  std::vector<float> table(2 * static_cast<size_t>(positions) * pairs), cos(pairs), sin(pairs);
  for (int64_t p = 0; p < positions; ++p) {
    ops::rope_cos_sin(p, inv_freq, attn_factor, cos.data(), sin.data());
    for (size_t i = 0; i < pairs; ++i) {
      table[2 * (static_cast<size_t>(p) * pairs + i)] = cos[i];
      table[2 * (static_cast<size_t>(p) * pairs + i) + 1] = sin[i];
    }
  }
  return table;
}

PlanOptions parse_plan_options(const std::string& text) {
  PlanOptions o;
  if (text.empty()) return o;
  const json j = parse_json(text, "WebGPU plan options");
  if (!j.is_object()) throw Error("WebGPU plan options must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key == "limits") {
      for (const auto& [name, v] : value.items()) {
        if (!v.is_number()) throw Error("limits." + name + " must be a number");
        const uint64_t n = v.get<uint64_t>();
        if (name == "maxStorageBufferBindingSize") o.limits.max_storage_buffer_binding_size = n;
        else if (name == "maxBufferSize") o.limits.max_buffer_size = n;
        else if (name == "maxStorageBuffersPerShaderStage") o.limits.max_storage_buffers_per_shader_stage = static_cast<uint32_t>(n);
        else if (name == "maxComputeWorkgroupsPerDimension") o.limits.max_compute_workgroups_per_dimension = static_cast<uint32_t>(n);
        else if (name == "minStorageBufferOffsetAlignment") o.limits.min_storage_buffer_offset_alignment = static_cast<uint32_t>(n);
        else if (name == "minUniformBufferOffsetAlignment") o.limits.min_uniform_buffer_offset_alignment = static_cast<uint32_t>(n);
        else if (name == "maxComputeWorkgroupStorageSize") o.limits.max_compute_workgroup_storage_size = static_cast<uint32_t>(n);
        // Other GPUSupportedLimits are accepted and ignored, so a host can pass the adapter's limits whole.
      }
    } else if (key == "context_size") o.context_size = value.get<int64_t>();
    else if (key == "max_batch") o.max_batch = value.get<int64_t>();
    else if (key == "verify_batch") o.verify_batch = value.get<int>();
    else if (key == "verify_rows") o.verify_rows = value.get<int>();
    else if (key == "top_k") o.top_k = value.get<int>();
    else if (key == "tok_tile") o.tok_tile = value.get<int>();
    else if (key == "attn_tile") o.attn_tile = value.get<int>();
    else if (key == "attn_splits") o.attn_splits = value.get<int>();
    else if (key == "attn_min_slice") o.attn_min_slice = value.get<int>();
    else if (key == "fuse_qkv_post") o.fuse_qkv_post = value.get<bool>();
    else if (key == "matvec_wg") o.matvec_wg = value.get<int>();
    else if (key == "matvec_rows") o.matvec_rows = value.get<int>();
    else if (key == "matvec_min_groups") o.matvec_min_groups = value.get<int64_t>();
    else if (key == "matvec_min_units") o.matvec_min_units = value.get<int64_t>();
    else if (key == "subgroups") {
      if (!value.is_boolean()) throw Error("subgroups must be true or false (whether the device has the subgroups feature)");
      o.subgroups = value.get<bool>();
    } else if (key == "matvec_blocks") {
      if (!value.is_boolean()) throw Error("matvec_blocks must be true or false (one-token products of Q4_0, Q8_0, Q4_K, Q5_K, Q6_K through matvec.wgsl)");
      o.matvec_blocks = value.get<bool>();
    } else if (key == "matvec_pairs") {
      if (!value.is_boolean()) throw Error("matvec_pairs must be true or false (one-token products of Q4_K, Q5_K take their 32-value units in pairs)");
      o.matvec_pairs = value.get<bool>();
    } else if (key == "matvec_tokens") {
      if (!value.is_boolean()) throw Error("matvec_tokens must be true or false (the verify list's products of Q4_0, Q8_0, Q4_K, Q5_K, Q6_K through matvec.wgsl, all tokens at once)");
      o.matvec_tokens = value.get<bool>();
    } else if (key == "dot8") {
      if (!value.is_boolean()) throw Error("dot8 must be true or false (whether WGSL offers packed_4x8_integer_dot_product: one-token products over 8-bit x)");
      o.dot8 = value.get<bool>();
    }
    else if (key == "kv_type") {
      if (!value.is_string()) throw Error("kv_type must be a string: f16, q8_0 or f32");
      o.kv_type = value.get<std::string>();
      kv_cache_type(o.kv_type);  // a known name, or the error that lists them
    } else throw Error("unknown WebGPU plan option \"" + key + "\" (limits, context_size, max_batch, verify_batch, verify_rows, top_k, tok_tile, attn_tile, attn_splits, attn_min_slice, fuse_qkv_post, matvec_wg, matvec_rows, matvec_min_groups, subgroups, dot8, matvec_blocks, matvec_pairs, matvec_tokens, matvec_min_units, kv_type)");
  }
  return o;
}

int Plan::buffer_index(const std::string& name) const {
  for (size_t i = 0; i < buffers.size(); ++i)
    if (buffers[i].name == name) return static_cast<int>(i);
  return -1;
}

std::string Plan::to_json() const {
  auto dispatches = [](const std::vector<Dispatch>& list) {
    json out = json::array();
    for (const Dispatch& d : list) {
      json binds = json::array();
      for (const Binding& b : d.bindings) binds.push_back({b.binding, b.buffer, b.offset, b.size});
      out.push_back({{"label", d.label}, {"pipeline", d.pipeline}, {"groups", {d.groups[0], d.groups[1], d.groups[2]}},
                     {"token_tile", d.token_tile}, {"bindings", binds}});
    }
    return out;
  };
  json j;
  j["kind"] = kind;
  j["max_batch"] = max_batch;
  j["verify_batch"] = verify_batch;
  j["context_size"] = context_size;
  j["n_vocab"] = n_vocab;
  j["top_k"] = top_k;
  j["step_buffer"] = step_buffer;
  j["result_buffer"] = result_buffer;
  j["logits_buffer"] = logits_buffer;
  j["mask_buffer"] = mask_buffer;
  j["shift_buffer"] = shift_buffer;
  j["seqs_buffer"] = seqs_buffer;
  j["weight_bytes"] = weight_bytes;
  j["total_bytes"] = total_bytes;
  j["kv_type"] = kv_type;
  j["kv_bytes_per_token"] = kv_bytes_per_token;
  j["kv_row_bytes"] = kv_row_bytes;
  j["kv_rows"] = kv_rows;
  j["blob_size"] = blob.size();
  json bufs = json::array();
  for (const BufferDesc& b : buffers) {
    json ups = json::array(), fills = json::array();
    for (const Upload& u : b.uploads) ups.push_back({u.file_offset, u.size, u.buffer_offset});
    for (const Fill& f : b.fills) fills.push_back({f.blob_offset, f.size, f.buffer_offset});
    bufs.push_back({{"name", b.name}, {"role", b.role}, {"size", b.size}, {"uploads", ups}, {"fills", fills}});
  }
  j["buffers"] = bufs;
  json pipes = json::array();
  for (const PipelineDesc& p : pipelines) {
    json layout = json::array();
    for (const LayoutEntry& e : p.layout) layout.push_back({e.binding, e.type});
    pipes.push_back({{"key", p.key}, {"code", p.code}, {"layout", layout}});
  }
  j["pipelines"] = pipes;
  j["decode"] = dispatches(decode);
  j["prefill"] = dispatches(prefill);
  j["verify"] = dispatches(verify);
  j["shift"] = dispatches(shift);
  return j.dump();
}

uint64_t prefix_bytes_needed(const gguf::Header& h) {
  uint64_t needed = h.data_offset;
  // The RoPE factors the plan computes its tables from.
  for (const char* name : {"rope_freqs.weight", "rope_factors_long.weight", "rope_factors_short.weight"})
    if (const gguf::TensorInfo* t = h.find_tensor(name)) needed = std::max(needed, h.data_offset + t->offset + t->n_bytes());
  return needed;
}

std::optional<uint64_t> prefix_bytes_needed(const uint8_t* prefix, size_t prefix_size) {
  const std::optional<gguf::Header> h = gguf::parse_header_prefix(prefix, prefix_size);
  if (!h) return std::nullopt;
  return prefix_bytes_needed(*h);
}

Plan build_model_plan(const uint8_t* prefix, size_t prefix_size, const PlanOptions& options) {
  const std::optional<gguf::Header> h = gguf::parse_header_prefix(prefix, prefix_size);
  if (!h) throw Error("the GGUF header is incomplete: pass more of the file (" + std::to_string(prefix_size) + " bytes given)");
  return build_model_plan(*h, prefix, prefix_size, options);
}

Plan build_model_plan(const gguf::Header& header, const uint8_t* prefix, size_t prefix_size, const PlanOptions& options) {
  return build_from_header(header, [&](const Tensor& t) {
    const uint64_t at = t.file_offset, bytes = t.row_bytes();
    if (at + bytes > prefix_size)
      throw Error(t.name + " lies at bytes [" + std::to_string(at) + ", " + std::to_string(at + bytes) + ") of the file: pass a prefix that covers it (prefix_bytes_needed)");
    std::vector<float> values(static_cast<size_t>(bytes / 4));
    std::memcpy(values.data(), prefix + at, values.size() * 4);
    return values;
  }, options);
}

Plan build_model_plan(const Model& model, const PlanOptions& options) {
  const gguf::File& file = model.file();
  // The plan binds shapes only (no data), so the values come from the model's own copy of the tensor.
  return build_from_header(file.header(), [&](const Tensor& t) {
    const auto* values = reinterpret_cast<const float*>(file.tensor_data(*file.header().find_tensor(t.name)));
    return std::vector<float>(values, values + t.cols);
  }, options);
}

Plan build_op_plan(const std::string& spec_json) {
  const json s = parse_json(spec_json, "op spec");
  try {
    return build_op(s);
  } catch (const json::exception& e) {
    throw Error(std::string("op spec: ") + e.what());
  }
}

}  // namespace tabllm::webgpu
