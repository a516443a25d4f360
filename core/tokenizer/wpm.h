// WordPiece ("bert" vocabularies): BERT's normalization (accents stripped after canonical decomposition,
// lowercase, control characters dropped), words cut at white space and around punctuation, ASCII symbols
// and CJK ideographs, then each word spelled greedily with the longest vocabulary pieces from its start.
// Word-initial pieces are written with a leading "▁" (the GGUF form of BERT's unprefixed pieces); a word
// that cannot be spelled becomes the unknown token.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/token_index.h"
#include "tokenizer/vocab.h"

namespace tabllm {

class WpmEncoder {
 public:
  // `vocab` and `index` must outlive the encoder.
  WpmEncoder(const Vocab& vocab, const TokenIndex& index);
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  const TokenIndex& index_;
  size_t max_token_bytes_ = 0;
};

}  // namespace tabllm
