// SentencePiece-style encoding ("llama" vocabularies): start from single characters and keep merging the
// adjacent pair whose concatenation is the highest-scoring piece (leftmost on ties). Characters that no
// piece covers fall back to <0xNN> byte tokens, or to the unknown token when those are missing.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/token_index.h"
#include "tokenizer/vocab.h"

namespace tabllm {

class SpmEncoder {
 public:
  // `vocab` and `index` must outlive the encoder.
  SpmEncoder(const Vocab& vocab, const TokenIndex& index);
  // `text` is already normalized: spaces written as "▁", the dummy prefix added.
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  // A piece that text may turn into (normal or user-defined; never control, byte or unused pieces).
  int32_t find_piece(std::string_view text) const;
  void emit_unmatched(std::string_view text, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  const TokenIndex& index_;
  std::array<int32_t, 256> byte_tokens_;  // -1 where the vocabulary has no <0xNN> token
};

}  // namespace tabllm
