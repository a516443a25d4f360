#include "runtime/speculative.h"

#include <algorithm>

#include "common/error.h"

namespace tabllm {

SpeculativeMethod speculative_method_from_name(std::string_view name) {
  if (name == "prompt-lookup") return SpeculativeMethod::PromptLookup;
  if (name == "self") return SpeculativeMethod::Self;
  if (name == "draft") return SpeculativeMethod::Draft;
  if (name == "off") return SpeculativeMethod::Off;
  throw Error("speculative.method must be \"prompt-lookup\", \"self\", \"draft\" or \"off\", got \"" + std::string(name) + "\"");
}

const char* speculative_method_name(SpeculativeMethod method) {
  switch (method) {
    case SpeculativeMethod::Off: return "off";
    case SpeculativeMethod::PromptLookup: return "prompt-lookup";
    case SpeculativeMethod::Self: return "self";
    case SpeculativeMethod::Draft: return "draft";
  }
  return "unknown";
}

void SpeculativeParams::validate() const {
  if (k < 1 || k > kMaxDraft)
    throw Error("speculative.k must be in [1, " + std::to_string(kMaxDraft) + "], got " + std::to_string(k));
  if (ngram < 1 || ngram > 8) throw Error("speculative.ngram must be in [1, 8], got " + std::to_string(ngram));
  if (draft_layers < 0) throw Error("speculative.draft_layers must be >= 0 (0 = half of the model's layers), got " + std::to_string(draft_layers));
}

void DraftLength::observe(int64_t drafted, int64_t accepted) {
  if (drafted == 0) return;
  k_ = accepted == drafted ? std::min(cap_, k_ + 2) : std::max(1, k_ - 1);
}

}  // namespace tabllm
