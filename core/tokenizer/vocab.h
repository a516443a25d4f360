// A tokenizer's vocabulary and settings, as stored in GGUF metadata (tokenizer.ggml.*) or in a
// Hugging Face tokenizer.json. This is the data; tokenizer.h does the work.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace tabllm {

// Values of tokenizer.ggml.token_type.
enum class TokenType : int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct Vocab {
  enum class Model { SentencePiece, BytePairEncoding, WordPiece };  // GGUF "llama" / "gpt2" (or "gemma4") / "bert"
  Model model = Model::SentencePiece;
  std::string pre = "default";  // BPE pre-tokenizer (tokenizer.ggml.pre): gpt-2, llama-bpe, qwen2, ...
  std::vector<std::string> tokens;
  std::vector<float> scores;      // SentencePiece merge priorities (empty for BPE)
  std::vector<TokenType> types;
  std::vector<std::string> merges;  // BPE merges "a b", highest priority first
  int32_t bos = -1, eos = -1, eot = -1, unk = -1, pad = -1;
  int32_t sep = -1;  // WordPiece's [SEP], which ends every input (tokenizer.ggml.seperator_token_id, llama.cpp's spelling)
  bool add_bos = false, add_eos = false, add_space_prefix = true;
  bool lowercase = true, strip_accents = true;  // WordPiece normalization (tokenizer.ggml.normalizer.*)
  bool nfc = false;  // text is put in Unicode NFC first (a tokenizer.json NFC normalizer; GGUF has no key for it)
  std::string chat_template;

  size_t size() const { return tokens.size(); }

  static Vocab from_gguf(const gguf::Header& header);
  // Reads a Hugging Face tokenizer.json; settings (bos/eos, add_bos, chat template) come from a
  // tokenizer_config.json in the same folder when there is one.
  static Vocab from_tokenizer_json(const std::string& path);
  // A .gguf file (model or vocab-only) or a tokenizer.json, told apart by content.
  static Vocab load(const std::string& path);

  // Writes tokenizer.ggml.* (and tokenizer.chat_template) keys.
  void write_gguf_metadata(gguf::Writer& writer) const;
  // Appends unused placeholder tokens until size() == n (models whose embedding has padding rows).
  void pad_to(size_t n);
};

}  // namespace tabllm
