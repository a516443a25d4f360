#include "sampling/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <string>

#include "common/error.h"
#include "sampling/token_mask.h"

namespace tabllm {
namespace {

// a * b + c with two roundings. Written as one expression, clang may fuse it into an FMA on ARM (one
// rounding), and results would differ from x86 and WASM.
double mul_add(double a, double b, double c) {
  const double product = a * b;
  return product + c;
}

// exp(x) for x <= 0 built from + - * and exponent bits only, so x86, ARM and WASM produce the same
// bits (libm's exp may differ in the last ulp between platforms, which would change sampled tokens).
double exp_nonpositive(double x) {
  if (!(x > -708.0)) return 0.0;
  const double n = std::floor(mul_add(x, 1.4426950408889634, 0.5));  // nearest integer to x / ln 2
  // ln 2 split in two so that n * ln2_hi is exact.
  const double n_ln2_hi = n * 6.93147180369123816490e-01, n_ln2_lo = n * 1.90821492927058770002e-10;
  const double r = (x - n_ln2_hi) - n_ln2_lo;
  // Taylor series to r^11 (|r| <= 0.347): relative error below 1e-14 over the whole range.
  double p = 1.0 / 39916800.0;
  for (double coefficient : {1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
                             1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0})
    p = mul_add(p, r, coefficient);
  const uint64_t scale_bits = static_cast<uint64_t>(static_cast<int64_t>(n) + 1023) << 52;
  return p * std::bit_cast<double>(scale_bits);
}

// Best first: higher logit, then lower id (keeps results independent of the sort algorithm).
struct Better {
  template <typename C>
  bool operator()(const C& a, const C& b) const {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  }
};

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw Error("invalid sampling parameter: " + message);
}

constexpr float kInf = std::numeric_limits<float>::infinity();

}  // namespace

Sampler::Sampler(SamplingParams params, int32_t n_vocab)
    : params_(std::move(params)), n_vocab_(n_vocab), rng_state_(params_.seed) {
  const SamplingParams& p = params_;
  require(n_vocab > 0, "the vocabulary size must be positive, got " + std::to_string(n_vocab));
  require(std::isfinite(p.temperature) && p.temperature >= 0,
          "temperature must be >= 0 (0 = greedy), got " + format_number(p.temperature));
  require(p.top_p > 0 && p.top_p <= 1, "top_p must be in (0, 1] (1 = off), got " + format_number(p.top_p));
  require(p.min_p >= 0 && p.min_p <= 1, "min_p must be in [0, 1] (0 = off), got " + format_number(p.min_p));
  require(std::isfinite(p.repeat_penalty) && p.repeat_penalty > 0,
          "repeat_penalty must be > 0 (1 = off), got " + format_number(p.repeat_penalty));
  require(p.repeat_last_n >= -1,
          "repeat_last_n must be >= -1 (-1 = all of history, 0 = off), got " + std::to_string(p.repeat_last_n));
  require(p.frequency_penalty >= -2 && p.frequency_penalty <= 2,
          "frequency_penalty must be in [-2, 2], got " + format_number(p.frequency_penalty));
  require(p.presence_penalty >= -2 && p.presence_penalty <= 2,
          "presence_penalty must be in [-2, 2], got " + format_number(p.presence_penalty));
  for (const auto& [id, bias] : p.logit_bias) {
    require(id >= 0 && id < n_vocab, "logit_bias token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                         std::to_string(n_vocab) + ")");
    require(!std::isnan(bias) && bias != kInf, "logit_bias for token " + std::to_string(id) +
                                                   " must be a number or -inf (to ban it)");
  }
  // Allocate once, so that sample() never allocates.
  candidates_.reserve(static_cast<size_t>(n_vocab));
  if (adjusts_logits()) {
    adjusted_.resize(static_cast<size_t>(n_vocab));
    token_counts_.assign(static_cast<size_t>(n_vocab), 0);
  }
}

void Sampler::reseed(uint64_t seed) { rng_state_ = seed; }

