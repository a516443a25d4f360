// The GPT-2 byte-level alphabet: every byte has a printable stand-in character so that byte-level BPE
// vocabularies can be stored as text (space → "Ġ", newline → "Ċ", printable ASCII → itself).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace tabllm::byte_level {

// The UTF-8 of the stand-in for `byte`.
const std::string& encode_byte(uint8_t byte);
// Appends the stand-ins of every byte of `bytes`.
void encode(std::string_view bytes, std::string& out);
// The byte whose stand-in is `cp`, or -1 when `cp` is none.
int decode_char(uint32_t cp);
// Reverses `encode`. Returns false (leaving `out` partly written) when `text` has a character that stands
// for no byte, as in added tokens written in plain text.
bool decode(std::string_view text, std::string& out);

}  // namespace tabllm::byte_level
