#include "backend/cpu/forward.h"

#include <algorithm>
#include <cmath>

#include "backend/cpu/bias.h"
#include "common/error.h"
#include "ops/activations.h"
#include "ops/attention.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "quant/quantize.h"

namespace tabllm {

using cpu::add_bias;

CpuForward::CpuForward(const Model& model, CpuOptions options)
    : model_(model),
      c_(model.config()),
      options_(options),
      pool_(std::max(1, options.n_threads)),
      kv_(c_.n_layers, c_.kv_dim(), options.context_size > 0 ? std::min(options.context_size, c_.context_length) : c_.context_length,
          options.kv_type) {
  if (c_.encoder)
    throw Error("'" + c_.name + "' is a " + c_.arch + " encoder, an embedding model with no language-model head: it gives embeddings, not text");
  if (options_.max_batch < 1) throw Error("max_batch must be at least 1");
  const int64_t half = c_.rope_dims / 2;
  const Tensor& factors = rope_factors(model.weights(), c_, kv_.capacity());
  const float* f = factors.present() ? factors.f32() : nullptr;
  inv_freq_global_ = ops::rope_inverse_frequencies(c_.rope_dims, c_.rope_base, f, c_.rope_linear_scale);
  inv_freq_local_ = ops::rope_inverse_frequencies(c_.rope_dims, c_.rope_local.base, f, c_.rope_local.linear_scale);
  const auto B = static_cast<size_t>(options_.max_batch);
  x_.resize(B * c_.dim);
  xb_.resize(B * std::max(c_.dim, c_.q_dim()));
  q_.resize(B * c_.q_dim());
  k_.resize(B * c_.kv_dim());
  v_.resize(B * c_.kv_dim());
  att_.resize(B * c_.q_dim());
  gate_.resize(B * c_.ffn_dim);
  up_.resize(B * c_.ffn_dim);
  for (RopeTable& r : rope_) {
    r.cos.resize(B * half);
    r.sin.resize(B * half);
  }
  scores_.resize(static_cast<size_t>(pool_.size()) * static_cast<size_t>(kv_.capacity()));
  kv_rows_.resize(static_cast<size_t>(pool_.size() * 2 * c_.head_dim));
}

CpuForward::~CpuForward() = default;

void CpuForward::matmul(const Tensor& w, const float* x, int64_t n, float* y) {
  cpu::matmul(w.type, w.data, w.rows, w.cols, x, n, y, pool_, scratch_, options_.path);
}

void CpuForward::forward(std::span<const int32_t> tokens, int64_t pos, Logits which, float* logits) {
  forward_layers(tokens, pos, which == Logits::All ? Output::All : Output::Last, logits, c_.n_layers);
}

void CpuForward::hidden_states(std::span<const std::span<const int32_t>> sequences, float* out) {
  std::vector<int32_t> tokens;
  for (const auto& sequence : sequences) {
    const auto start = static_cast<int64_t>(tokens.size());
    for (size_t p = 0; p < sequence.size(); ++p) {
      sequence_pos_.push_back(static_cast<int64_t>(p));
      sequence_start_.push_back(start);
    }
    tokens.insert(tokens.end(), sequence.begin(), sequence.end());
  }
  try {
    if (static_cast<int64_t>(tokens.size()) > kv_.capacity())
      throw Error(std::to_string(tokens.size()) + " tokens do not fit a context of " + std::to_string(kv_.capacity()));
    forward_layers(tokens, 0, Output::Hidden, out, c_.n_layers);
  } catch (...) {
    sequence_pos_.clear();
    sequence_start_.clear();
    throw;
  }
  sequence_pos_.clear();
  sequence_start_.clear();
}

void CpuForward::forward_draft(std::span<const int32_t> tokens, int64_t pos, int64_t n_layers, float* logits) {
  if (n_layers < 1 || n_layers > draft_layers_max())
    throw Error("a draft runs 1 to " + std::to_string(draft_layers_max()) + " of the model's layers, not " + std::to_string(n_layers));
  forward_layers(tokens, pos, Output::Last, logits, n_layers);
}

void CpuForward::forward_layers(std::span<const int32_t> tokens, int64_t pos, Output output, float* out, int64_t n_layers) {
  if (tokens.empty()) throw Error("forward needs at least one token");
  if (pos < 0) throw Error("negative position");
  kv_.reserve(pos + static_cast<int64_t>(tokens.size()));
  for (int32_t t : tokens)
    if (t < 0 || t >= c_.n_vocab) throw Error("token id " + std::to_string(t) + " is outside the vocabulary (0.." + std::to_string(c_.n_vocab - 1) + ")");
  const int64_t total = static_cast<int64_t>(tokens.size());
  for (int64_t start = 0; start < total; start += options_.max_batch) {
    const int64_t n = std::min(options_.max_batch, total - start);
    const bool last_chunk = start + n == total;
    if (output == Output::Last)
      forward_batch(tokens.data() + start, n, pos + start, output, last_chunk ? out : nullptr, n_layers);
    else
      forward_batch(tokens.data() + start, n, pos + start, output, out + start * (output == Output::All ? c_.n_vocab : c_.dim), n_layers);
  }
}

void CpuForward::shift(const KvShift& s) {
  if (s.keep < 0 || s.discard < 1 || s.moved() < 0 || s.end > kv_.capacity() || s.discard < s.moved())
    throw Error("invalid context shift (keep " + std::to_string(s.keep) + ", discard " + std::to_string(s.discard) + ", end " +
                std::to_string(s.end) + "): plan it with plan_context_shift");
  rotate_layers(-s.discard, [&](int64_t layer, const auto& rotate) { kv_.shift_rows(layer, s, rotate); });
}

void CpuForward::rotate_kv(int64_t start, int64_t count, int64_t distance) {
  if (start < 0 || count < 0 || start + count > kv_.capacity())
    throw Error("cannot rotate KV positions [" + std::to_string(start) + ", " + std::to_string(start + count) + ") of a context of " +
                std::to_string(kv_.capacity()));
  if (count == 0 || distance == 0) return;
  rotate_layers(distance, [&](int64_t layer, const auto& rotate) { kv_.rotate_rows(layer, start, count, rotate); });
}

template <class PerLayer>
void CpuForward::rotate_layers(int64_t distance, const PerLayer& per_layer) {
  // rope_shift_cos_sin(d) gives the angles of position -d: a rotation by `distance` is a shift by -distance.
  const auto half = static_cast<size_t>(c_.rope_dims / 2);
  std::vector<float> cos(2 * half), sin(2 * half);  // global, then local
  ops::rope_shift_cos_sin(-distance, inv_freq_global_, cos.data(), sin.data());
  ops::rope_shift_cos_sin(-distance, inv_freq_local_, cos.data() + half, sin.data() + half);
  pool_.run(c_.n_layers, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t l = begin; l < end; ++l) {
      const size_t table = c_.is_local(l) ? half : 0;
      per_layer(l, [&](float* key) {
        for (int64_t h = 0; h < c_.n_kv_heads; ++h)
          ops::rope_rotate(key + h * c_.head_dim, cos.data() + table, sin.data() + table, c_.rope_dims, c_.rope_pairing);
      });
    }
  });
}

