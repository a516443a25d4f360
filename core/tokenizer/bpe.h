// BPE: a pre-tokenized word starts as one symbol per byte spelled in the GPT-2 byte alphabet ("gpt2"
// vocabularies) or, SentencePiece-style (Gemma 4), one symbol per UTF-8 character; then the adjacent pair
// with the best merge rank is merged until no ranked pair is left. SentencePiece-style characters missing
// from the vocabulary become <0xNN> byte tokens.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/token_index.h"
#include "tokenizer/vocab.h"

namespace tabllm {

class BpeEncoder {
 public:
  // `ignore_merges`: a word that is itself a token is emitted whole (Llama 3's tokenizer.json setting).
  // Throws Error for a malformed merge list. `vocab` and `index` must outlive the encoder.
  BpeEncoder(const Vocab& vocab, const TokenIndex& index, bool ignore_merges, bool sentencepiece_style = false);
  // Encodes one pre-tokenized word given as raw bytes.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

 private:
  struct Merge {
    int32_t rank;    // position in the merge list: lower merges first
    int32_t result;  // the token the pair becomes
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }

  const Vocab& vocab_;
  const TokenIndex& index_;
  bool ignore_merges_;
  bool sentencepiece_style_;
  // The token of each byte: its stand-in character (byte-level) or <0xNN> (SentencePiece-style); -1 if missing.
  std::array<int32_t, 256> byte_tokens_;
  std::unordered_map<uint64_t, Merge> merges_;
};

}  // namespace tabllm
