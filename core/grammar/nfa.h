// The grammar as the pushdown automaton runs it: each rule becomes a byte-level NFA whose edges read a
// byte range, call another rule (pushing where to return), or move without reading. Non-recursive rules
// that are small or used once are inlined so that the automaton's states (and their token-mask caches)
// see a whole rule's worth of context; character classes become the UTF-8 byte sequences of their code
// points.
#pragma once
#include <array>
#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

#include "grammar/grammar.h"

namespace tabllm::grammar {

struct ByteEdge {
  uint8_t first, last;  // byte range, both included
  int32_t target;
};

struct CallEdge {
  int32_t rule;
  int32_t return_state;
  bool tail;  // returning there is the same as returning from the caller: no stack frame is pushed
};

struct NfaState {
  std::vector<ByteEdge> bytes;
  std::vector<CallEdge> calls;
  std::vector<int32_t> epsilons;
  bool final = false;  // the rule may end here
  int32_t rule = -1;   // the (non-inlined) rule this state belongs to
};

using ByteSet = std::bitset<256>;

struct Nfa {
  std::vector<NfaState> states;
  std::vector<int32_t> rule_start;      // per grammar rule; -1 for rules that were only ever inlined
  std::vector<std::string> rule_names;
  int32_t root_rule = 0;
  std::vector<ByteSet> follow;          // per rule: bytes that may come right after it, in any context
  std::vector<int32_t> top_states;      // states with byte edges: where the stack top can rest

  static Nfa build(const Grammar& grammar);
};

}  // namespace tabllm::grammar
