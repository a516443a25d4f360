#include "sampling/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace tabllm {

TokenLogprob token_logprob(const float* logits, int32_t n_vocab, int32_t chosen, int top_n) {
  if (chosen < 0 || chosen >= n_vocab) throw Error("token id " + std::to_string(chosen) + " is outside the vocabulary");
  if (top_n < 0 || top_n > 20) throw Error("top_logprobs must be in [0, 20], got " + std::to_string(top_n));
  // log p_i = x_i - max - log(sum exp(x_j - max)), in double so large vocabularies do not lose precision.
  float max_logit = -std::numeric_limits<float>::infinity();
  for (int32_t i = 0; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
  double sum = 0;
  for (int32_t i = 0; i < n_vocab; ++i)
    if (std::isfinite(logits[i])) sum += std::exp(static_cast<double>(logits[i]) - max_logit);
  const double log_norm = static_cast<double>(max_logit) + std::log(sum);
  auto logprob_of = [&](int32_t id) {
    return std::isfinite(logits[id]) ? static_cast<float>(logits[id] - log_norm) : -std::numeric_limits<float>::infinity();
  };
  TokenLogprob out;
  out.id = chosen;
  out.logprob = logprob_of(chosen);
  if (top_n > 0) {
    std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
    for (int32_t i = 0; i < n_vocab; ++i) ids[static_cast<size_t>(i)] = i;
    const auto better = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    const size_t n = std::min<size_t>(static_cast<size_t>(top_n), ids.size());
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(), better);
    for (size_t i = 0; i < n; ++i) out.top.emplace_back(ids[i], logprob_of(ids[i]));
  }
  return out;
}

}  // namespace tabllm
