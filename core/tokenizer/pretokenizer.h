// Regex pre-tokenizers of byte-level BPE models: they cut text into words before BPE merges run inside
// each word. Each kind reproduces one Hugging Face pre-tokenizer regex (or sequence of Split regexes)
// with hand-written matchers over code points, because std::regex has no \p{L}.
#pragma once
#include <string_view>
#include <vector>

namespace tabllm {

enum class PreTokenizer {
  Gpt2,           // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Llama3,         // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  Qwen2,          // as Llama3 with \p{N} instead of \p{N}{1,3}
  Starcoder,      // single digits isolated, then Gpt2
  DeepseekLlm,    // Splits: [\r\n], \s?[cased letters]+, \s?[ASCII/CJK punctuation]+, \s+$, [CJK]+, \p{N}+
  DeepseekCoder,  // Splits: [\r\n], \s?\p{L}+, \s?\p{P}+, [CJK]+, \p{N}
};

// Maps a GGUF tokenizer.ggml.pre name (and the aliases that share a regex) to its kind; throws Error
// naming the supported ones otherwise.
PreTokenizer pre_tokenizer_from_name(std::string_view name);

// Appends the words of `text` in order (views into `text`; together they cover it exactly).
void pre_tokenize(PreTokenizer kind, std::string_view text, std::vector<std::string_view>& words);

}  // namespace tabllm
