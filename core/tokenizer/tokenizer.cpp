#include "tokenizer/tokenizer.h"

#include <cstdio>
#include <deque>
#include <optional>
#include <unordered_map>

#include "common/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm.h"
#include "tokenizer/token_index.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_defaults.h"
#include "tokenizer/wpm.h"

namespace tabllm {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // "▁" U+2581, SentencePiece's space

// Checks what the encoders rely on, filling optional arrays with their defaults.
void validate(Vocab& v) {
  if (v.tokens.empty()) {
    throw Error("the vocabulary has no tokens (tokenizer.ggml.tokens or the tokenizer.json vocab is empty); "
                "use a model file that includes its tokenizer");
  }
  const size_t n = v.tokens.size();
  if (v.types.empty()) v.types.assign(n, TokenType::Normal);
  if (v.types.size() != n) {
    throw Error("the vocabulary has " + std::to_string(n) + " tokens but " + std::to_string(v.types.size()) +
                " token types; the tokenizer metadata is corrupt");
  }
  if (v.model == Vocab::Model::SentencePiece) {
    if (v.scores.empty()) v.scores.assign(n, 0.0f);
    if (v.scores.size() != n) {
      throw Error("the vocabulary has " + std::to_string(n) + " tokens but " + std::to_string(v.scores.size()) +
                  " scores; the tokenizer metadata is corrupt");
    }
  } else if (v.model == Vocab::Model::BytePairEncoding && v.merges.empty()) {
    throw Error("the byte-level BPE vocabulary has no merges (tokenizer.ggml.merges); re-convert the model "
                "with its merges");
  }
  const std::pair<const char*, int32_t> ids[] = {{"bos", v.bos}, {"eos", v.eos}, {"eot", v.eot},
                                                 {"unknown", v.unk}, {"padding", v.pad}};
  for (const auto& [name, id] : ids) {
    if (id >= static_cast<int64_t>(n)) {
      throw Error(std::string("the ") + name + " token id " + std::to_string(id) + " is outside the vocabulary of " +
                  std::to_string(n) + " tokens");
    }
  }
}

}  // namespace

struct Tokenizer::Impl {
  Vocab vocab;
  TokenIndex index;
  SpecialTokenMatcher specials;
  std::optional<SpmEncoder> spm;
  std::optional<BpeEncoder> bpe;
  std::optional<WpmEncoder> wpm;
  std::optional<PreTokenizer> pre;
  std::vector<bool> end_of_generation;

  explicit Impl(Vocab v) : vocab((validate(v), std::move(v))), index(vocab.tokens) {
    const size_t n = vocab.size();
    if (vocab.model == Vocab::Model::SentencePiece) {
      spm.emplace(vocab, index);
    } else if (vocab.model == Vocab::Model::WordPiece) {
      wpm.emplace(vocab, index);
    } else {
      pre.emplace(vocab.pre);
      bpe.emplace(vocab, index, pre->spec().ignore_merges, pre->spec().sentencepiece_style);
    }
    end_of_generation.assign(n, false);
    for (size_t id = 0; id < n; ++id) {
      const TokenType type = vocab.types[id];
      if (type == TokenType::Control || type == TokenType::Unknown) specials.add(vocab.tokens[id], int32_t(id), false);
      if (type == TokenType::UserDefined) specials.add(vocab.tokens[id], int32_t(id), true);
      if (type == TokenType::Control) {
        for (const std::string& text : vocab_defaults::end_of_generation_texts()) {
          if (vocab.tokens[id] == text) end_of_generation[id] = true;
        }
      }
    }
    for (int32_t id : {vocab.eos, vocab.eot}) {
      if (id >= 0) end_of_generation[id] = true;
    }
  }

  // SentencePiece's normalization: spaces written as "▁", the dummy prefix when asked.
  static std::string escape_spaces(std::string_view text, bool prefix_space = false) {
    std::string normalized;
    normalized.reserve(text.size() + text.size() / 2 + kSpmSpace.size());
    if (prefix_space) normalized += kSpmSpace;
    for (char c : text) {
      if (c == ' ') {
        normalized += kSpmSpace;
      } else {
        normalized += c;
      }
    }
    return normalized;
  }

  // Pieces written with "▁" for spaces (and <0xNN> bytes) rather than in the GPT-2 byte alphabet.
  bool sentencepiece_pieces() const { return spm || wpm || (pre && pre->spec().sentencepiece_style); }

