#include "runtime/cpu_forward.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "quant/quantize.h"

namespace tabllm {
namespace {

void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void add_bias(float* x, const Tensor& bias, int64_t n_tokens, int64_t n) {
  if (!bias.present()) return;
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t i = 0; i < n; ++i) x[t * n + i] += bias.f32()[i];
}

// Rotates the first rope_dims elements of each head by the position's angles.
void rope(float* head, const float* cos, const float* sin, int64_t rope_dims, int64_t head_dim, RopePairing pairing) {
  const int64_t half = rope_dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    const int64_t a = pairing == RopePairing::Interleaved ? 2 * i : i;
    const int64_t b = pairing == RopePairing::Interleaved ? 2 * i + 1 : i + head_dim / 2;
    const float x0 = head[a], x1 = head[b];
    head[a] = x0 * cos[i] - x1 * sin[i];
    head[b] = x0 * sin[i] + x1 * cos[i];
  }
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

}  // namespace

CpuForward::CpuForward(const Model& model, CpuOptions options)
    : model_(model),
      c_(model.config()),
      options_(options),
      pool_(std::max(1, options.n_threads)),
      kv_(c_.n_layers, c_.kv_dim(), options.context_size > 0 ? std::min(options.context_size, c_.context_length) : c_.context_length) {
  if (options_.max_batch < 1) throw Error("max_batch must be at least 1");
  if (c_.rope_pairing == RopePairing::Halves && c_.rope_dims != c_.head_dim)
    throw Error("partial RoPE with half pairing is not supported");
  const int64_t half = c_.rope_dims / 2;
  inv_freq_.resize(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(static_cast<double>(c_.rope_base), -2.0 * static_cast<double>(i) / static_cast<double>(c_.rope_dims));
    if (model.weights().rope_freqs.present()) f /= model.weights().rope_freqs.f32()[i];
    inv_freq_[static_cast<size_t>(i)] = static_cast<float>(f / c_.rope_linear_scale);
  }
  const auto B = static_cast<size_t>(options_.max_batch);
  x_.resize(B * c_.dim);
  xb_.resize(B * std::max(c_.dim, c_.q_dim()));
  q_.resize(B * c_.q_dim());
  k_.resize(B * c_.kv_dim());
  v_.resize(B * c_.kv_dim());
  att_.resize(B * c_.q_dim());
  gate_.resize(B * c_.ffn_dim);
  up_.resize(B * c_.ffn_dim);
  rope_cos_.resize(B * half);
  rope_sin_.resize(B * half);
  scores_.resize(static_cast<size_t>(pool_.size()) * static_cast<size_t>(kv_.capacity()));
}

CpuForward::~CpuForward() = default;

void CpuForward::matmul(const Tensor& w, const float* x, int64_t n, float* y) {
  cpu::matmul(w.type, w.data, w.rows, w.cols, x, n, y, pool_, scratch_, options_.path);
}

void CpuForward::forward(std::span<const int32_t> tokens, int64_t pos, Logits which, float* logits) {
  if (tokens.empty()) throw Error("forward needs at least one token");
  if (pos < 0) throw Error("negative position");
  kv_.reserve(pos + static_cast<int64_t>(tokens.size()));
  for (int32_t t : tokens)
    if (t < 0 || t >= c_.n_vocab) throw Error("token id " + std::to_string(t) + " is outside the vocabulary (0.." + std::to_string(c_.n_vocab - 1) + ")");
  const int64_t total = static_cast<int64_t>(tokens.size());
  for (int64_t start = 0; start < total; start += options_.max_batch) {
    const int64_t n = std::min(options_.max_batch, total - start);
    const bool last_chunk = start + n == total;
    if (which == Logits::All)
      forward_batch(tokens.data() + start, n, pos + start, Logits::All, logits + start * c_.n_vocab);
    else
      forward_batch(tokens.data() + start, n, pos + start, Logits::Last, last_chunk ? logits : nullptr);
  }
}

