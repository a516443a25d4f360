// The mask cache: for each automaton state, one depth-first walk of the vocabulary trie with the stack
// cut just below that state. A token whose bytes all fit inside the state's rule is accepted in every
// context; one that fails inside the rule is rejected in every context; one that finishes the rule with
// bytes left is uncertain, unless its next byte can never follow the rule (then it is rejected too).
#include "grammar/compiled_grammar.h"

#include <algorithm>

#include "grammar/stack_dfa.h"

namespace tabllm::grammar {

CompiledGrammar::CompiledGrammar(const Grammar& grammar, std::shared_ptr<const TokenVocabulary> vocabulary)
    : nfa_(Nfa::build(grammar)), vocabulary_(std::move(vocabulary)) {
  if (!vocabulary_) throw GrammarError("compiling a grammar needs a token vocabulary");
  const TokenVocabulary& vocab = *vocabulary_;
  const auto sorted = vocab.sorted();
  const auto trie = vocab.trie();
  for (int32_t id : sorted) max_token_bytes_ = std::max(max_token_bytes_, vocab.bytes(id).size());
  const size_t words = vocab.mask_words();
  const size_t text_token_count = sorted.size();

  StackDfa dfa(nfa_);
  mask_index_.assign(nfa_.states.size(), -1);
  masks_.reserve(nfa_.top_states.size());
  std::vector<int32_t> config(max_token_bytes_ + 1);
  std::vector<uint8_t> uncertain_floor(max_token_bytes_ + 1);
  std::vector<int32_t> accepted;  // sorted positions
  std::vector<uint8_t> is_accepted(text_token_count);

  for (int32_t state : nfa_.top_states) {
    const ByteSet& follow = nfa_.follow[nfa_.states[state].rule];
    StateMask m;
    accepted.clear();
    config[0] = dfa.single_top(state);
    uncertain_floor[0] = 0;
    for (int32_t u = 1; u < static_cast<int32_t>(trie.size());) {
      const auto& node = trie[u];
      const int32_t d = node.depth;
      const int32_t parent = config[d - 1];
      const int32_t next = dfa.step(parent, node.byte);
      const bool floor = uncertain_floor[d - 1] || (dfa.reached_bottom(parent) && follow[node.byte]);
      if (next == StackDfa::kDead) {
        if (floor)
          for (int32_t t = node.first_token; t < node.last_token; ++t) m.uncertain.push_back(t);
        u = node.subtree_end;
        continue;
      }
      for (int32_t t = node.first_token; t < node.first_token + node.ending; ++t) accepted.push_back(t);
      config[d] = next;
      uncertain_floor[d] = floor;
      ++u;
    }
    // Store accepted tokens in the smallest form.
    const size_t n_accepted = accepted.size();
    const size_t n_not = text_token_count - n_accepted;
    if (n_accepted <= n_not && n_accepted <= words) {
      m.storage = StateMask::Storage::AcceptedList;
      for (int32_t t : accepted) m.ids.push_back(sorted[t]);
      std::sort(m.ids.begin(), m.ids.end());
      ++stats_.accepted_lists;
    } else if (n_not < words) {
      m.storage = StateMask::Storage::NotAcceptedList;
      for (int32_t t : accepted) is_accepted[t] = 1;
      for (size_t t = 0; t < text_token_count; ++t)
        if (!is_accepted[t]) m.ids.push_back(sorted[t]);
      for (int32_t t : accepted) is_accepted[t] = 0;
      std::sort(m.ids.begin(), m.ids.end());
      ++stats_.not_accepted_lists;
    } else {
      m.storage = StateMask::Storage::AcceptedBitset;
      m.bits.assign(words, 0);
      for (int32_t t : accepted) m.bits[sorted[t] / 32] |= 1u << (sorted[t] % 32);
      ++stats_.bitsets;
    }
    m.uncertain_lcp.resize(m.uncertain.size());
    for (size_t i = 0; i < m.uncertain.size(); ++i) {
      size_t common = 0;
      if (i > 0) {
        const std::string& a = vocab.bytes(sorted[m.uncertain[i - 1]]);
        const std::string& b = vocab.bytes(sorted[m.uncertain[i]]);
        const size_t limit = std::min({a.size(), b.size(), size_t{65535}});
        while (common < limit && a[common] == b[common]) ++common;
      }
      m.uncertain_lcp[i] = static_cast<uint16_t>(common);
    }
    stats_.uncertain_tokens += m.uncertain.size();
    stats_.cache_bytes += m.ids.size() * 4 + m.bits.size() * 4 + m.uncertain.size() * 6;
    mask_index_[state] = static_cast<int32_t>(masks_.size());
    masks_.push_back(std::move(m));
  }
  stats_.automaton_configs = dfa.config_count();
  stats_.automaton_nodes = dfa.node_count();
  stats_.nfa_states = nfa_.states.size();
  stats_.cached_states = masks_.size();
}

std::shared_ptr<RuntimeCache> CompiledGrammar::runtime_cache() const {
  // Past this many configurations a cache stops being shared (long-running servers would otherwise keep
  // every configuration any request ever reached).
  constexpr size_t kMaxSharedConfigs = 200'000;
  std::lock_guard lock(runtime_mutex_);
  bool fresh = !runtime_;
  if (!fresh) {
    std::lock_guard inner(runtime_->mutex);
    fresh = runtime_->dfa->config_count() > kMaxSharedConfigs;
  }
  if (fresh) {
    runtime_ = std::make_shared<RuntimeCache>();
    runtime_->dfa = std::make_shared<StackDfa>(nfa_);
  }
  return runtime_;
}

std::shared_ptr<const CompiledGrammar> compile(const Grammar& grammar, std::shared_ptr<const TokenVocabulary> vocabulary) {
  return std::make_shared<const CompiledGrammar>(grammar, std::move(vocabulary));
}

}  // namespace tabllm::grammar
