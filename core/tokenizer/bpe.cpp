#include "tokenizer/bpe.h"

#include <cstdio>
#include <queue>
#include <string>

#include "common/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/unicode.h"

namespace tabllm {
namespace {

struct Symbol {
  int32_t token;       // -1: a byte with no token, never merged
  int32_t prev, next;  // neighbours in the chain, -1 at the ends
  bool alive;
};

struct Candidate {
  int32_t rank;
  int32_t left, right;
  int32_t left_token, right_token;  // stale once either symbol holds another token
  int32_t result;
};

struct ByRank {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

BpeEncoder::BpeEncoder(const Vocab& vocab, const TokenIndex& index, bool ignore_merges, bool sentencepiece_style)
    : vocab_(vocab), index_(index), ignore_merges_(ignore_merges), sentencepiece_style_(sentencepiece_style) {
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    byte_tokens_[b] = sentencepiece_style ? index_.find(name) : index_.find(byte_level::encode_byte(static_cast<uint8_t>(b)));
  }
  merges_.reserve(vocab.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
    const std::string& merge = vocab.merges[rank];
    // The separator is the first space after the first character (a piece is never empty).
    const size_t space = merge.find(' ', 1);
    if (space == std::string::npos) {
      throw Error("BPE merge #" + std::to_string(rank) + " '" + merge + "' is not two tokens separated by a space");
    }
    const std::string_view left(merge.data(), space), right(merge.data() + space + 1, merge.size() - space - 1);
    joined.assign(left).append(right);
    const int32_t l = index_.find(left), r = index_.find(right), result = index_.find(joined);
    if (l < 0 || r < 0 || result < 0) {
      throw Error("BPE merge #" + std::to_string(rank) + " '" + merge +
                  "' uses or produces a token missing from the vocabulary (corrupt tokenizer.ggml.merges?)");
    }
    merges_.emplace(pair_key(l, r), Merge{static_cast<int32_t>(rank), result});  // first (best) rank wins
  }
}

void BpeEncoder::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    std::string spelled;
    if (sentencepiece_style_) spelled = word;
    else byte_level::encode(word, spelled);
    if (const int32_t id = index_.find(spelled); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::vector<Symbol> symbols;
  std::vector<std::string_view> unknown;  // SentencePiece-style: the text of symbols without a token
  symbols.reserve(word.size());
  for (size_t pos = 0; pos < word.size();) {
    size_t length = 1;
    int32_t token;
    if (sentencepiece_style_) {
      const unicode::Utf8Char c = unicode::next_utf8(word, pos);
      length = c.status == unicode::Utf8Char::Status::Valid ? c.length : 1;
      token = index_.find(word.substr(pos, length));
      if (token < 0) {
        unknown.resize(symbols.size() + 1);
        unknown.back() = word.substr(pos, length);
      }
    } else {
      token = byte_tokens_[static_cast<uint8_t>(word[pos])];
    }
    const int32_t i = static_cast<int32_t>(symbols.size());
    symbols.push_back({token, i - 1, -1, true});
    if (i > 0) symbols[i - 1].next = i;
    pos += length;
  }
  std::priority_queue<Candidate, std::vector<Candidate>, ByRank> queue;
  const auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t lt = symbols[left].token, rt = symbols[right].token;
    if (lt < 0 || rt < 0) return;
    const auto it = merges_.find(pair_key(lt, rt));
    if (it != merges_.end()) queue.push({it->second.rank, left, right, lt, rt, it->second.result});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) consider(i - 1, i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    if (!left.alive || !right.alive || left.next != top.right || left.token != top.left_token ||
        right.token != top.right_token) {
      continue;
    }
    left.token = top.result;
    left.next = right.next;
    right.alive = false;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    consider(left.prev, top.left);
    consider(top.left, left.next);
  }

  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    if (symbols[i].token >= 0) {
      out.push_back(symbols[i].token);
      continue;
    }
    // Byte fallback for a character the vocabulary lacks, when every byte has its token.
    const std::string_view text = sentencepiece_style_ ? unknown[i] : std::string_view();
    bool bytes = !text.empty();
    for (char c : text) bytes = bytes && byte_tokens_[static_cast<uint8_t>(c)] >= 0;
    if (bytes) {
      for (char c : text) out.push_back(byte_tokens_[static_cast<uint8_t>(c)]);
    } else if (vocab_.unk >= 0) {
      out.push_back(vocab_.unk);
    }
  }
}

}  // namespace tabllm
