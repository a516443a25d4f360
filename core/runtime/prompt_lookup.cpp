#include "runtime/prompt_lookup.h"

#include <algorithm>

namespace tabllm {

void prompt_lookup(std::span<const int32_t> history, size_t k, size_t max_ngram, std::vector<int32_t>& out) {
  out.clear();
  const size_t size = history.size();
  for (size_t n = std::min(max_ngram, size > 0 ? size - 1 : 0); n >= 1 && k > 0; --n) {
    const auto suffix = history.last(n);
    // Latest first: recent text predicts best. `start` is where an earlier occurrence begins; it must be
    // followed by at least one token.
    for (size_t start = size - n; start-- > 0;) {
      if (!std::equal(suffix.begin(), suffix.end(), history.begin() + static_cast<std::ptrdiff_t>(start))) continue;
      const size_t from = start + n;
      const size_t count = std::min(k, size - from);
      out.assign(history.begin() + static_cast<std::ptrdiff_t>(from), history.begin() + static_cast<std::ptrdiff_t>(from + count));
      return;
    }
  }
}

}  // namespace tabllm
