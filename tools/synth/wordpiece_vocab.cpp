#include "synth/wordpiece_vocab.h"

#include <string>

namespace tabllm::tools {

Vocab sample_wordpiece_vocab() {
  Vocab v;
  v.model = Vocab::Model::WordPiece;
  const auto add = [&](const std::string& text, TokenType type) {
    v.tokens.push_back(text);  // every piece once: llama.cpp refuses a vocabulary with duplicates
    v.types.push_back(type);
  };
  add("[PAD]", TokenType::Control);
  for (int i = 0; i < 99; ++i) add("[unused" + std::to_string(i) + "]", TokenType::Unused);
  for (const char* special : {"[UNK]", "[CLS]", "[SEP]", "[MASK]"}) add(special, TokenType::Control);
  const std::string word_start = "\xE2\x96\x81";  // ▁
  std::string singles;
  for (char ch = 33; ch < 127; ++ch)
    if (!(ch >= 'A' && ch <= 'Z')) singles += ch;  // lowercased text never holds capitals
  for (char ch : singles) add(word_start + ch, TokenType::Normal);
  for (char ch : singles)
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) add(std::string(1, ch), TokenType::Normal);
  for (const char* word : {"the", "an", "and", "or", "of", "to", "in", "on", "for", "with", "is", "are", "was", "it", "this",
                           "that", "what", "how", "who", "search", "query", "document", "model", "text", "embedding", "vector",
                           "browser", "page", "note", "notes", "cat", "dog", "sat", "mat", "quick", "brown", "fox", "jumps",
                           "over", "lazy", "hello", "world", "day", "time", "play", "park", "little", "girl", "lily"})
    add(word_start + word, TokenType::Normal);
  for (const char* suffix : {"ed", "ing", "ly", "er", "est", "tion", "ness"}) add(suffix, TokenType::Normal);
  v.unk = 100;
  v.bos = 101;
  v.sep = 102;
  v.pad = 0;
  v.add_bos = true;
  v.add_space_prefix = false;
  return v;
}

}  // namespace tabllm::tools
