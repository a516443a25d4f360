#include "sampling/speculative_sampling.h"

#include <unordered_map>
#include <vector>

namespace tabllm {

double probability_of(std::span<const TokenProb> dist, int32_t id) {
  for (const TokenProb& t : dist)
    if (t.id == id) return t.p;
  return 0;
}

int32_t draw_from(std::span<const TokenProb> dist, double u) {
  double mass = 0;
  for (const TokenProb& t : dist) mass += t.p;
  const double target = u * mass;
  double cumulative = 0;
  for (const TokenProb& t : dist) {
    cumulative += t.p;
    if (target < cumulative) return t.id;
  }
  return dist.back().id;  // rounding left target at the very top
}

Verdict verify_drafted(std::span<const TokenProb> p, std::span<const TokenProb> q, int32_t drafted, double accept_u,
                       double residual_u) {
  const double p_x = probability_of(p, drafted);
  const double q_x = q.empty() ? 1.0 : probability_of(q, drafted);
  // q_x is 0 only for a draft that did not come from q; p_x / q_x >= 1 accepts whenever p_x > 0.
  if (p_x > 0 && (q_x <= p_x || accept_u * q_x < p_x)) return {true, drafted};
  // The residual lives on p's support: max(0, p - q) is 0 wherever p is.
  std::unordered_map<int32_t, double> q_of;  // both may span the whole vocabulary: no quadratic lookups
  for (const TokenProb& t : q) q_of[t.id] = t.p;
  std::vector<TokenProb> residual;
  residual.reserve(p.size());
  for (const TokenProb& t : p) {
    const auto found = q_of.find(t.id);
    const double q_t = q.empty() ? (t.id == drafted ? 1.0 : 0.0) : found == q_of.end() ? 0.0 : found->second;
    if (t.p > q_t) residual.push_back({t.id, t.p - q_t});
  }
  // p == q up to rounding leaves nothing: then rejection had probability ~0, and p itself is the answer.
  return {false, draw_from(residual.empty() ? p : std::span<const TokenProb>(residual), residual_u)};
}

}  // namespace tabllm
