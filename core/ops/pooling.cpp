#include "ops/pooling.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.h"

namespace tabllm::ops {

void pool(const float* hidden, int64_t n_tokens, int64_t dim, Pooling pooling, float* out) {
  if (n_tokens < 1) throw Error("pooling needs at least one token");
  switch (pooling) {
    case Pooling::Mean: {
      std::vector<double> sum(static_cast<size_t>(dim), 0.0);
      for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t i = 0; i < dim; ++i) sum[static_cast<size_t>(i)] += hidden[t * dim + i];
      for (int64_t i = 0; i < dim; ++i) out[i] = static_cast<float>(sum[static_cast<size_t>(i)] / static_cast<double>(n_tokens));
      return;
    }
    case Pooling::Cls: std::copy_n(hidden, dim, out); return;
    case Pooling::Last: std::copy_n(hidden + (n_tokens - 1) * dim, dim, out); return;
    case Pooling::None: break;
  }
  throw Error("the model's pooling_type is none (one vector per token): tabllm embeds whole inputs and needs mean, cls or last");
}

void l2_normalize(float* x, int64_t n) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double norm = std::sqrt(ss);
  const float scale = norm > 0.0 ? static_cast<float>(1.0 / norm) : 0.0f;
  for (int64_t i = 0; i < n; ++i) x[i] *= scale;
}

}  // namespace tabllm::ops
