// Byte-level BPE ("gpt2" vocabularies): a pre-tokenized word is spelled in the GPT-2 byte alphabet, one
// symbol per byte, then the adjacent pair with the best merge rank is merged until no ranked pair is left.
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
  BpeEncoder(const Vocab& vocab, const TokenIndex& index, bool ignore_merges);
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
  std::array<int32_t, 256> byte_tokens_;  // the token of each byte's stand-in character, -1 if missing
  std::unordered_map<uint64_t, Merge> merges_;
};

}  // namespace tabllm