  void encode_text(std::string_view text, bool prefix_space, std::vector<int32_t>& out,
                   std::unordered_map<std::string_view, std::vector<int32_t>>& word_cache) const {
    if (spm) {
      spm->encode(escape_spaces(text, prefix_space), out);
      return;
    }
    if (wpm) {
      wpm->encode(text, out);
      return;
    }
    std::vector<std::string_view> words;
    if (pre->spec().sentencepiece_style) {
      // The words would point into this escaped copy, so they skip the cache (they are whole lines).
      const std::string escaped = escape_spaces(text);
      pre->split(escaped, words);
      for (std::string_view word : words) bpe->encode_word(word, out);
      return;
    }
    pre->split(text, words);
    for (std::string_view word : words) {
      auto [it, inserted] = word_cache.try_emplace(word);
      if (inserted) bpe->encode_word(word, it->second);
      out.insert(out.end(), it->second.begin(), it->second.end());
    }
  }
};

Tokenizer::Tokenizer(Vocab vocab) : impl_(std::make_unique<Impl>(std::move(vocab))) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;

const Vocab& Tokenizer::vocab() const { return impl_->vocab; }

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  const Vocab& v = impl_->vocab;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && v.bos >= 0) out.push_back(v.bos);
  std::vector<SpecialTokenMatcher::Fragment> fragments;
  impl_->specials.split(text, parse_special, fragments);
  // Repeated words are encoded once; the views stay valid for this call (normalized texts are kept).
  std::unordered_map<std::string_view, std::vector<int32_t>> word_cache;
  std::deque<std::string> normalized;
  // SentencePiece's dummy prefix goes before the text and after each special token.
  bool after_special = true;
  for (const auto& fragment : fragments) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
      after_special = true;
      continue;
    }
    std::string_view text = fragment.text;
    if (v.nfc) text = normalized.emplace_back(unicode::to_nfc(text));
    impl_->encode_text(text, v.add_space_prefix && after_special, out, word_cache);
    after_special = false;
  }
  return out;
}

std::vector<int32_t> Tokenizer::encode_input(std::string_view text) const {
  const Vocab& v = impl_->vocab;
  const bool word_piece = v.model == Vocab::Model::WordPiece;
  std::vector<int32_t> out = encode(text, word_piece || v.add_bos);
  const int32_t last = word_piece ? v.sep : v.add_eos ? v.eos : -1;
  if (last >= 0) out.push_back(last);
  return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  const Vocab& v = impl_->vocab;
  if (id < 0 || static_cast<size_t>(id) >= v.size()) {
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(v.size()) +
                " tokens");
  }
  const std::string& text = v.tokens[id];
  const TokenType type = v.types[id];
  if (type == TokenType::Control || type == TokenType::Unused) return "";
  if (impl_->sentencepiece_pieces()) {
    unsigned byte = 0;
    if ((type == TokenType::Byte || v.model == Vocab::Model::BytePairEncoding) && text.size() == 6 &&
        text.compare(0, 3, "<0x") == 0 && std::sscanf(text.c_str(), "<0x%02X>", &byte) == 1) {
      return std::string(1, static_cast<char>(byte));
    }
    std::string out;
    for (size_t pos = 0; pos < text.size();) {
      if (text.compare(pos, kSpmSpace.size(), kSpmSpace) == 0) {
        out += ' ';
        pos += kSpmSpace.size();
      } else {
        out += text[pos++];
      }
    }
    return out;
  }
  // Byte-level: undo the byte alphabet. Added tokens written in plain Unicode (e.g. "<｜fim▁hole｜>") do
  // not decode as byte stand-ins and are returned as written.
  std::string out;
  if (byte_level::decode(text, out)) return out;
  return text;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  const Vocab& v = impl_->vocab;
  // WordPiece writes every word start as "▁": the first one is not part of the text.
  const bool strip_prefix = (v.model == Vocab::Model::SentencePiece && v.add_space_prefix) || v.model == Vocab::Model::WordPiece;
  std::string out;
  bool after_special = true;  // mirrors encode: where it added a dummy prefix, take it away
  for (int32_t id : ids) {
    std::string piece = token_bytes(id);
    const TokenType type = v.types[id];
    if (type == TokenType::Control || type == TokenType::UserDefined) {
      after_special = true;
      out += piece;
      continue;
    }
    if (piece.empty()) continue;
    if (strip_prefix && after_special && piece[0] == ' ') piece.erase(0, 1);
    after_special = false;
    out += piece;
  }
  return out;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->end_of_generation.size() && impl_->end_of_generation[id];
}

}  // namespace tabllm