void CpuForward::forward_batch(const int32_t* tokens, int64_t n, int64_t pos, Output output, float* logits, int64_t n_layers) {
  const ModelWeights& w = model_.weights();
  const int64_t dim = c_.dim, q_dim = c_.q_dim(), kv_dim = c_.kv_dim(), hd = c_.head_dim, half = c_.rope_dims / 2;
  const float embedding_scale = c_.scale_embedding ? std::sqrt(static_cast<float>(dim)) : 1.0f;

  for (int64_t t = 0; t < n; ++t) {
    const Tensor& e = w.token_embd;
    dequantize_row(e.type, e.data + static_cast<size_t>(tokens[t]) * e.row_bytes(), &x_[t * dim], dim);
    if (c_.scale_embedding)
      for (int64_t i = 0; i < dim; ++i) x_[t * dim + i] *= embedding_scale;
    const int64_t rope_pos = sequence_pos_.empty() ? pos + t : sequence_pos_[static_cast<size_t>(pos + t)];
    ops::rope_cos_sin(rope_pos, inv_freq_global_, c_.rope_attn_factor, &rope_[0].cos[t * half], &rope_[0].sin[t * half]);
    ops::rope_cos_sin(rope_pos, inv_freq_local_, c_.rope_attn_factor, &rope_[1].cos[t * half], &rope_[1].sin[t * half]);
  }

  for (int64_t l = 0; l < n_layers; ++l) {
    const LayerWeights& L = w.layers[l];
    const RopeTable& rope = rope_[c_.is_local(l) ? 1 : 0];
    // Attention block.
    for (int64_t t = 0; t < n; ++t) ops::rmsnorm(&xb_[t * dim], &x_[t * dim], L.attn_norm.f32(), dim, c_.norm_eps);
    matmul(L.wq, xb_.data(), n, q_.data());
    matmul(L.wk, xb_.data(), n, k_.data());
    matmul(L.wv, xb_.data(), n, v_.data());
    add_bias(q_.data(), L.bq, n, q_dim);
    add_bias(k_.data(), L.bk, n, kv_dim);
    add_bias(v_.data(), L.bv, n, kv_dim);
    for (int64_t t = 0; t < n; ++t) {
      const float* cs = &rope.cos[t * half];
      const float* sn = &rope.sin[t * half];
      for (int64_t h = 0; h < c_.n_heads; ++h) {
        float* head = &q_[t * q_dim + h * hd];
        if (c_.qk_norm) ops::rmsnorm(head, head, L.q_norm.f32(), hd, c_.norm_eps);
        ops::rope_rotate(head, cs, sn, c_.rope_dims, c_.rope_pairing);
      }
      for (int64_t h = 0; h < c_.n_kv_heads; ++h) {
        float* head = &k_[t * kv_dim + h * hd];
        if (c_.qk_norm) ops::rmsnorm(head, head, L.k_norm.f32(), hd, c_.norm_eps);
        ops::rope_rotate(head, cs, sn, c_.rope_dims, c_.rope_pairing);
      }
      kv_.store(l, pos + t, &k_[t * kv_dim], &v_[t * kv_dim]);
    }
    attention(l, n, pos);
    matmul(L.wo, att_.data(), n, xb_.data());
    if (c_.post_norms)
      for (int64_t t = 0; t < n; ++t) ops::rmsnorm(&xb_[t * dim], &xb_[t * dim], L.attn_post_norm.f32(), dim, c_.norm_eps);
    for (int64_t i = 0; i < n * dim; ++i) x_[i] += xb_[i];

    // Feed-forward block: down(act(gate(x)) * up(x)).
    for (int64_t t = 0; t < n; ++t) ops::rmsnorm(&xb_[t * dim], &x_[t * dim], L.ffn_norm.f32(), dim, c_.norm_eps);
    matmul(L.w_gate, xb_.data(), n, gate_.data());
    matmul(L.w_up, xb_.data(), n, up_.data());
    if (c_.ffn_activation == FfnActivation::GeluTanh)
      for (int64_t i = 0; i < n * c_.ffn_dim; ++i) gate_[i] = ops::gelu_tanh(gate_[i]) * up_[i];
    else
      for (int64_t i = 0; i < n * c_.ffn_dim; ++i) gate_[i] = ops::silu(gate_[i]) * up_[i];
    matmul(L.w_down, gate_.data(), n, xb_.data());
    if (c_.post_norms)
      for (int64_t t = 0; t < n; ++t) ops::rmsnorm(&xb_[t * dim], &xb_[t * dim], L.ffn_post_norm.f32(), dim, c_.norm_eps);
    for (int64_t i = 0; i < n * dim; ++i) x_[i] += xb_[i];
  }

  if (!logits) return;
  if (output == Output::Hidden) {
    for (int64_t t = 0; t < n; ++t) ops::rmsnorm(&logits[t * dim], &x_[t * dim], w.output_norm.f32(), dim, c_.norm_eps);
    return;
  }
  const int64_t first = output == Output::All ? 0 : n - 1;
  const int64_t count = n - first;
  for (int64_t t = 0; t < count; ++t)
    ops::rmsnorm(&xb_[t * dim], &x_[(first + t) * dim], w.output_norm.f32(), dim, c_.norm_eps);
  matmul(w.output, xb_.data(), count, logits);
  if (c_.final_soft_cap > 0)
    for (int64_t i = 0; i < count * c_.n_vocab; ++i) logits[i] = ops::soft_cap(logits[i], c_.final_soft_cap);
}

