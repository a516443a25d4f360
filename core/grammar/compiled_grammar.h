// A grammar compiled for one vocabulary: the automaton plus, for every state the stack top can rest in,
// which tokens are accepted or rejected whatever lies below on the stack. Immutable once built, so any
// number of matchers (threads included) can share one.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/nfa.h"
#include "grammar/vocabulary.h"

namespace tabllm::grammar {

// Token classes of one automaton state. Tokens the state's own rule decides are stored in whichever form
// is smallest; tokens that reach the end of the rule with bytes left over ("uncertain") depend on the
// rules below on the stack and are checked at run time, so they are kept in trie order with the length
// of the prefix each shares with the previous one.
struct StateMask {
  enum class Storage : uint8_t { AcceptedList, NotAcceptedList, AcceptedBitset };
  Storage storage = Storage::AcceptedList;
  std::vector<int32_t> ids;            // AcceptedList: accepted ids; NotAcceptedList: the other text tokens
  std::vector<uint32_t> bits;          // AcceptedBitset
  std::vector<int32_t> uncertain;      // positions in TokenVocabulary::sorted()
  std::vector<uint16_t> uncertain_lcp;  // common prefix with the previous uncertain token
};

class StackDfa;

// Uncertain tokens of a configuration with several stack tops, merged in trie order.
struct MergedUncertain {
  std::vector<int32_t> positions;
  std::vector<uint16_t> lcp;
};

// What matchers learn at run time (automaton configurations and transitions, merged uncertain lists),
// shared by the matchers of one compiled grammar so that a new matcher starts warm. Every matcher
// operation holds `mutex` while it uses them.
struct RuntimeCache {
  std::mutex mutex;
  std::shared_ptr<StackDfa> dfa;
  std::unordered_map<int32_t, MergedUncertain> merged;
};

struct CompileStats {
  size_t nfa_states = 0, cached_states = 0;
  size_t accepted_lists = 0, not_accepted_lists = 0, bitsets = 0;
  size_t uncertain_tokens = 0, cache_bytes = 0;
  size_t automaton_configs = 0, automaton_nodes = 0;  // configurations the cache walks created
};

class CompiledGrammar {
 public:
  CompiledGrammar(const Grammar& grammar, std::shared_ptr<const TokenVocabulary> vocabulary);

  const Nfa& nfa() const { return nfa_; }
  const TokenVocabulary& vocabulary() const { return *vocabulary_; }
  const std::shared_ptr<const TokenVocabulary>& shared_vocabulary() const { return vocabulary_; }
  // The mask cache of an NFA state with byte edges.
  const StateMask& mask(int32_t nfa_state) const { return masks_[mask_index_[nfa_state]]; }
  const CompileStats& stats() const { return stats_; }
  size_t max_token_bytes() const { return max_token_bytes_; }
  // The run-time cache new matchers share; a fresh one once the shared one has grown large.
  std::shared_ptr<RuntimeCache> runtime_cache() const;

 private:
  Nfa nfa_;
  std::shared_ptr<const TokenVocabulary> vocabulary_;
  std::vector<int32_t> mask_index_;
  std::vector<StateMask> masks_;
  CompileStats stats_;
  size_t max_token_bytes_ = 0;
  mutable std::mutex runtime_mutex_;
  mutable std::shared_ptr<RuntimeCache> runtime_;
};

std::shared_ptr<const CompiledGrammar> compile(const Grammar& grammar, std::shared_ptr<const TokenVocabulary> vocabulary);

}  // namespace tabllm::grammar