// splitmix64: tiny state, good statistical quality, identical on every platform.
double Sampler::next_uniform() {
  uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

bool Sampler::adjusts_logits() const {
  const SamplingParams& p = params_;
  return !p.logit_bias.empty() || (p.repeat_penalty != 1.0f && p.repeat_last_n != 0) ||
         p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f;
}

const float* Sampler::adjust(const float* logits, std::span<const int32_t> history) {
  const SamplingParams& p = params_;
  std::copy(logits, logits + n_vocab_, adjusted_.begin());
  for (const auto& [id, bias] : p.logit_bias) adjusted_[id] += bias;
  for (int32_t id : history) {
    if (id < 0 || id >= n_vocab_)
      throw Error("sampler: history holds token id " + std::to_string(id) + ", outside the vocabulary [0, " +
                  std::to_string(n_vocab_) + ")");
  }

  // Repetition penalty (llama-style): once per distinct token of the window, pushing the logit toward
  // "less likely" whatever its sign.
  if (p.repeat_penalty != 1.0f && p.repeat_last_n != 0) {
    const size_t window = p.repeat_last_n < 0 ? history.size()
                                              : std::min(history.size(), static_cast<size_t>(p.repeat_last_n));
    const auto recent = history.last(window);
    for (int32_t id : recent) {
      if (token_counts_[id]++ > 0) continue;
      float& l = adjusted_[id];
      l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
    }
    for (int32_t id : recent) token_counts_[id] = 0;
  }

  // Frequency and presence penalties (OpenAI): logit -= count * frequency + (count > 0) * presence.
  if (p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f) {
    for (int32_t id : history) ++token_counts_[id];
    for (int32_t id : history) {
      if (token_counts_[id] == 0) continue;  // already applied
      adjusted_[id] -= static_cast<float>(token_counts_[id]) * p.frequency_penalty + p.presence_penalty;
      token_counts_[id] = 0;
    }
  }
  return adjusted_.data();
}

int32_t Sampler::sample(const float* logits, std::span<const int32_t> history) {
  const float* l = adjusts_logits() ? adjust(logits, history) : logits;
  if (params_.temperature > 0) return draw(l);

  int32_t best = -1;
  float best_logit = -kInf;
  for (int32_t i = 0; i < n_vocab_; ++i) {
    if (l[i] > best_logit) {  // strict: ties keep the lowest id; NaN never wins
      best_logit = l[i];
      best = i;
    }
  }
  if (best < 0) throw Error("sampler: no token can be chosen: every logit is -inf or NaN (all banned by logit_bias?)");
  return best;
}

int32_t Sampler::sample_allowed(const float* logits, std::span<const uint32_t> allowed, std::span<const int32_t> history) {
  if (params_.temperature == 0 && !adjusts_logits()) {
    const int32_t best = argmax_allowed(logits, allowed, n_vocab_);
    if (best < 0) throw Error("sampler: no token can be chosen: every allowed logit is -inf or NaN");
    return best;
  }
  masked_.resize(static_cast<size_t>(n_vocab_));
  mask_logits(logits, allowed, n_vocab_, masked_.data());
  return sample(masked_.data(), history);
}

void Sampler::distribution(const float* logits, std::span<const int32_t> history, std::vector<TokenProb>& out) {
  out.clear();
  if (params_.temperature == 0) {
    out.push_back({sample(logits, history), 1.0});
    return;
  }
  const size_t keep = keep_candidates(adjusts_logits() ? adjust(logits, history) : logits);
  double mass = 0;
  for (size_t i = 0; i < keep; ++i) mass += candidates_[i].weight;
  for (size_t i = 0; i < keep; ++i) out.push_back({candidates_[i].id, candidates_[i].weight / mass});
  // Most likely first (the top-p partition leaves the kept tokens unordered).
  std::sort(out.begin(), out.end(), [](const TokenProb& a, const TokenProb& b) { return a.p > b.p || (a.p == b.p && a.id < b.id); });
}

double Sampler::weight(float logit, double max_logit) const {
  return exp_nonpositive((static_cast<double>(logit) - max_logit) / params_.temperature);
}

void Sampler::select_top_k(const float* logits, int k) {
  // A heap of the k best seen so far with the worst on top: one pass, and most logits are rejected by
  // a single comparison, which beats sorting 150K entries.
  const Better better;
  candidates_.clear();
  for (int32_t i = 0; i < n_vocab_; ++i) {
    const Candidate c{logits[i], i, 0.0};
    if (std::isnan(c.logit)) continue;
    if (candidates_.size() < static_cast<size_t>(k)) {
      candidates_.push_back(c);
      std::push_heap(candidates_.begin(), candidates_.end(), better);
    } else if (better(c, candidates_.front())) {
      std::pop_heap(candidates_.begin(), candidates_.end(), better);
      candidates_.back() = c;
      std::push_heap(candidates_.begin(), candidates_.end(), better);
    }
  }
  std::sort_heap(candidates_.begin(), candidates_.end(), better);  // a strict total order: same result everywhere
}

size_t Sampler::top_p_partition(double goal) {
  // Quickselect on mass instead of sorting: expected O(n) even when top-p keeps most of a flat
  // distribution. Own partition code (not std::nth_element, whose element order differs between standard
  // libraries) keeps the sums, and so the result, identical on every platform.
  const Better better;
  std::vector<Candidate>& c = candidates_;
  size_t lo = 0, hi = c.size();  // the cut lies in (lo, hi]; c[0, lo) are the lo best
  double mass_before = 0;        // of c[0, lo), below goal
  while (lo < hi) {
    std::swap(c[lo + (hi - lo) / 2], c[hi - 1]);
    const Candidate pivot = c[hi - 1];
    size_t mid = lo;
    double upper = 0;  // mass of the candidates better than the pivot
    for (size_t i = lo; i + 1 < hi; ++i) {
      if (!better(c[i], pivot)) continue;
      upper += c[i].weight;
      std::swap(c[i], c[mid++]);
    }
    std::swap(c[mid], c[hi - 1]);
    if (mass_before + upper >= goal) {
      hi = mid;
    } else if (mass_before + upper + pivot.weight >= goal) {
      return mid + 1;
    } else {
      mass_before += upper + pivot.weight;
      lo = mid + 1;
    }
  }
  return lo;  // goal not reached (or reached only by rounding): keep everything up to hi
}

size_t Sampler::keep_candidates(const float* logits) {
  const SamplingParams& p = params_;
  const bool limit_k = p.top_k > 0 && p.top_k < n_vocab_;
  double max_logit = -kInf;
  int32_t max_id = -1;

  if (limit_k) {
    select_top_k(logits, p.top_k);
    if (!candidates_.empty()) {
      max_logit = candidates_.front().logit;
      max_id = candidates_.front().id;
    }
  } else {
    for (int32_t i = 0; i < n_vocab_; ++i) {
      if (logits[i] > max_logit) {
        max_logit = logits[i];
        max_id = i;
      }
    }
  }
  if (max_id < 0 || max_logit == -kInf)
    throw Error("sampler: no token can be chosen: every logit is -inf or NaN (all banned by logit_bias?)");
  if (max_logit == kInf) {  // a certain token: the distribution is a point mass
    candidates_.assign(1, Candidate{kInf, max_id, 1.0});
    return 1;
  }

  double total_mass = 0;  // of the distribution top-p looks at
  size_t keep;
  if (limit_k) {
    for (Candidate& c : candidates_) total_mass += (c.weight = weight(c.logit, max_logit));
    keep = candidates_.size();
    if (p.top_p < 1.0f) {  // sorted best first: the cut is where the running sum reaches the goal
      const double goal = static_cast<double>(p.top_p) * total_mass;
      double cumulative = 0;
      for (keep = 0; keep < candidates_.size() && cumulative < goal; ++keep) cumulative += candidates_[keep].weight;
    }
    // min-p keeps a prefix too (the best token has weight 1 >= min_p).
    if (p.min_p > 0)
      while (keep > 1 && candidates_[keep - 1].weight < p.min_p) --keep;
  } else {
    // min-p keeps a prefix of the sorted order and top-p (on the full distribution) keeps another, so
    // applying min-p first, while collecting, leaves the result unchanged. Below a slightly loosened logit
    // bound no exp is needed unless top-p wants the total mass; the exact test uses the weight.
    const double loose_bound =
        p.min_p > 0 ? max_logit + p.temperature * std::log(static_cast<double>(p.min_p)) - 1e-3 : -HUGE_VAL;
    const bool need_total = p.top_p < 1.0f;
    candidates_.clear();
    for (int32_t i = 0; i < n_vocab_; ++i) {
      const float l = logits[i];
      if (!(l > -kInf)) continue;  // -inf and NaN
      const bool may_keep = l >= loose_bound;
      if (!may_keep && !need_total) continue;
      const double w = weight(l, max_logit);
      total_mass += w;
      if (may_keep && w >= p.min_p) candidates_.push_back({l, i, w});
    }
    keep = need_total ? top_p_partition(static_cast<double>(p.top_p) * total_mass) : candidates_.size();
  }
  return keep;
}

int32_t Sampler::draw(const float* logits) {
  const size_t keep = keep_candidates(logits);
  if (candidates_.front().logit == kInf) return candidates_.front().id;  // certain: no draw from the stream
  double mass = 0;
  for (size_t i = 0; i < keep; ++i) mass += candidates_[i].weight;
  const double target = next_uniform() * mass;
  double cumulative = 0;
  for (size_t i = 0; i < keep; ++i) {
    cumulative += candidates_[i].weight;
    if (target < cumulative) return candidates_[i].id;
  }
  return candidates_[keep - 1].id;  // rounding left target at the very top
}

}  // namespace tabllm
