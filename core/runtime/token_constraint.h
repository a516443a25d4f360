// Restricts which token may come next (structured output: JSON Schema, grammars). A generation asks the
// constraint for the allowed set before each sampling and reports every token it takes, so the sampler
// never picks a token that would break the format.
#pragma once
#include <cstdint>
#include <span>

namespace tabllm {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Writes the set of tokens allowed next as a bitset over the vocabulary: bit (id % 32) of words[id / 32].
  // `words` has (n_vocab + 31) / 32 entries. End-of-generation tokens are allowed exactly when the text so
  // far is complete.
  virtual void allowed_tokens(std::span<uint32_t> words) = 0;
  // Advances past `token`. Returns false, leaving the state unchanged, when the token is not allowed.
  virtual bool accept(int32_t token) = 0;
  // True when the text is complete and nothing more may follow: the generation stops there.
  virtual bool is_complete() const = 0;
};

}  // namespace tabllm
