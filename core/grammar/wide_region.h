// Most tokens pass through the states of a text's characters (a JSON string's, a pattern's character
// classes), so their trie walks visit most of the vocabulary; yet such states are copied wherever their
// rule is inlined, and copies differ only in what follows the characters. A wide state's region is what
// it reaches through its characters: the states reachable by epsilon moves and by the byte edges of wide
// states (whose edges cover many byte values) within a few bytes, as an automaton of its own in which
// every other move (a narrow state's bytes such as a closing quote, a byte past the distance, a call)
// goes to one final state, the exit. Regions are numbered canonically from the state, so that states of
// the same shape have equal keys and can share one walk (mask_builder.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "grammar/nfa.h"

namespace tabllm::grammar {

struct WideRegion {
  Nfa nfa;          // one rule; state 0 is the state itself, the last state the exit (final, no edges)
  std::string key;  // equal for regions of the same shape
};

// The region of a state with byte edges; none when the state is narrow (its trie walk is cheap) or its
// region is large.
std::optional<WideRegion> wide_region(const Nfa& nfa, int32_t state);

}  // namespace tabllm::grammar
