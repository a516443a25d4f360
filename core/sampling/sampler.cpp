#include "sampling/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "common/error.h"

namespace tabllm {
namespace {

// exp(x) for x <= 0 built from + - * and exponent bits only, so x86, ARM and WASM produce the same
// bits (libm's exp may differ in the last ulp between platforms, which would change sampled tokens).
double exp_nonpositive(double x) {
  if (!(x > -708.0)) return 0.0;
  const double n = std::floor(x * 1.4426950408889634 + 0.5);  // nearest integer to x / ln 2
  // ln 2 split in two so that n * ln2_hi is exact.
  const double r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  // Taylor series to r^11: |r| <= 0.347, truncation error below 1e-15 relative.
  double p = 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
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
          "temperature must be >= 0 (0 = greedy), got " + std::to_string(p.temperature));
  require(p.top_p > 0 && p.top_p <= 1, "top_p must be in (0, 1] (1 = off), got " + std::to_string(p.top_p));
  require(p.min_p >= 0 && p.min_p <= 1, "min_p must be in [0, 1] (0 = off), got " + std::to_string(p.min_p));
  require(std::isfinite(p.repeat_penalty) && p.repeat_penalty > 0,
          "repeat_penalty must be > 0 (1 = off), got " + std::to_string(p.repeat_penalty));
  require(p.repeat_last_n >= -1,
          "repeat_last_n must be >= -1 (-1 = all of history, 0 = off), got " + std::to_string(p.repeat_last_n));
  require(p.frequency_penalty >= -2 && p.frequency_penalty <= 2,
          "frequency_penalty must be in [-2, 2], got " + std::to_string(p.frequency_penalty));
  require(p.presence_penalty >= -2 && p.presence_penalty <= 2,
          "presence_penalty must be in [-2, 2], got " + std::to_string(p.presence_penalty));
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

double Sampler::weight(float logit, double max_logit) const {
  return exp_nonpositive((static_cast<double>(logit) - max_logit) / params_.temperature);
}

void Sampler::select_top_k(const float* logits, int k) {
  // A heap of the k best seen so far with the worst on top: one pass, and most logits are rejected by
  // a single comparison, which beats sorting 150K entries.
  const Better better;
  candidates_.clear();
  for (int32_t i = 0; i < n_vocab_; ++i) {
    const Candidate c{logits[i], i};
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
  std::sort_heap(candidates_.begin(), candidates_.end(), better);
}

size_t Sampler::top_p_cut(double max_logit, double total_mass) {
  const double target = static_cast<double>(params_.top_p) * total_mass;
  const size_t n = candidates_.size();
  // Grow the sorted prefix geometrically: peaked distributions need only a few dozen entries sorted.
  for (size_t sorted = std::min<size_t>(n, 64);; sorted = std::min(n, sorted * 8)) {
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<ptrdiff_t>(sorted), candidates_.end(),
                      Better{});
    double cumulative = 0;
    for (size_t i = 0; i < sorted; ++i) {
      cumulative += weight(candidates_[i].logit, max_logit);
      if (cumulative >= target) return i + 1;
    }
    if (sorted == n) return n;
  }
}

int32_t Sampler::draw(const float* logits) {
  const SamplingParams& p = params_;
  const bool limit_k = p.top_k > 0 && p.top_k < n_vocab_;
  double max_logit = -kInf;
  int32_t max_id = -1;
  double total_mass = 0;  // of the distribution top-p looks at

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
  if (max_logit == kInf) return max_id;  // a certain token: the distribution is a point mass

  if (limit_k) {
    for (const Candidate& c : candidates_) total_mass += weight(c.logit, max_logit);
  } else {
    // min-p keeps a prefix of the sorted order and top-p (on the full distribution) keeps another, so
    // applying min-p first as a cheap filter leaves the result unchanged. The logit bound is loosened
    // a little; the exact test below uses the same exp as everything else.
    const double loose_bound =
        p.min_p > 0 ? max_logit + p.temperature * std::log(static_cast<double>(p.min_p)) - 1e-3 : -HUGE_VAL;
    candidates_.clear();
    for (int32_t i = 0; i < n_vocab_; ++i) {
      const float l = logits[i];
      if (!(l >= loose_bound) || l == -kInf) continue;
      if (p.min_p > 0 && weight(l, max_logit) < p.min_p) continue;
      candidates_.push_back({l, i});
    }
    if (p.top_p < 1.0f) {
      for (int32_t i = 0; i < n_vocab_; ++i)
        if (!std::isnan(logits[i])) total_mass += weight(logits[i], max_logit);
    }
  }

  if (p.top_p < 1.0f) candidates_.resize(top_p_cut(max_logit, total_mass));
  if (limit_k && p.min_p > 0) {
    // Sorted best first: min-p keeps a prefix (the best token has weight 1 >= min_p).
    size_t keep = 1;
    while (keep < candidates_.size() && weight(candidates_[keep].logit, max_logit) >= p.min_p) ++keep;
    candidates_.resize(keep);
  }

  double mass = 0;
  for (const Candidate& c : candidates_) mass += weight(c.logit, max_logit);
  const double target = next_uniform() * mass;
  double cumulative = 0;
  for (const Candidate& c : candidates_) {
    cumulative += weight(c.logit, max_logit);
    if (target < cumulative) return c.id;
  }
  return candidates_.back().id;  // rounding left target at the very top
}

}  // namespace tabllm
