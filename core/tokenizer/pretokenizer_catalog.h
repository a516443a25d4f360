// Every byte-level BPE pre-tokenizer that GGUF files name (tokenizer.ggml.pre), as the Split regexes of
// the models' tokenizer.json, applied in order (each to every piece the previous one left), plus the
// settings that come with the name.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace tabllm {

// Pre-tokenizers that also have a hand-written matcher (faster than the regexes, same splits).
enum class HandWrittenSplit { None, Gpt2, Llama3, Qwen2, Starcoder, DeepseekLlm, DeepseekCoder };

struct PreTokenizerSpec {
  std::vector<std::string_view> names;    // tokenizer.ggml.pre values; the first is the canonical one
  std::vector<std::string_view> regexes;  // Hugging Face Split regexes (behavior Isolated)
  HandWrittenSplit hand_written = HandWrittenSplit::None;
  bool ignore_merges = false;  // a word that is itself a token is emitted whole
  bool add_bos = false;        // BOS by default when the file does not say (tokenizer.ggml.add_bos_token)
  // SentencePiece-style BPE (Gemma 4): tokens are raw UTF-8 with "▁" for spaces (written before splitting)
  // and <0xNN> byte fallback, instead of the GPT-2 byte alphabet.
  bool sentencepiece_style = false;
};

const std::vector<PreTokenizerSpec>& pre_tokenizer_catalog();

// The entry for a tokenizer.ggml.pre value, or nullptr.
const PreTokenizerSpec* find_pre_tokenizer(std::string_view name);

// The entry whose regexes are exactly `regexes` (a tokenizer.json Split sequence), or nullptr.
const PreTokenizerSpec* find_pre_tokenizer_by_regexes(const std::vector<std::string>& regexes);

// The canonical names, comma-separated, for error messages.
std::string supported_pre_tokenizer_names();

}  // namespace tabllm
