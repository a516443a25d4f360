#include "backend/webgpu/encoder_plan.h"

#include "backend/webgpu/plan_builder.h"
#include "model/weights.h"

namespace tabllm::webgpu {

using namespace detail;

namespace {

constexpr int64_t kMaxBatch = 16384;
constexpr int64_t kMaxHeadDim = 256;  // encoder_attention keeps a head's query in workgroup memory

const std::string U = "uniform", R = "read-only-storage", W = "storage";

struct Pass {
  Builder& b;
  const ModelConfig& c;
  Range step, seqs;
  int tok = kTiledTokens;

  // One dispatch of an embedding-pass kernel with a workgroup per token (or per token and head).
  void per_token(std::vector<Dispatch>& list, const std::string& label, uint32_t pipeline, std::vector<Binding> bindings, uint32_t gx = 1) {
    Dispatch d;
    d.label = label;
    d.pipeline = pipeline;
    d.bindings = std::move(bindings);
    d.groups[0] = gx;
    d.token_tile = 1;
    list.push_back(std::move(d));
  }

  // x = LayerNorm(x (+ y + bias)) * g + beta; with beta null, x = rmsnorm(x) * g.
  void norm(std::vector<Dispatch>& list, const std::string& label, Range x, const Range* y, const Range* bias, Range g, const Range* beta) {
    std::vector<std::string> flags;
    std::vector<LayoutEntry> layout = {{0, U}, {1, R}, {3, W}, {4, R}};
    if (beta) layout.push_back({5, R});
    else flags.push_back("RMS");
    if (y) {
      flags.push_back("RESIDUAL");
      layout.push_back({2, R});
    }
    if (bias) {
      flags.push_back("BIAS");
      layout.push_back({6, R});
    }
    const uint32_t p = b.pipeline(KernelSpec{"encoder_norm", flags, {}, {{"WG", kWG}}}, layout);
    std::vector<Binding> binds = {bind(0, b.params({u32(c.dim), f32_bits(c.norm_eps), f32_bits(1.0f / static_cast<float>(c.dim))})), bind(1, step),
                                  bind(3, x), bind(4, g)};
    if (beta) binds.push_back(bind(5, *beta));
    if (y) binds.push_back(bind(2, *y));
    if (bias) binds.push_back(bind(6, *bias));
    per_token(list, label, p, std::move(binds));
  }
};

void check_shape(const ModelConfig& c, const ModelWeights& w) {
  if (c.n_heads % c.n_kv_heads != 0) throw Error("n_heads must be a multiple of n_kv_heads");
  if (c.head_dim > kMaxHeadDim || c.head_dim % 2 != 0)
    throw Error("the WebGPU embedding kernels need an even head_dim of at most " + std::to_string(kMaxHeadDim) + ", got " + std::to_string(c.head_dim));
  if (c.dim % 8 != 0) throw Error("the WebGPU embedding kernels need a model dimension that is a multiple of 8, got " + std::to_string(c.dim));
  if (c.ffn_dim % 4 != 0) throw Error("the WebGPU kernels need a feed-forward dimension that is a multiple of 4, got " + std::to_string(c.ffn_dim));
  if (c.pooling == Pooling::None) throw Error("'" + c.name + "' has pooling_type none (one vector per token): tabllm embeds whole inputs and needs mean, cls or last");
  if (c.encoder) return;
  // A decoder runs here as a causal encoder: its plain pre-norm blocks only.
  const bool local = std::find(c.layer_is_local.begin(), c.layer_is_local.end(), true) != c.layer_is_local.end();
  std::string what;
  if (c.post_norms) what = "post-norms";
  else if (c.attn_soft_cap > 0) what = "soft-capped attention scores";
  else if (local) what = "sliding-window layers";
  else if (c.scale_embedding) what = "a scaled input embedding";
  else if (w.rope_freqs.present() || w.rope_long.present() || w.rope_short.present()) what = "RoPE frequency factors";
  else if (c.ffn_activation != FfnActivation::Silu) what = "a GELU feed-forward block";
  if (!what.empty())
    throw Error("'" + c.name + "' (" + c.arch + ") has " + what + ", which the WebGPU embedding pass does not run: use the WebAssembly backend for it");
}

}  // namespace

Plan build_encoder_plan(const gguf::Header& h, const ModelConfig& c, const PlanOptions& o) {
  if (!c.is_embedding()) throw Error("'" + c.name + "' is not an embedding model (" + c.arch + ")");
  if (o.max_batch < 1 || o.max_batch > kMaxBatch) throw Error("max_batch must be in [1, " + std::to_string(kMaxBatch) + "] for an embedding pass, got " + std::to_string(o.max_batch));
  const ModelWeights w = bind_weights(h, c);
  check_shape(c, w);
  const bool decoder = !c.encoder;
  const int64_t B = o.max_batch;
  const int64_t dim = c.dim, q_dim = c.q_dim(), kv_dim = c.kv_dim(), qkv_dim = q_dim + 2 * kv_dim;

  Builder b(o.limits);
  b.subgroups = false;  // the tiled products only
  Plan& plan = b.plan;
  plan.kind = "encoder";
  plan.max_batch = B;
  plan.context_size = 0;  // no KV cache: a pass holds whole inputs, each at most the model's context (the host checks)

  auto words = [](int64_t n) { return 4 * static_cast<uint64_t>(n); };
  Pass e{b, c, b.bound_buffer("step", "step", words(4 + B)), {}, o.tok_tile};
  plan.step_buffer = static_cast<int>(e.step.buffer);
  b.set_params_buffer(b.add_buffer("params", "params", 16));
  e.seqs = b.bound_buffer("seqs", "step", words(4 + 3 * B + 1));
  plan.seqs_buffer = static_cast<int>(e.seqs.buffer);
  const Range x = b.bound_buffer("x", "activation", words(B * dim));
  const Range xb = decoder ? Range{} : b.bound_buffer("xb", "activation", words(B * dim));
  const Range qkv = b.bound_buffer("qkv", "activation", words(B * qkv_dim));
  const Range att = b.bound_buffer("att", "activation", words(B * q_dim));
  const Range ffn = b.bound_buffer("ffn", "activation", words(B * c.ffn_dim));
  // Read back by name: the executor's readback slots are sized by result_buffer, which stays unset.
  const Range pooled = b.bound_buffer("pooled", "result", words(B * dim));

  auto vec = [&](const Tensor& t) { return b.upload(t.file_offset, t.row_bytes(), t.name); };
  auto mat = [&](const Tensor& t) { return b.matrix(t.name, t.type, t.rows, t.cols, t.file_offset); };
  std::vector<Dispatch>& list = plan.prefill;

  // Input embeddings.
  const Matrix embd = mat(w.token_embd);
  const bool positions = c.position_embeddings;
  const Matrix types = decoder ? Matrix{} : b.matrix(w.token_types.name, w.token_types.type, 1, dim, w.token_types.file_offset);  // row 0 only
  const Matrix pos = positions ? mat(w.position_embd) : Matrix{};
  if (positions && pos.parts.size() != 1) throw Error("position_embd needs one binding; this device's maxStorageBufferBindingSize is too small");
  std::vector<LayoutEntry> embed_layout = {{0, U}, {1, R}, {2, R}, {3, W}, {4, R}};
  std::vector<TensorType> embed_types = {embd.type};
  std::vector<std::string> embed_flags;
  if (!decoder) {
    embed_flags.push_back("TYPES");
    embed_layout.push_back({5, R});
    embed_types.push_back(types.type);
  }
  if (positions) {
    embed_flags.push_back("POSITIONS");
    embed_layout.push_back({6, R});
    embed_types.push_back(pos.type);
  }
  const uint32_t embed_pipeline = b.pipeline(KernelSpec{"encoder_embed", embed_flags, embed_types, {{"WG", kWG}}}, embed_layout);
  for (size_t p = 0; p < embd.parts.size(); ++p) {
    const MatrixPart& part = embd.parts[p];
    std::vector<Binding> binds = {bind(0, b.params({u32(embd.row_bytes), u32(positions ? pos.row_bytes : 0), u32(dim), u32(part.row_first), u32(part.rows)})),
                                  bind(1, e.step), bind(2, e.seqs), bind(3, x), bind(4, part.range)};
    if (!decoder) binds.push_back(bind(5, types.parts[0].range));
    if (positions) binds.push_back(bind(6, pos.parts[0].range));
    e.per_token(list, embd.parts.size() > 1 ? "embed[" + std::to_string(p) + "]" : "embed", embed_pipeline, std::move(binds), u32((dim / 8 + kWG - 1) / kWG));
  }
  if (!decoder) {
    const Range beta = vec(w.embd_norm_b);
    e.norm(list, "embed_norm", x, nullptr, nullptr, vec(w.embd_norm), &beta);
  }

  // RoPE (nomic-bert, decoders): (cos, sin) per position within an input, which a pass holds whole.
  Range rope{};
  if (!positions) {
    const std::vector<float> table = rope_table(std::min(c.context_length, B), c.rope_dims, c.rope_base, nullptr, c.rope_linear_scale, 1.0f);
    rope = b.place("weights", std::max<uint64_t>(table.size() * 4, 16), "the RoPE table");
    b.fill(rope.buffer, rope.offset, table.data(), table.size() * 4);
  }
  const std::vector<std::string> norm_flag = decoder ? std::vector<std::string>{"NORM"} : std::vector<std::string>{};
  auto with = [](std::vector<std::string> flags, std::initializer_list<const char*> more) {
    for (const char* f : more) flags.push_back(f);
    return flags;
  };

  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& L = w.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    const Matrix wq = mat(L.wq), wk = mat(L.wk), wv = mat(L.wv), wo = mat(L.wo), up = mat(L.w_up), down = mat(L.w_down);
    const Matrix gate = c.ffn_gated ? mat(L.w_gate) : Matrix{};
    if (c.ffn_gated && gate.parts.size() != up.parts.size()) throw Error("ffn_gate and ffn_up of " + p + " split differently over bindings");
    // A decoder's pre-norms are fused into its products (NORM: rmsnorm of x with attn_norm / ffn_norm).
    const Range attn_norm = decoder ? vec(L.attn_norm) : Range{};
    if (wq.parts.size() == 1 && wk.parts.size() == 1 && wv.parts.size() == 1) {
      emit_matmul(b, list, e.step, MatmulCall{p + "qkv", {&wq, &wk, &wv}, with(norm_flag, {"MULTI"}), x, qkv, attn_norm, dim, qkv_dim, 0, false, c.norm_eps, e.tok});
    } else {
      emit_matmul(b, list, e.step, MatmulCall{p + "q", {&wq}, norm_flag, x, qkv, attn_norm, dim, qkv_dim, 0, false, c.norm_eps, e.tok});
      emit_matmul(b, list, e.step, MatmulCall{p + "k", {&wk}, norm_flag, x, qkv, attn_norm, dim, qkv_dim, q_dim, false, c.norm_eps, e.tok});
      emit_matmul(b, list, e.step, MatmulCall{p + "v", {&wv}, norm_flag, x, qkv, attn_norm, dim, qkv_dim, q_dim + kv_dim, false, c.norm_eps, e.tok});
    }
    if (c.qkv_bias || c.qk_norm || !positions) {
      std::vector<std::string> flags;
      std::vector<LayoutEntry> layout = {{0, U}, {1, R}, {2, R}, {3, W}};
      std::vector<Binding> binds = {bind(0, b.params({u32(qkv_dim), u32(c.n_heads + c.n_kv_heads), u32(c.head_dim), u32(c.rope_dims / 2),
                                                      c.rope_pairing == RopePairing::Halves ? 1u : 0u, u32(c.n_heads), f32_bits(c.norm_eps)})),
                                    bind(1, e.step), bind(2, e.seqs), bind(3, qkv)};
      auto add = [&](const char* flag, uint32_t binding, Range r) {
        flags.push_back(flag);
        layout.push_back({binding, R});
        binds.push_back(bind(binding, r));
      };
      if (!positions) add("ROPE", 4, rope);
      if (c.qkv_bias) add("BIAS", 5, b.upload_side_by_side<Tensor>({&L.bq, &L.bk, &L.bv}, "qkv bias"));
      if (c.qk_norm) add("QKNORM", 6, b.upload_side_by_side<Tensor>({&L.q_norm, &L.k_norm}, "q/k norm"));
      e.per_token(list, p + "qkv_post", b.pipeline(KernelSpec{"encoder_qkv", flags, {}, {{"WG", kWG}}}, layout), std::move(binds));
    }
    const uint32_t attention = b.pipeline(KernelSpec{"encoder_attention", {}, {}, {{"WG", kWG}, {"HD", c.head_dim}}}, {{0, U}, {1, R}, {2, R}, {3, R}, {4, W}});
    e.per_token(list, p + "attention", attention,
                {bind(0, b.params({u32(c.n_heads), u32(c.n_kv_heads), u32(qkv_dim), u32(q_dim), u32(kv_dim), f32_bits(c.attn_scale), c.causal ? 1u : 0u})),
                 bind(1, e.step), bind(2, e.seqs), bind(3, qkv), bind(4, att)},
                u32(c.n_heads));

    if (decoder) {  // pre-norm blocks: x += wo·att; x += down·(silu(gate·n(x)) * up·n(x))
      emit_matmul(b, list, e.step, MatmulCall{p + "wo", {&wo}, {"RESIDUAL"}, att, x, {}, q_dim, dim, 0, false, 0, e.tok});
      emit_matmul(b, list, e.step, MatmulCall{p + "gate_up", {&gate, &up}, {"NORM", "GATED"}, x, ffn, vec(L.ffn_norm), dim, c.ffn_dim, 0, false, c.norm_eps, e.tok});
      emit_matmul(b, list, e.step, MatmulCall{p + "down", {&down}, {"RESIDUAL"}, ffn, x, {}, c.ffn_dim, dim, 0, false, 0, e.tok});
      continue;
    }
    // Post-norm blocks (bert, nomic-bert): x = LN(x + wo·att + bo); x = LN(x + down·ffn(x) + b_down).
    emit_matmul(b, list, e.step, MatmulCall{p + "wo", {&wo}, {}, att, xb, {}, q_dim, dim, 0, false, 0, e.tok});
    const Range bo = L.bo.present() ? vec(L.bo) : Range{};
    const Range attn_beta = vec(L.attn_out_norm_b);
    e.norm(list, p + "attn_norm", x, &xb, L.bo.present() ? &bo : nullptr, vec(L.attn_out_norm), &attn_beta);
    if (c.ffn_gated) {
      if (L.b_up.present()) throw Error(L.b_up.name + ": a bias on a gated feed-forward block is not supported by the WebGPU embedding pass");
      const std::vector<std::string> ffn_flags = c.ffn_activation == FfnActivation::GeluTanh ? std::vector<std::string>{"GATED", "GELU"} : std::vector<std::string>{"GATED"};
      emit_matmul(b, list, e.step, MatmulCall{p + "gate_up", {&gate, &up}, ffn_flags, x, ffn, {}, dim, c.ffn_dim, 0, false, 0, e.tok});
    } else {
      emit_matmul(b, list, e.step, MatmulCall{p + "up", {&up}, {}, x, ffn, {}, dim, c.ffn_dim, 0, false, 0, e.tok});
      std::vector<std::string> flags;
      if (c.ffn_activation == FfnActivation::GeluTanh) flags.push_back("GELU");
      std::vector<LayoutEntry> layout = {{0, U}, {1, R}, {3, W}};
      std::vector<Binding> binds = {bind(0, b.params({u32(c.ffn_dim)})), bind(1, e.step), bind(3, ffn)};
      if (L.b_up.present()) {
        flags.push_back("BIAS");
        layout.push_back({4, R});
        binds.push_back(bind(4, vec(L.b_up)));
      }
      e.per_token(list, p + "act", b.pipeline(KernelSpec{"encoder_act", flags, {}, {{"WG", kWG}}}, layout), std::move(binds), u32((c.ffn_dim + kWG - 1) / kWG));
    }
    emit_matmul(b, list, e.step, MatmulCall{p + "down", {&down}, {}, ffn, xb, {}, c.ffn_dim, dim, 0, false, 0, e.tok});
    const Range bd = L.b_down.present() ? vec(L.b_down) : Range{};
    const Range ffn_beta = vec(L.layer_out_norm_b);
    e.norm(list, p + "ffn_norm", x, &xb, L.b_down.present() ? &bd : nullptr, vec(L.layer_out_norm), &ffn_beta);
  }
  if (decoder) e.norm(list, "output_norm", x, nullptr, nullptr, vec(w.output_norm), nullptr);

  const uint32_t pool = b.pipeline(KernelSpec{"encoder_pool", {}, {}, {{"WG", kWG}}}, {{0, U}, {1, R}, {2, R}, {3, R}, {4, W}});
  e.per_token(list, "pool", pool, {bind(0, b.params({u32(dim), static_cast<uint32_t>(c.pooling)})), bind(1, e.step), bind(2, e.seqs), bind(3, x), bind(4, pooled)});
  b.finish();
  return std::move(b.plan);
}

}  // namespace tabllm::webgpu
