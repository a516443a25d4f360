// Computes a state's token classes (StateMask) for CompiledGrammar, which calls it under its lock.
//
// The basis is a depth-first walk of the vocabulary trie with the stack cut just below the state: a
// token whose bytes all fit inside the state's rule is accepted in every context; one that fails inside
// the rule is rejected in every context; one that finishes the rule with bytes left is uncertain, unless
// its next byte can never follow the rule (then it is rejected too). Walks that would visit most of the
// vocabulary are shared, two ways:
// - a wide state (a JSON string's characters) walks the trie over its region instead (wide_region.h),
//   once for all states of that shape, in this grammar and the later ones (the vocabulary keeps it); only
//   the tokens that leave the region are walked from the state itself;
// - states whose first bytes lead to the same configuration (the nodes of a trie of declared keys, which
//   all fall back to any other key) share the walk below it, made once for every first byte: each state
//   takes the subtrees of its own first bytes from it and walks only its other first bytes. Such a walk
//   depends on the configuration and the rule's FOLLOW set, not on the rule, and where the configuration
//   rests on the stack's bottom the vocabulary keeps it for the later grammars too (a key trie's node is
//   a rule of its own, nfa.h, so "any other key" rests on the bottom whatever the names and the object).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "grammar/compiled_grammar.h"
#include "grammar/stack_dfa.h"
#include "grammar/wide_region.h"

namespace tabllm::grammar {

// The trie walk over a region: what every state of its shape accepts, and the tokens that leave the
// region with bytes left (to be walked from each state).
struct RegionCore {
  bool useful = true;  // false: most tokens leave the region, its states are walked directly
  TokenSet accepted;
  std::vector<int32_t> leaving;  // positions in sorted(), increasing
  std::vector<uint16_t> leaving_lcp;
};

// The walk below a configuration reached by a first byte, for one FOLLOW set, done for every first byte.
// It depends on the vocabulary and the automaton reachable from the configuration alone, so the
// vocabulary keeps the common ones (the "any other key" of a key trie recurs in every grammar with
// objects).
struct SharedWalk {
  std::vector<uint64_t> is_accepted;   // bitset over positions in sorted()
  std::vector<int32_t> uncertain;      // positions, increasing
};

class MaskBuilder {
 public:
  MaskBuilder(const Nfa& nfa, const TokenVocabulary& vocab);

  StateMask build(int32_t state, CompileStats& stats);

 private:
  const Nfa& nfa_;
  const TokenVocabulary& vocab_;
  std::unique_ptr<StackDfa> dfa_;  // shared by the walks, so later walks step by lookups
  std::unordered_map<std::string, std::shared_ptr<const RegionCore>> cores_;  // this grammar's
  std::vector<std::shared_ptr<const SharedWalk>> shared_walks_;  // this grammar's
  std::unordered_map<uint64_t, const SharedWalk*> shared_walk_of_;  // (configuration, FOLLOW set, empty rule) in dfa_
  std::vector<int32_t> follow_id_;  // per rule: its FOLLOW set, as an index among the distinct ones
  // Per depth on the current path: the configuration, and whether the rule may have ended before it.
  std::vector<int32_t> config_;
  std::vector<uint8_t> floor_;
  // Accepted positions in sorted(), increasing: the state's own, and those of a shared walk (kept between
  // builds, so that their memory is not allocated again for each state).
  std::vector<int32_t> accepted_, shared_accepted_;
  std::vector<std::pair<int32_t, int32_t>> first_steps_;  // (trie node of a first byte, configuration after it)

  const RegionCore* region_core(int32_t state, CompileStats& stats);
  std::shared_ptr<const RegionCore> walk_region(const WideRegion& region, CompileStats& stats);
  void walk_state(int32_t state, StateMask& m, CompileStats& stats);
  const SharedWalk* shared_walk(int32_t start, int32_t config, int32_t rule, CompileStats& stats);
  // What decides a shared walk, in terms free of this grammar's numbering; "" when too large to say.
  std::string shared_walk_key(int32_t start, int32_t config, int32_t rule) const;
  // False, leaving the walk unfinished, once more than `max_uncertain` tokens are uncertain.
  bool walk_nodes(StackDfa& dfa, int32_t start, const ByteSet& follow, int32_t begin, int32_t end,
                  std::vector<int32_t>& accepted, std::vector<int32_t>& uncertain, size_t max_uncertain = SIZE_MAX);
  void walk_below(StackDfa& dfa, const ByteSet& follow, int32_t u, std::vector<int32_t>& accepted,
                  std::vector<int32_t>& uncertain);
  bool walk_range(StackDfa& dfa, const ByteSet& follow, int32_t begin, int32_t end, std::vector<int32_t>& accepted,
                  std::vector<int32_t>& uncertain, size_t max_uncertain);
  void walk_list(StackDfa& dfa, int32_t start, const ByteSet& follow, const std::vector<int32_t>& positions,
                 const std::vector<uint16_t>& lcp, std::vector<int32_t>& accepted, std::vector<int32_t>& uncertain);
  TokenSet store(const std::vector<int32_t>& accepted, CompileStats& stats) const;
  std::vector<uint16_t> common_prefixes(const std::vector<int32_t>& positions) const;
};

}  // namespace tabllm::grammar