// Causal attention of the n new tokens over the cached positions they see (all, or the sliding window of a
// local layer), heads split across threads.
void CpuForward::attention(int64_t layer, int64_t n, int64_t pos) {
  // Everything the workers need, behind one pointer: a lambda capturing only that fits in
  // std::function's inline storage, so no allocation happens per layer and token.
  struct Job {
    CpuForward* self;
    int64_t layer, n, pos, hd, q_dim, group, window;
    ops::AttentionShape shape;
  } job{this, layer, n, pos, c_.head_dim, c_.q_dim(), c_.n_heads / c_.n_kv_heads, c_.is_local(layer) ? c_.sliding_window : 0,
        {c_.head_dim, c_.attn_scale, c_.attn_soft_cap}};
  // Every query head of a group, and every token of a batch, reads the same rows: over a rounded cache
  // they are decoded once per layer here (while they fit in kDecodedRowsBytes), not once per head.
  const int64_t first = ops::attention_window_start(pos, job.window), rows = pos + n - first, kv_dim = c_.kv_dim();
  const bool decode = kv_.type() != TensorType::F32 && rows * kv_dim * 2 * 4 <= kDecodedRowsBytes;
  if (decode) {
    decoded_.resize(static_cast<size_t>(rows * 2 * kv_dim));
    pool_.run(rows, 1, [&](int64_t begin, int64_t end, int) {
      for (int64_t r = begin; r < end; ++r) {
        float* k = &decoded_[static_cast<size_t>(r * 2 * kv_dim)];
        kv_.key(layer, first + r, 0, kv_dim, k);
        kv_.value(layer, first + r, 0, kv_dim, k + kv_dim);
      }
    });
  }
  const float* decoded = decode ? decoded_.data() - first * 2 * kv_dim : nullptr;  // indexed by position
  const Job* j = &job;
  pool_.run(job.n * c_.n_heads, 1, [j, decoded, kv_dim](int64_t begin, int64_t end, int thread) {
    CpuForward& f = *j->self;
    const cpu::Path path = f.options_.path;
    const int64_t n_heads = f.c_.n_heads, hd = j->hd;
    float* scores = &f.scores_[static_cast<size_t>(thread) * static_cast<size_t>(f.kv_.capacity())];
    float* key_row = &f.kv_rows_[static_cast<size_t>(thread * 2 * hd)];
    float* value_row = key_row + hd;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / n_heads, h = task % n_heads;
      const int64_t kv_offset = (h / j->group) * hd;
      const float* q = &f.q_[t * j->q_dim + h * hd];
      const KvCache& kv = f.kv_;
      const int64_t query_pos = j->pos + t;
      const int64_t first = f.sequence_start_.empty() ? ops::attention_window_start(query_pos, j->window)
                                                      : std::max(f.sequence_start_[static_cast<size_t>(query_pos)], ops::attention_window_start(query_pos, j->window));
      ops::attend(
          q, j->shape, first, query_pos + 1,
          [&](int64_t p) { return decoded ? decoded + p * 2 * kv_dim + kv_offset : kv.key(j->layer, p, kv_offset, hd, key_row); },
          [&](int64_t p) { return decoded ? decoded + (p * 2 + 1) * kv_dim + kv_offset : kv.value(j->layer, p, kv_offset, hd, value_row); },
          [path](const float* a, const float* b, int64_t n) { return cpu::dot_f32(a, b, n, path); },
          [path](float alpha, const float* x, float* y, int64_t n) { cpu::axpy_f32(alpha, x, y, n, path); }, scores,
          &f.att_[t * j->q_dim + h * hd]);
    }
  });
}

}  // namespace tabllm
