#include "runtime/context_shift.h"

#include <algorithm>

#include "common/error.h"

namespace tabllm {

KvShift plan_context_shift(int64_t n_past, int64_t n_keep, int64_t context) {
  if (context < 2) throw Error("a context of " + std::to_string(context) + " position cannot shift: use a context of at least 2 tokens");
  if (n_keep < 0) throw Error("n_keep must be >= 0, got " + std::to_string(n_keep));
  const int64_t keep = std::min({n_keep, context / 2, n_past});
  const int64_t left = n_past - keep;
  const int64_t discard = (left + 1) / 2;
  return KvShift{keep, discard, n_past};
}

}  // namespace tabllm
