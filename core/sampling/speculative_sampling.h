// Speculative sampling (Leviathan et al. 2023; Chen et al. 2023): a drafted token x, drawn from the draft's
// distribution q, is kept with probability min(1, p(x) / q(x)) where p is the target's distribution;
// otherwise a token is drawn from the normalized residual max(0, p - q). Whatever q is, the token that
// comes out is distributed exactly as p, so speculation changes speed, never the output distribution.
// A draft that is a single guess (prompt lookup) is the point mass q(x) = 1.
#pragma once
#include <cstdint>
#include <span>

#include "sampling/sampler.h"

namespace tabllm {

// Probability of `id` under `dist` (0 when absent).
double probability_of(std::span<const TokenProb> dist, int32_t id);

// Draws from `dist` with the uniform u in [0, 1).
int32_t draw_from(std::span<const TokenProb> dist, double u);

struct Verdict {
  bool accepted;  // the drafted token stands
  int32_t token;  // the drafted token, or the residual's draw that replaces it
};

// Verifies `drafted` against the target distribution p. `q` is the draft's distribution (empty: a point mass
// on `drafted`). accept_u and residual_u are independent uniforms in [0, 1).
Verdict verify_drafted(std::span<const TokenProb> p, std::span<const TokenProb> q, int32_t drafted, double accept_u,
                       double residual_u);

}  // namespace tabllm
