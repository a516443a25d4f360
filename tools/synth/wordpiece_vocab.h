// A small WordPiece vocabulary in BERT's layout, for synthetic bert and nomic-bert models when no real
// one is at hand (`tabllm synth ... --vocab wordpiece`).
#pragma once
#include "tokenizer/vocab.h"

namespace tabllm::tools {

// [PAD] 0, [unused0..98] 1..99, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103, then every ASCII
// punctuation mark, digit and lowercase letter as a word start and as a continuation, some common
// English words and suffixes: any lowercase ASCII text spells with it. Pieces are in GGUF form (word
// starts with a leading "▁", continuations without BERT's "##"), as llama.cpp's converter writes them.
Vocab sample_wordpiece_vocab();

}  // namespace tabllm::tools
