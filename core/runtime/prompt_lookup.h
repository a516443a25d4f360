// Prompt-lookup drafting (Saxena 2023; llama.cpp's lookup decoding): the last n tokens are looked up earlier
// in the prompt and output, and the tokens that followed their latest earlier occurrence are the draft.
// No second model: it pays off where the output repeats its input (edits, extraction, JSON, code).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace tabllm {

// Writes at most `k` drafted tokens to `out` (cleared first): the continuation of the latest earlier
// occurrence of the longest suffix of `history` of at most `max_ngram` tokens that has one; none if none.
void prompt_lookup(std::span<const int32_t> history, size_t k, size_t max_ngram, std::vector<int32_t>& out);

}  // namespace tabllm
