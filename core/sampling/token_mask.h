// Logits under an allowed-token bitset (bit id % 32 of word id / 32, as TokenConstraint writes it), a word
// at a time: structured output asks this of every step over vocabularies of up to ~250K tokens, where
// its masks are mostly whole words of barred tokens.
#pragma once
#include <cstdint>
#include <span>

namespace tabllm {

// out[id] = logits[id] where allowed, -inf elsewhere (n values; `out` may not alias `logits`).
void mask_logits(const float* logits, std::span<const uint32_t> allowed, int32_t n, float* out);

// The allowed id with the highest logit (ties: the lowest id; NaN never wins), reading only allowed
// logits; -1 when no allowed logit is above -inf.
int32_t argmax_allowed(const float* logits, std::span<const uint32_t> allowed, int32_t n);

}  // namespace tabllm
