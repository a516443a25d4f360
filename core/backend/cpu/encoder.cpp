#include "backend/cpu/encoder.h"

#include <algorithm>

#include "backend/cpu/bias.h"
#include "common/error.h"
#include "ops/activations.h"
#include "ops/attention.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "quant/quantize.h"

namespace tabllm {

using cpu::add_bias;

CpuEncoder::CpuEncoder(const Model& model, int n_threads, cpu::Path path)
    : model_(model), c_(model.config()), path_(path), pool_(std::max(1, n_threads)) {
  if (!c_.encoder) throw Error("'" + c_.name + "' is not an encoder (" + c_.arch + ")");
  const Tensor& types = model.weights().token_types;
  type_row_.resize(static_cast<size_t>(c_.dim));
  dequantize_row(types.type, types.data, type_row_.data(), c_.dim);
  if (!c_.position_embeddings) inv_freq_ = ops::rope_inverse_frequencies(c_.rope_dims, c_.rope_base, nullptr, c_.rope_linear_scale);
}

void CpuEncoder::matmul(const Tensor& w, const float* x, int64_t n, float* y) {
  cpu::matmul(w.type, w.data, w.rows, w.cols, x, n, y, pool_, scratch_, path_);
}

float CpuEncoder::activation(float x) const {
  return c_.ffn_activation == FfnActivation::GeluTanh ? ops::gelu_tanh(x) : ops::silu(x);
}

void CpuEncoder::hidden_states(std::span<const std::span<const int32_t>> inputs, float* out) {
  const ModelWeights& w = model_.weights();
  const int64_t dim = c_.dim, q_dim = c_.q_dim(), kv_dim = c_.kv_dim(), hd = c_.head_dim, half = c_.rope_dims / 2;
  int64_t n = 0, longest = 0;
  for (const auto& input : inputs) {
    n += static_cast<int64_t>(input.size());
    longest = std::max<int64_t>(longest, static_cast<int64_t>(input.size()));
  }
  if (n == 0) return;
  const auto grow = [](std::vector<float>& v, int64_t size) { if (static_cast<int64_t>(v.size()) < size) v.resize(static_cast<size_t>(size)); };
  grow(x_, n * dim);
  grow(xb_, n * dim);
  grow(q_, n * q_dim);
  grow(k_, n * kv_dim);
  grow(v_, n * kv_dim);
  grow(att_, n * q_dim);
  grow(up_, n * c_.ffn_dim);
  if (c_.ffn_gated) grow(gate_, n * c_.ffn_dim);
  grow(scores_, pool_.size() * longest);
  start_.resize(static_cast<size_t>(n));
  length_.resize(static_cast<size_t>(n));
  position_.resize(static_cast<size_t>(n));
  if (!c_.position_embeddings) {
    grow(cos_, n * half);
    grow(sin_, n * half);
  }

  // Input embeddings: token + type 0 (+ absolute position), LayerNorm.
  int64_t t = 0;
  for (const auto& input : inputs) {
    const int64_t begin = t, len = static_cast<int64_t>(input.size());
    for (int64_t p = 0; p < len; ++p, ++t) {
      start_[t] = begin;
      length_[t] = len;
      position_[t] = p;
      float* x = &x_[t * dim];
      const Tensor& e = w.token_embd;
      dequantize_row(e.type, e.data + static_cast<size_t>(input[p]) * e.row_bytes(), x, dim);
      for (int64_t i = 0; i < dim; ++i) x[i] += type_row_[i];
      if (c_.position_embeddings) {
        const Tensor& pe = w.position_embd;
        dequantize_row(pe.type, pe.data + static_cast<size_t>(p) * pe.row_bytes(), &xb_[t * dim], dim);
        for (int64_t i = 0; i < dim; ++i) x[i] += xb_[t * dim + i];
      } else {
        ops::rope_cos_sin(p, inv_freq_, 1.0f, &cos_[t * half], &sin_[t * half]);
      }
      ops::layernorm(x, x, w.embd_norm.f32(), w.embd_norm_b.f32(), dim, c_.norm_eps);
    }
  }

  for (const LayerWeights& L : w.layers) {
    matmul(L.wq, x_.data(), n, q_.data());
    matmul(L.wk, x_.data(), n, k_.data());
    matmul(L.wv, x_.data(), n, v_.data());
    add_bias(q_.data(), L.bq, n, q_dim);
    add_bias(k_.data(), L.bk, n, kv_dim);
    add_bias(v_.data(), L.bv, n, kv_dim);
    if (!c_.position_embeddings) {
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t h = 0; h < c_.n_heads; ++h) ops::rope_rotate(&q_[i * q_dim + h * hd], &cos_[i * half], &sin_[i * half], c_.rope_dims, c_.rope_pairing);
        for (int64_t h = 0; h < c_.n_kv_heads; ++h) ops::rope_rotate(&k_[i * kv_dim + h * hd], &cos_[i * half], &sin_[i * half], c_.rope_dims, c_.rope_pairing);
      }
    }
    attention(n);
    matmul(L.wo, att_.data(), n, xb_.data());
    add_bias(xb_.data(), L.bo, n, dim);
    for (int64_t i = 0; i < n * dim; ++i) x_[i] += xb_[i];
    for (int64_t i = 0; i < n; ++i) ops::layernorm(&x_[i * dim], &x_[i * dim], L.attn_out_norm.f32(), L.attn_out_norm_b.f32(), dim, c_.norm_eps);

