#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/unicode.h"

namespace tabllm::byte_level {
namespace {

// Bytes that are printable Latin-1 characters keep their code point; the others (controls, space, DEL,
// NBSP, soft hyphen) get 256, 257, ... in byte order.
struct Alphabet {
  std::array<std::string, 256> byte_to_text;
  std::array<int16_t, 512> cp_to_byte;  // every stand-in is below 256 + 256

  Alphabet() {
    cp_to_byte.fill(-1);
    uint32_t next_extra = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const uint32_t cp = printable ? b : next_extra++;
      unicode::append_utf8(byte_to_text[b], cp);
      cp_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet instance;
  return instance;
}

}  // namespace

const std::string& encode_byte(uint8_t byte) { return alphabet().byte_to_text[byte]; }

void encode(std::string_view bytes, std::string& out) {
  const Alphabet& a = alphabet();
  for (char c : bytes) out += a.byte_to_text[static_cast<uint8_t>(c)];
}

int decode_char(uint32_t cp) { return cp < 512 ? alphabet().cp_to_byte[cp] : -1; }

bool decode(std::string_view text, std::string& out) {
  for (size_t pos = 0; pos < text.size();) {
    const unicode::Utf8Char c = unicode::next_utf8(text, pos);
    const int byte = c.status == unicode::Utf8Char::Status::Valid ? decode_char(c.cp) : -1;
    if (byte < 0) return false;
    out += static_cast<char>(byte);
    pos += c.length;
  }
  return true;
}

}  // namespace tabllm::byte_level
