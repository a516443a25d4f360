// Settings a vocabulary gets when its file does not state them, shared by the GGUF and tokenizer.json
// readers (and the tokenizer) so that all agree.
#pragma once
#include <string>
#include <vector>

#include "tokenizer/pretokenizer_catalog.h"
#include "tokenizer/vocab.h"

namespace tabllm::vocab_defaults {

// SentencePiece and WordPiece models start every prompt with BOS; BPE models when their pre-tokenizer's
// family does (Llama 3, Mistral's Tekken, Chameleon).
inline bool add_bos(Vocab::Model model, const std::string& pre) {
  if (model != Vocab::Model::BytePairEncoding) return true;  // SentencePiece's <s>, WordPiece's [CLS]
  const PreTokenizerSpec* spec = find_pre_tokenizer(pre);
  return spec && spec->add_bos;
}

// Texts of tokens that end a turn in common chat formats, best first: the end-of-turn token when the
// metadata names none.
inline const std::vector<std::string>& end_of_turn_texts() {
  static const std::vector<std::string> texts = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|EOT|>"};
  return texts;
}

// Texts of control tokens that end a turn or a document: generation stops at any of them.
inline const std::vector<std::string>& end_of_generation_texts() {
  static const std::vector<std::string> texts = {
      "<|eot_id|>",    "<|eom_id|>", "<|im_end|>", "<|end|>", "<|endoftext|>", "<|end_of_text|>",
      "<end_of_turn>", "<|EOT|>",    "<｜end▁of▁sentence｜>", "</s>",
  };
  return texts;
}

}  // namespace tabllm::vocab_defaults
