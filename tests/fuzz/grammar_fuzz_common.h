// Shared body of fuzz_gbnf and fuzz_ebnf: the input is grammar text, a NUL byte, then bytes to feed a
// matcher. When the text parses and compiles, the matcher runs over the bytes in small steps and every
// mask must equal trying each token on its own; rollback and jump-forward must stay consistent.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "grammar/compiled_grammar.h"
#include "grammar/matcher.h"

namespace fuzz_grammar {

// Printable ASCII, a few control and UTF-8 lead / continuation bytes, some multi-byte tokens (JSON-ish
// and UTF-8) and an end token: small, so that each input runs fast.
inline std::shared_ptr<const tabllm::grammar::TokenVocabulary> vocabulary() {
  static const auto vocab = [] {
    std::vector<std::string> bytes;
    for (int b = 0x20; b < 0x7F; ++b) bytes.emplace_back(1, static_cast<char>(b));
    for (int b : {0x00, 0x09, 0x0A, 0x0D, 0x7F, 0x80, 0xA9, 0xBF, 0xC3, 0xCE, 0xE2, 0xED, 0xF0, 0xF4, 0xFF})
      bytes.emplace_back(1, static_cast<char>(b));
    for (const char* t : {"\"", "\":", "\", \"", "{\"", "\"}", "true", "null", "ab", "abc", "  ", "\n", "é", "\xE2\x82", "12", "-1", "[]", "),", "::=", "x\xC3"})
      bytes.emplace_back(t);
    bytes.emplace_back();  // end token
    const auto end = static_cast<int32_t>(bytes.size() - 1);
    return std::make_shared<const tabllm::grammar::TokenVocabulary>(std::move(bytes), std::vector<int32_t>{end});
  }();
  return vocab;
}

template <class Parse>
int run(const uint8_t* data, size_t size, Parse parse) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  const std::string_view text = input.substr(0, split);
  const std::string_view feed = split == std::string_view::npos ? std::string_view() : input.substr(split + 1);
  std::shared_ptr<const tabllm::grammar::CompiledGrammar> compiled;
  try {
    const tabllm::grammar::Grammar grammar = parse(text);
    // Huge automata (long {m,n} repetitions) are legal but only slow the search down.
    if (tabllm::grammar::Nfa::build(grammar).states.size() > 3000) return 0;
    compiled = tabllm::grammar::compile(grammar, vocabulary());
  } catch (const tabllm::grammar::GrammarError&) {
    return 0;
  }
  tabllm::grammar::Matcher m(compiled);
  const auto& vocab = compiled->vocabulary();
  std::vector<uint32_t> mask(vocab.mask_words());
  size_t pos = 0;
  for (int step = 0; step < 3 && !m.is_terminated(); ++step) {
    m.fill_next_token_bitmask(mask);
    for (size_t id = 0; id < vocab.size(); ++id) {
      const bool allowed = (mask[id / 32] >> (id % 32)) & 1;
      const bool accepted = m.accept_token(static_cast<int32_t>(id));
      if (accepted) m.rollback(1);
      if (allowed != accepted) std::abort();
    }
    const std::string jump = m.find_jump_forward_string();
    if (!jump.empty()) {
      if (!m.accept_bytes(jump)) std::abort();
      m.rollback(1);
    }
    if (pos >= feed.size()) break;
    const size_t n = std::min<size_t>(1 + static_cast<uint8_t>(feed[pos]) % 4, feed.size() - pos);
    if (!m.accept_bytes(feed.substr(pos, n))) break;
    pos += n;
  }
  const int steps = m.steps();
  m.rollback(steps);
  if (m.steps() != 0) std::abort();
  return 0;
}

}  // namespace fuzz_grammar
