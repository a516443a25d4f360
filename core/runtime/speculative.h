// Speculative decoding (docs/speculative.md): a cheap draft proposes the next k tokens, one forward pass of
// the model scores all k + 1 positions, and the longest prefix the model agrees with is kept, plus the
// model's own token after it. Greedy output is the plain decoding's token for token; sampled output has
// the plain decoding's distribution (sampling/speculative_sampling.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.h"

namespace tabllm {

enum class SpeculativeMethod {
  Off,
  PromptLookup,  // the tokens that followed the latest earlier occurrence of the last n-gram (prompt and output)
  Self,          // the model's own first layers, then its output norm and head (layer skip)
  Draft,         // a smaller model with the same vocabulary, loaded beside the model (DraftModel)
};

// Request's name ("prompt-lookup", "self", "draft") → method; throws Error naming the allowed names.
SpeculativeMethod speculative_method_from_name(std::string_view name);
const char* speculative_method_name(SpeculativeMethod method);

struct SpeculativeParams {
  SpeculativeMethod method = SpeculativeMethod::Off;
  int k = 8;                 // most tokens drafted per step, in [1, kMaxDraft]; the draft length adapts below it
  int ngram = 3;             // prompt lookup: longest n-gram matched, in [1, 8]; shorter ones are tried next
  int draft_layers = 0;      // self: the first layers run by the draft; 0 → half of the model's
  static constexpr int kMaxDraft = 32;
  // Throws Error naming the first invalid field and its allowed range.
  void validate() const;
};

struct SpeculativeStats {
  SpeculativeMethod method = SpeculativeMethod::Off;  // the request's
  int64_t drafted = 0;         // tokens proposed by the draft
  int64_t accepted = 0;        // of them, kept
  int64_t forward_passes = 0;  // the model's forward passes while decoding (verifications and plain steps)
  int64_t draft_passes = 0;    // the draft's forward passes (self-speculation, a draft model)
  double acceptance_rate() const { return drafted > 0 ? static_cast<double>(accepted) / static_cast<double>(drafted) : 0.0; }
};

// A draft model: its backend (with its own KV cache) and the tokens that cache holds, kept between
// requests as a session's are. Its vocabulary is the model's.
struct DraftModel {
  std::unique_ptr<Backend> backend;
  std::vector<int32_t> cached;
};

// The draft length, adapted to the observed acceptance: longer after a step whose whole draft was kept,
// shorter after one that was cut (the schedule of Hugging Face's assisted generation), within [1, cap].
class DraftLength {
 public:
  explicit DraftLength(int cap) : cap_(cap), k_(cap < kStart ? cap : kStart) {}
  int get() const { return k_; }
  void observe(int64_t drafted, int64_t accepted);

 private:
  static constexpr int kStart = 4;
  int cap_;
  int k_;
};

}  // namespace tabllm
