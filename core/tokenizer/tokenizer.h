// Text ↔ token ids for SentencePiece-style and byte-level BPE vocabularies.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace tabllm {

class Tokenizer {
 public:
  explicit Tokenizer(Vocab vocab);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;

  // add_bos: prepend BOS when the vocabulary has one. User-defined tokens (e.g. "<think>") are always
  // matched as whole tokens; parse_special additionally matches control tokens (e.g. "<|eot_id|>").
  // EOS is never appended.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = true) const;
  // One input of an embedding model, with the special tokens llama.cpp's add_special puts around it:
  // WordPiece [CLS] text [SEP]; otherwise BOS first when the vocabulary adds one, EOS last when it adds one
  // (Qwen3-Embedding's final <|endoftext|>, whose hidden state last-token pooling reads).
  std::vector<int32_t> encode_input(std::string_view text) const;
  // The bytes a token stands for ("▁" → space, "<0x0A>" → byte, byte-level BPE mapping undone);
  // control tokens give "". May be a partial UTF-8 sequence.
  std::string token_bytes(int32_t id) const;
  std::string decode(std::span<const int32_t> ids) const;
  const Vocab& vocab() const;
  bool is_end_of_generation(int32_t id) const;  // EOS, EOT and similar

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Turns a stream of generated ids into text chunks that never split a UTF-8 character.
class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  std::string push(int32_t id);  // complete characters available so far (possibly "")
  std::string finish();          // whatever is left (invalid trailing bytes become U+FFFD)
 private:
  const Tokenizer& tokenizer_;
  std::string pending_;
};

}  // namespace tabllm
