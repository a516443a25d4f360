#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace tabllm {
namespace {

// Moves the complete characters at the front of `pending` to the result, invalid bytes as U+FFFD. A
// truncated sequence at the end stays pending unless `flush`, which turns it into one U+FFFD.
std::string take_complete(std::string& pending, bool flush) {
  std::string out;
  size_t pos = 0;
  while (pos < pending.size()) {
    const unicode::Utf8Char c = unicode::next_utf8(pending, pos);
    if (c.status == unicode::Utf8Char::Status::Truncated && !flush) break;
    if (c.status == unicode::Utf8Char::Status::Valid) {
      out.append(pending, pos, c.length);
    } else {
      unicode::append_utf8(out, unicode::kReplacementChar);
    }
    pos += c.length;
  }
  pending.erase(0, pos);
  return out;
}

}  // namespace

std::string StreamingDetokenizer::push(int32_t id) {
  pending_ += tokenizer_.token_bytes(id);
  return take_complete(pending_, false);
}

std::string StreamingDetokenizer::finish() { return take_complete(pending_, true); }

}  // namespace tabllm
