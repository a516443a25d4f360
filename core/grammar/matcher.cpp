// Masks at run time: the union over the configuration's stack tops of each state's cached accepted set,
// plus the uncertain tokens that the whole stack accepts. Uncertain tokens are walked in trie order so
// that a shared prefix is stepped once and a dead prefix skips every token that starts with it.
#include "grammar/matcher.h"

#include <algorithm>
#include <cstring>

#include "grammar/stack_dfa.h"

namespace tabllm::grammar {

Matcher::Matcher(std::shared_ptr<const CompiledGrammar> grammar) : Matcher(grammar, grammar->runtime_cache()) {}

Matcher::Matcher(std::shared_ptr<const CompiledGrammar> grammar, std::shared_ptr<RuntimeCache> cache)
    : grammar_(std::move(grammar)), cache_(std::move(cache)), dfa_(cache_->dfa.get()) {
  std::lock_guard lock(cache_->mutex);
  history_.push_back(dfa_->rule_start(grammar_->nfa().root_rule));
}

Matcher::~Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;

Matcher Matcher::fork() const {
  Matcher copy(grammar_, cache_);
  copy.history_ = history_;
  copy.terminated_ = terminated_;
  return copy;
}

void Matcher::reset() {
  history_.resize(1);
  terminated_ = false;
}

bool Matcher::accept_token(int32_t id) {
  if (terminated_) return false;
  std::lock_guard lock(cache_->mutex);
  const TokenVocabulary& vocab = grammar_->vocabulary();
  if (id < 0 || static_cast<size_t>(id) >= vocab.size()) return false;
  const int32_t current = history_.back();
  if (vocab.is_end_token(id)) {
    if (!dfa_->reached_bottom(current)) return false;
    terminated_ = true;
    history_.push_back(current);
    return true;
  }
  const std::string& bytes = vocab.bytes(id);
  if (bytes.empty()) return false;
  const int32_t next = dfa_->walk(current, bytes);
  if (next == StackDfa::kDead) return false;
  history_.push_back(next);
  return true;
}

bool Matcher::accept_bytes(std::string_view bytes) {
  if (terminated_) return false;
  std::lock_guard lock(cache_->mutex);
  const int32_t next = dfa_->walk(history_.back(), bytes);
  if (next == StackDfa::kDead) return false;
  history_.push_back(next);
  return true;
}

void Matcher::rollback(int tokens) {
  if (tokens < 0 || tokens > steps())
    throw GrammarError("cannot roll back " + std::to_string(tokens) + " steps: the matcher has taken " + std::to_string(steps()));
  if (tokens == 0) return;
  history_.resize(history_.size() - static_cast<size_t>(tokens));
  terminated_ = false;  // an end token is always the last step
}

bool Matcher::can_terminate() const {
  std::lock_guard lock(cache_->mutex);
  return dfa_->reached_bottom(history_.back());
}

bool Matcher::is_terminated() const {
  std::lock_guard lock(cache_->mutex);
  const int32_t current = history_.back();
  return terminated_ || (dfa_->tops(current).empty() && dfa_->reached_bottom(current));
}

std::string Matcher::find_jump_forward_string() const {
  std::string out;
  if (terminated_) return out;
  std::lock_guard lock(cache_->mutex);
  int32_t config = history_.back();
  const Nfa& nfa = grammar_->nfa();
  while (out.size() < 4096 && !dfa_->reached_bottom(config)) {
    int only = -1;
    bool single = true;
    for (int32_t top : dfa_->tops(config)) {
      for (const ByteEdge& e : nfa.states[dfa_->node(top).state].bytes) {
        if (e.first != e.last || (only >= 0 && only != e.first)) {
          single = false;
          break;
        }
        only = e.first;
      }
      if (!single) break;
    }
    if (!single || only < 0) break;
    config = dfa_->step(config, static_cast<uint8_t>(only));
    out += static_cast<char>(only);
  }
  return out;
}

namespace {

void or_tokens(const TokenSet& s, std::span<const uint32_t> text_tokens, std::span<uint32_t> words,
               std::vector<uint32_t>& scratch) {
  switch (s.storage) {
    case TokenSet::Storage::AcceptedList:
      for (int32_t id : s.ids) words[id >> 5] |= 1u << (id & 31);
      break;
    case TokenSet::Storage::AcceptedBitset:
      for (size_t i = 0; i < s.bits.size(); ++i) words[i] |= s.bits[i];
      break;
    case TokenSet::Storage::NotAcceptedList:
      scratch.assign(text_tokens.begin(), text_tokens.end());
      for (int32_t id : s.ids) scratch[id >> 5] &= ~(1u << (id & 31));
      for (size_t i = 0; i < scratch.size(); ++i) words[i] |= scratch[i];
      break;
  }
}

// Writes the tokens `m` accepts into zeroed `words`.
void write_accepted(const StateMask& m, std::span<const uint32_t> text_tokens, std::span<uint32_t> words,
                    std::vector<uint32_t>& scratch) {
  // The largest set first: a NotAcceptedList goes straight in, without a scratch.
  const TokenSet& first = m.shared.empty() ? m.accepted : *m.shared.front();
  if (first.storage == TokenSet::Storage::NotAcceptedList) {
    std::memcpy(words.data(), text_tokens.data(), words.size() * sizeof(uint32_t));
    for (int32_t id : first.ids) words[id >> 5] &= ~(1u << (id & 31));
  } else {
    or_tokens(first, text_tokens, words, scratch);
  }
  if (m.shared.empty()) return;
  for (size_t i = 1; i < m.shared.size(); ++i) or_tokens(*m.shared[i], text_tokens, words, scratch);
  or_tokens(m.accepted, text_tokens, words, scratch);
}

// Adds the tokens `m` accepts to `words`, which may hold others already.
void or_accepted(const StateMask& m, std::span<const uint32_t> text_tokens, std::span<uint32_t> words,
                 std::vector<uint32_t>& scratch) {
  for (const TokenSet* s : m.shared) or_tokens(*s, text_tokens, words, scratch);
  or_tokens(m.accepted, text_tokens, words, scratch);
}

}  // namespace

void Matcher::fill_next_token_bitmask(std::span<uint32_t> words) {
  const TokenVocabulary& vocab = grammar_->vocabulary();
  const size_t n_words = vocab.mask_words();
  if (words.size() < n_words)
    throw GrammarError("the token bitmask has " + std::to_string(words.size()) + " words; the vocabulary needs " +
                       std::to_string(n_words));
  words = words.first(n_words);
  std::memset(words.data(), 0, n_words * sizeof(uint32_t));
  if (terminated_) return;
  std::lock_guard lock(cache_->mutex);
  const int32_t config = history_.back();
  const auto tops = dfa_->tops(config);
  if (tops.size() == 1) {
    const StateMask& m = grammar_->mask(dfa_->node(tops[0]).state);
    write_accepted(m, vocab.text_tokens(), words, scratch_words_);
    check_uncertain(config, m.uncertain, m.uncertain_lcp, words);
  } else if (!tops.empty()) {
    for (int32_t top : tops)
      or_accepted(grammar_->mask(dfa_->node(top).state), vocab.text_tokens(), words, scratch_words_);
    const MergedUncertain& merged = merged_uncertain(config);
    check_uncertain(config, merged.positions, merged.lcp, words);
  }
  if (dfa_->reached_bottom(config))
    for (int32_t id : vocab.end_tokens()) words[id >> 5] |= 1u << (id & 31);
}

const MergedUncertain& Matcher::merged_uncertain(int32_t config) {
  auto [it, inserted] = cache_->merged.try_emplace(config);
  MergedUncertain& merged = it->second;
  if (!inserted) return merged;
  const TokenVocabulary& vocab = grammar_->vocabulary();
  for (int32_t top : dfa_->tops(config)) {
    const StateMask& m = grammar_->mask(dfa_->node(top).state);
    merged.positions.insert(merged.positions.end(), m.uncertain.begin(), m.uncertain.end());
  }
  std::sort(merged.positions.begin(), merged.positions.end());
  merged.positions.erase(std::unique(merged.positions.begin(), merged.positions.end()), merged.positions.end());
  const auto sorted = vocab.sorted();
  merged.lcp.resize(merged.positions.size());
  for (size_t i = 0; i < merged.positions.size(); ++i) {
    size_t common = 0;
    if (i > 0) {
      const std::string& a = vocab.bytes(sorted[merged.positions[i - 1]]);
      const std::string& b = vocab.bytes(sorted[merged.positions[i]]);
      const size_t limit = std::min({a.size(), b.size(), size_t{65535}});
      while (common < limit && a[common] == b[common]) ++common;
    }
    merged.lcp[i] = static_cast<uint16_t>(common);
  }
  return merged;
}

void Matcher::check_uncertain(int32_t config, std::span<const int32_t> positions, std::span<const uint16_t> lcp,
                              std::span<uint32_t> words) {
  if (positions.empty()) return;
  const TokenVocabulary& vocab = grammar_->vocabulary();
  const auto sorted = vocab.sorted();
  walk_configs_.resize(vocab.max_token_bytes() + 1);
  walk_configs_[0] = config;
  int64_t dead_at = -1;  // depth whose next byte killed the previous token's walk
  for (size_t k = 0; k < positions.size(); ++k) {
    const size_t common = lcp[k];
    if (dead_at >= 0 && static_cast<int64_t>(common) > dead_at) continue;  // starts with the dead prefix
    dead_at = -1;
    const int32_t id = sorted[positions[k]];
    const std::string& bytes = vocab.bytes(id);
    int32_t c = walk_configs_[common];
    for (size_t j = common; j < bytes.size(); ++j) {
      c = dfa_->step(c, static_cast<uint8_t>(bytes[j]));
      if (c == StackDfa::kDead) {
        dead_at = static_cast<int64_t>(j);
        break;
      }
      walk_configs_[j + 1] = c;
    }
    if (dead_at < 0) words[id >> 5] |= 1u << (id & 31);
  }
}

namespace {

class GrammarConstraint final : public TokenConstraint {
 public:
  explicit GrammarConstraint(std::shared_ptr<const CompiledGrammar> grammar) : matcher_(std::move(grammar)) {}
  void allowed_tokens(std::span<uint32_t> words) override { matcher_.fill_next_token_bitmask(words); }
  bool accept(int32_t token) override { return matcher_.accept_token(token); }
  bool is_complete() const override { return matcher_.is_terminated(); }

 private:
  Matcher matcher_;
};

}  // namespace

std::unique_ptr<TokenConstraint> make_constraint(std::shared_ptr<const CompiledGrammar> grammar) {
  return std::make_unique<GrammarConstraint>(std::move(grammar));
}

}  // namespace tabllm::grammar