void CpuForward::forward_batch(const int32_t* tokens, int64_t n, int64_t pos, Logits which, float* logits) {
  const ModelWeights& w = model_.weights();
  const int64_t dim = c_.dim, q_dim = c_.q_dim(), kv_dim = c_.kv_dim(), hd = c_.head_dim, half = c_.rope_dims / 2;

  for (int64_t t = 0; t < n; ++t) {
    const Tensor& e = w.token_embd;
    dequantize_row(e.type, e.data + static_cast<size_t>(tokens[t]) * e.row_bytes(), &x_[t * dim], dim);
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(pos + t) * inv_freq_[i];
      rope_cos_[t * half + i] = static_cast<float>(std::cos(angle));
      rope_sin_[t * half + i] = static_cast<float>(std::sin(angle));
    }
  }

  for (int64_t l = 0; l < c_.n_layers; ++l) {
    const LayerWeights& L = w.layers[l];
    // Attention block.
    for (int64_t t = 0; t < n; ++t) rmsnorm(&xb_[t * dim], &x_[t * dim], L.attn_norm.f32(), dim, c_.norm_eps);
    matmul(L.wq, xb_.data(), n, q_.data());
    matmul(L.wk, xb_.data(), n, k_.data());
    matmul(L.wv, xb_.data(), n, v_.data());
    add_bias(q_.data(), L.bq, n, q_dim);
    add_bias(k_.data(), L.bk, n, kv_dim);
    add_bias(v_.data(), L.bv, n, kv_dim);
    for (int64_t t = 0; t < n; ++t) {
      const float* cs = &rope_cos_[t * half];
      const float* sn = &rope_sin_[t * half];
      for (int64_t h = 0; h < c_.n_heads; ++h) {
        float* head = &q_[t * q_dim + h * hd];
        if (c_.qk_norm) rmsnorm(head, head, L.q_norm.f32(), hd, c_.norm_eps);
        rope(head, cs, sn, c_.rope_dims, hd, c_.rope_pairing);
      }
      for (int64_t h = 0; h < c_.n_kv_heads; ++h) {
        float* head = &k_[t * kv_dim + h * hd];
        if (c_.qk_norm) rmsnorm(head, head, L.k_norm.f32(), hd, c_.norm_eps);
        rope(head, cs, sn, c_.rope_dims, hd, c_.rope_pairing);
      }
      std::copy_n(&k_[t * kv_dim], kv_dim, kv_.key(l, pos + t));
      std::copy_n(&v_[t * kv_dim], kv_dim, kv_.value(l, pos + t));
    }
    attention(l, n, pos);
    matmul(L.wo, att_.data(), n, xb_.data());
    for (int64_t i = 0; i < n * dim; ++i) x_[i] += xb_[i];

    // Feed-forward block: down(silu(gate(x)) * up(x)).
    for (int64_t t = 0; t < n; ++t) rmsnorm(&xb_[t * dim], &x_[t * dim], L.ffn_norm.f32(), dim, c_.norm_eps);
    matmul(L.w_gate, xb_.data(), n, gate_.data());
    matmul(L.w_up, xb_.data(), n, up_.data());
    for (int64_t i = 0; i < n * c_.ffn_dim; ++i) gate_[i] = silu(gate_[i]) * up_[i];
    matmul(L.w_down, gate_.data(), n, xb_.data());
    for (int64_t i = 0; i < n * dim; ++i) x_[i] += xb_[i];
  }

  if (!logits) return;
  const int64_t first = which == Logits::All ? 0 : n - 1;
  const int64_t count = n - first;
  for (int64_t t = 0; t < count; ++t)
    rmsnorm(&xb_[t * dim], &x_[(first + t) * dim], w.output_norm.f32(), dim, c_.norm_eps);
  matmul(w.output, xb_.data(), count, logits);
}

// Causal attention of the n new tokens over every cached position, heads split across threads.
void CpuForward::attention(int64_t layer, int64_t n, int64_t pos) {
  // Everything the workers need, behind one pointer: a lambda capturing only that fits in
  // std::function's inline storage, so no allocation happens per layer and token.
  struct Job {
    CpuForward* self;
    int64_t layer, n, pos, hd, q_dim, group;
    float scale;
  } job{this, layer, n, pos, c_.head_dim, c_.q_dim(), c_.n_heads / c_.n_kv_heads,
        1.0f / std::sqrt(static_cast<float>(c_.head_dim))};
  const Job* j = &job;
  pool_.run([j](int thread, int n_threads) {
    CpuForward& f = *j->self;
    const cpu::Path path = f.options_.path;
    const int64_t n_heads = f.c_.n_heads, hd = j->hd;
    float* scores = &f.scores_[static_cast<size_t>(thread) * static_cast<size_t>(f.kv_.capacity())];
    for (int64_t task = thread; task < j->n * n_heads; task += n_threads) {
      const int64_t t = task / n_heads, h = task % n_heads;
      const int64_t kv_offset = (h / j->group) * hd;
      const float* q = &f.q_[t * j->q_dim + h * hd];
      const int64_t n_pos = j->pos + t + 1;
      float max_score = -INFINITY;
      for (int64_t p = 0; p < n_pos; ++p) {
        scores[p] = cpu::dot_f32(q, f.kv_.key(j->layer, p) + kv_offset, hd, path) * j->scale;
        max_score = std::max(max_score, scores[p]);
      }
      float sum = 0.0f;
      for (int64_t p = 0; p < n_pos; ++p) {
        scores[p] = std::exp(scores[p] - max_score);
        sum += scores[p];
      }
      float* out = &f.att_[t * j->q_dim + h * hd];
      std::fill_n(out, hd, 0.0f);
      for (int64_t p = 0; p < n_pos; ++p) cpu::axpy_f32(scores[p] / sum, f.kv_.value(j->layer, p) + kv_offset, out, hd, path);
    }
  });
}

}  // namespace tabllm
