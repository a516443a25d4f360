// Settings a vocabulary gets when its file does not state them, shared by the GGUF and tokenizer.json
// readers (and the tokenizer) so that all agree.
#pragma once
#include <string>
#include <vector>

#include "tokenizer/vocab.h"

namespace tabllm::vocab_defaults {

// SentencePiece models and Llama 3 start every prompt with BOS; other byte-level BPE models do not.
inline bool add_bos(Vocab::Model model, const std::string& pre) {
  return model == Vocab::Model::SentencePiece || pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3";
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
