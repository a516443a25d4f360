#include "tokenizer/spm.h"

#include <cstdio>
#include <queue>

#include "tokenizer/unicode.h"

namespace tabllm {
namespace {

struct Symbol {
  uint32_t begin, length;  // bytes of the normalized text; length 0 once merged into its left neighbour
  int32_t prev, next;      // neighbours in the chain, -1 at the ends
  int32_t token;           // the piece it spells, -1 for a character the vocabulary lacks
};

// A possible merge of symbol `left` with its right neighbour. Symbols only grow, so the pair is stale
// once their combined length differs from `length` (the neighbour is fixed while `left` keeps its length).
struct Candidate {
  float score;
  int32_t left;
  uint32_t length;
  int32_t token;
};

struct ByPriority {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

bool mergeable(TokenType type) {
  return type == TokenType::Normal || type == TokenType::UserDefined || type == TokenType::Undefined;
}

}  // namespace

SpmEncoder::SpmEncoder(const Vocab& vocab, const TokenIndex& index) : vocab_(vocab), index_(index) {
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    byte_tokens_[b] = index_.find(name);
  }
}

int32_t SpmEncoder::find_piece(std::string_view text) const {
  const int32_t id = index_.find(text);
  return id >= 0 && mergeable(vocab_.types[id]) ? id : -1;
}

void SpmEncoder::emit_unmatched(std::string_view text, std::vector<int32_t>& out) const {
  for (char c : text) {
    if (byte_tokens_[static_cast<uint8_t>(c)] < 0) {
      if (vocab_.unk >= 0) out.push_back(vocab_.unk);
      return;
    }
  }
  for (char c : text) out.push_back(byte_tokens_[static_cast<uint8_t>(c)]);
}

void SpmEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < text.size();) {
    const unicode::Utf8Char c = unicode::next_utf8(text, pos);
    const uint32_t length = c.status == unicode::Utf8Char::Status::Valid ? c.length : 1;
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(pos), length, index - 1, -1, find_piece(text.substr(pos, length))});
    if (index > 0) symbols[index - 1].next = index;
    pos += length;
  }

  std::priority_queue<Candidate, std::vector<Candidate>, ByPriority> queue;
  const auto consider = [&](int32_t left) {
    if (left < 0 || symbols[left].next < 0) return;
    const Symbol& l = symbols[left];
    const uint32_t length = l.length + symbols[l.next].length;
    const int32_t token = find_piece(text.substr(l.begin, length));  // the two symbols are adjacent in text
    if (token >= 0) queue.push({vocab_.scores[token], left, length, token});
  };
  for (int32_t i = 0; i < static_cast<int32_t>(symbols.size()); ++i) consider(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.left];
    if (left.length == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    if (left.length + right.length != top.length) continue;
    left.length += right.length;
    left.token = top.token;
    left.next = right.next;
    right.length = 0;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    consider(left.prev);
    consider(top.left);
  }

  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    if (s.token >= 0) {
      out.push_back(s.token);
    } else {
      emit_unmatched(text.substr(s.begin, s.length), out);
    }
  }
}

}  // namespace tabllm
