#include "convert/llama2c_tokenizer.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "common/error.h"

namespace tabllm::tools {
namespace {

bool is_byte_piece(const std::string& piece) {
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && hex(piece[3]) && hex(piece[4]) && piece[5] == '>';
}

// llama2.c's export wrote spaces for "▁" and wrapped BOS/EOS in newlines ("\n<s>\n").
std::string sentencepiece_form(const std::string& piece) {
  std::string out;
  for (char ch : piece) {
    if (ch == ' ') out += "\xE2\x96\x81";  // U+2581
    else out += ch;
  }
  return out;
}

std::string trim_newlines(const std::string& s) {
  const size_t begin = s.find_first_not_of('\n');
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of('\n') - begin + 1);
}

}  // namespace

Vocab read_llama2c_tokenizer(const std::string& path, int64_t expected_size) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open llama2.c tokenizer " + path);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t pos = 4;  // max_token_length: not needed
  if (bytes.size() < pos) throw Error(path + " is too small to be a llama2.c tokenizer");

  Vocab v;
  v.model = Vocab::Model::SentencePiece;
  while (pos < bytes.size()) {
    const size_t id = v.tokens.size();
    if (bytes.size() - pos < 8) throw Error(path + " is truncated inside token " + std::to_string(id));
    float score;
    int32_t length;
    std::memcpy(&score, bytes.data() + pos, 4);
    std::memcpy(&length, bytes.data() + pos + 4, 4);
    pos += 8;
    if (length < 0 || static_cast<size_t>(length) > bytes.size() - pos)
      throw Error(path + " is truncated or corrupt: token " + std::to_string(id) + " claims " + std::to_string(length) +
                  " bytes");
    const std::string piece(reinterpret_cast<const char*>(bytes.data() + pos), static_cast<size_t>(length));
    pos += static_cast<size_t>(length);

    TokenType type = TokenType::Normal;
    std::string token = sentencepiece_form(piece);
    if (id == 0) {
      type = TokenType::Unknown;
    } else if (id == 1 || id == 2) {
      type = TokenType::Control;
      token = trim_newlines(piece);
    } else if (is_byte_piece(piece)) {
      type = TokenType::Byte;
    }
    v.tokens.push_back(std::move(token));
    v.scores.push_back(score);
    v.types.push_back(type);
  }
  if (static_cast<int64_t>(v.tokens.size()) != expected_size)
    throw Error(path + " holds " + std::to_string(v.tokens.size()) + " tokens but the checkpoint's vocabulary has " +
                std::to_string(expected_size) + ": pass the tokenizer the model was trained with");
  if (v.tokens.size() < 3) throw Error(path + " has fewer than 3 tokens; llama2.c vocabularies start with <unk>, <s>, </s>");
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  // llama2.c models are trained on documents separated by BOS, never EOS: a generated BOS is where a
  // story ends, so it is recorded as the end-of-text token.
  v.eot = 1;
  v.add_bos = true;
  v.add_eos = false;
  v.add_space_prefix = true;
  return v;
}

}  // namespace tabllm::tools
