// llama2.c's tokenizer.bin (int32 max_token_length; per token: float32 score, int32 length, bytes) as a
// SentencePiece vocabulary: spaces become "▁", <0xNN> pieces are byte tokens, 0/1/2 are <unk>/<s>/</s>.
#pragma once
#include <cstdint>
#include <string>

#include "tokenizer/vocab.h"

namespace tabllm::tools {

// `expected_size` is the checkpoint's vocab_size (the file itself does not store a count).
Vocab read_llama2c_tokenizer(const std::string& path, int64_t expected_size);

}  // namespace tabllm::tools
