// A grammar compiled for one vocabulary: the automaton plus, for every state the stack top can rest in,
// which tokens are accepted or rejected whatever lies below on the stack. A state's token classes are
// computed the first time a matcher needs them (those of the start in compile(), or all of them on
// request) and never change after, so any number of matchers (threads included) can share one compiled
// grammar.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/nfa.h"
#include "grammar/vocabulary.h"

namespace tabllm::grammar {

// A set of tokens in whichever form is smallest.
struct TokenSet {
  enum class Storage : uint8_t { AcceptedList, NotAcceptedList, AcceptedBitset };
  Storage storage = Storage::AcceptedList;
  std::vector<int32_t> ids;    // AcceptedList: the tokens; NotAcceptedList: the other text tokens
  std::vector<uint32_t> bits;  // AcceptedBitset
};

// Token classes of one automaton state. The tokens the state's own rule accepts are those of `shared`
// (the walk of its character region, shared with the states of the same shape: mask_builder.h) plus
// `accepted`. Tokens that reach the end of the rule with bytes left over ("uncertain") depend on the
// rules below on the stack and are checked at run time, so they are kept in trie order with the length
// of the prefix each shares with the previous one.
struct StateMask {
  std::vector<const TokenSet*> shared;
  TokenSet accepted;
  std::vector<int32_t> uncertain;      // positions in TokenVocabulary::sorted()
  std::vector<uint16_t> uncertain_lcp;  // common prefix with the previous uncertain token
};

class StackDfa;
class MaskBuilder;

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
  size_t nfa_states = 0, top_states = 0;
  size_t cached_states = 0;  // states whose token classes are computed so far
  size_t region_walks = 0;   // trie walks over wide regions (not those the vocabulary already knew)
  size_t accepted_lists = 0, not_accepted_lists = 0, bitsets = 0;
  size_t uncertain_tokens = 0, cache_bytes = 0;
  size_t automaton_configs = 0, automaton_nodes = 0;  // configurations the mask walks created
};

struct CompileOptions {
  // compile() computes the token classes of the states the grammar starts in; the others are computed
  // when a matcher first reaches them, unless this asks for all of them up front: compile then takes
  // longer (for large JSON Schemas, up to seconds), and no mask waits on a state seen for the first time.
  bool precompute_masks = false;
};

class CompiledGrammar {
 public:
  CompiledGrammar(const Grammar& grammar, std::shared_ptr<const TokenVocabulary> vocabulary, CompileOptions options = {});
  ~CompiledGrammar();

  const Nfa& nfa() const { return nfa_; }
  const TokenVocabulary& vocabulary() const { return *vocabulary_; }
  const std::shared_ptr<const TokenVocabulary>& shared_vocabulary() const { return vocabulary_; }
  // The token classes of an NFA state with byte edges; computed by the first call for that state.
  const StateMask& mask(int32_t nfa_state) const {
    const StateMask* m = masks_[nfa_state].load(std::memory_order_acquire);
    return m ? *m : build_mask(nfa_state);
  }
  void precompute_masks() const;
  CompileStats stats() const;
  // The run-time cache new matchers share; a fresh one once the shared one has grown large.
  std::shared_ptr<RuntimeCache> runtime_cache() const;

 private:
  Nfa nfa_;
  std::shared_ptr<const TokenVocabulary> vocabulary_;
  // Per NFA state: its token classes once computed (pointing into built_), else null.
  std::unique_ptr<std::atomic<const StateMask*>[]> masks_;
  mutable std::mutex build_mutex_;  // guards builder_, built_, stats_
  mutable std::unique_ptr<MaskBuilder> builder_;
  mutable std::deque<StateMask> built_;
  mutable CompileStats stats_;
  mutable std::mutex runtime_mutex_;
  mutable std::shared_ptr<RuntimeCache> runtime_;

  const StateMask& build_mask(int32_t nfa_state) const;
};

std::shared_ptr<const CompiledGrammar> compile(const Grammar& grammar, std::shared_ptr<const TokenVocabulary> vocabulary,
                                               CompileOptions options = {});

}  // namespace tabllm::grammar