    matmul(L.w_up, x_.data(), n, up_.data());
    add_bias(up_.data(), L.b_up, n, c_.ffn_dim);
    if (c_.ffn_gated) {
      matmul(L.w_gate, x_.data(), n, gate_.data());
      for (int64_t i = 0; i < n * c_.ffn_dim; ++i) up_[i] *= activation(gate_[i]);
    } else {
      for (int64_t i = 0; i < n * c_.ffn_dim; ++i) up_[i] = activation(up_[i]);
    }
    matmul(L.w_down, up_.data(), n, xb_.data());
    add_bias(xb_.data(), L.b_down, n, dim);
    for (int64_t i = 0; i < n * dim; ++i) x_[i] += xb_[i];
    for (int64_t i = 0; i < n; ++i) ops::layernorm(&x_[i * dim], &x_[i * dim], L.layer_out_norm.f32(), L.layer_out_norm_b.f32(), dim, c_.norm_eps);
  }
  std::copy_n(x_.data(), n * dim, out);
}

// Each token's heads attend over the tokens of its own input (the earlier ones only when causal),
// (token, head) pairs split across threads.
void CpuEncoder::attention(int64_t n) {
  const int64_t hd = c_.head_dim, q_dim = c_.q_dim(), kv_dim = c_.kv_dim(), group = c_.n_heads / c_.n_kv_heads;
  const int64_t longest = static_cast<int64_t>(scores_.size()) / pool_.size();
  const ops::AttentionShape shape{hd, c_.attn_scale, 0.0f};
  pool_.run(n * c_.n_heads, 1, [&](int64_t begin, int64_t end, int thread) {
    float* scores = &scores_[static_cast<size_t>(thread * longest)];
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / c_.n_heads, h = task % c_.n_heads;
      const int64_t first = start_[t], kv_offset = (h / group) * hd;
      const int64_t seen = c_.causal ? position_[t] + 1 : length_[t];
      ops::attend(
          &q_[t * q_dim + h * hd], shape, 0, seen, [&](int64_t p) { return &k_[(first + p) * kv_dim + kv_offset]; },
          [&](int64_t p) { return &v_[(first + p) * kv_dim + kv_offset]; },
          [this](const float* a, const float* b, int64_t m) { return cpu::dot_f32(a, b, m, path_); },
          [this](float alpha, const float* x, float* y, int64_t m) { cpu::axpy_f32(alpha, x, y, m, path_); }, scores,
          &att_[t * q_dim + h * hd]);
    }
  });
}

}  // namespace tabllm
