// UTF-8 encoding and strict decoding of single code points.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/unicode.h"

namespace tabllm::grammar {

// Encoding is the tokenizer's (one UTF-8 encoder in the core).
using unicode::append_utf8;

// Decodes the code point at the start of `s`; returns its length in bytes, 0 when `s` does not start with
// well-formed UTF-8 (overlong forms, surrogates and values above U+10FFFF included).
inline size_t decode_utf8(std::string_view s, uint32_t& cp) {
  if (s.empty()) return 0;
  const auto b0 = static_cast<unsigned char>(s[0]);
  size_t length;
  uint32_t min;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  } else if ((b0 & 0xE0) == 0xC0) {
    length = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return length;
}

}  // namespace tabllm::grammar
