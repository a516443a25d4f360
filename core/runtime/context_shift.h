// What a generation drops when it reaches the end of the context (docs/long-context.md): the first
// n_keep tokens stay (the system prompt, or the first few tokens as attention sinks), then the older half
// of the rest goes. As llama.cpp's context shift, with the half rounded up so that the moved rows never
// overlap the rows still to be moved (KvShift).
#pragma once
#include <cstdint>

#include "backend/backend.h"

namespace tabllm {

// Leading tokens a shift keeps unless the request says otherwise: attention sinks (StreamingLLM keeps 4).
constexpr int64_t kDefaultKeep = 4;

// The shift of a cache holding `n_past` positions of a context of `context` positions. n_keep is capped at
// half the context, so that a shift always frees room.
KvShift plan_context_shift(int64_t n_past, int64_t n_keep, int64_t context);

}  // namespace tabllm
