// The pushdown automaton's configurations, made deterministic lazily. A stack is a chain of immutable,
// hash-consed nodes (NFA state, parent node), so stacks share their common parts and equal stacks have
// equal ids. A configuration is the sorted set of stack tops the parse may be in (plus whether a path has
// reached the stack's bottom); configurations are interned and their byte transitions memoized, so
// accepting a byte is usually one table lookup and rollback or fork only copy integers.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "grammar/flat_map.h"
#include "grammar/nfa.h"

namespace tabllm::grammar {

class StackDfa {
 public:
  static constexpr int32_t kDead = 0;     // configuration id: no parse left
  static constexpr int32_t kBottom = -1;  // parent of the bottom node
  static constexpr int32_t kUnknown = -2;  // transition not computed yet

  struct Node {
    int32_t state;   // NFA state: where this rule's text continues
    int32_t parent;  // node to return to when this rule ends; kBottom for the outermost
  };

  explicit StackDfa(const Nfa& nfa);

  // The configuration at the start of `rule` (the grammar's root for a matcher).
  int32_t rule_start(int32_t rule);
  // The configuration of one stack of one node resting at `nfa_state`, ending at the bottom below it.
  int32_t single_top(int32_t nfa_state);

  int32_t step(int32_t config, uint8_t byte) {
    if (const int32_t* row = row_of_[config]) {
      const int32_t next = row[class_of_[byte]];
      if (next != kUnknown) return next;
    }
    return step_slow(config, byte);
  }
  // Steps through `bytes`; kDead as soon as no parse is left.
  int32_t walk(int32_t config, std::string_view bytes) {
    for (unsigned char c : bytes) {
      config = step(config, c);
      if (config == kDead) break;
    }
    return config;
  }

  std::span<const int32_t> tops(int32_t config) const {
    const Config& c = configs_[config];
    return {top_pool_.data() + c.offset, c.count};
  }
  // A path has ended the bottom rule right after the last byte (for a matcher: the text is complete).
  bool reached_bottom(int32_t config) const { return configs_[config].reached_bottom; }
  const Node& node(int32_t id) const { return nodes_[id]; }
  size_t config_count() const { return configs_.size(); }
  size_t node_count() const { return nodes_.size(); }

 private:
  struct Config {
    uint32_t offset, count;
    bool reached_bottom;
  };
  const Nfa& nfa_;
  std::vector<Node> nodes_;
  FlatMap64 node_ids_;
  std::vector<Config> configs_;
  std::vector<int32_t> top_pool_;
  std::unordered_map<std::string, int32_t> config_ids_;
  // Memoized transitions: a row (kUnknown until computed) for each configuration stepped so far, null for
  // the others, indexed by byte class: bytes that no edge of the automaton tells apart share an entry
  // (a few dozen classes in a JSON Schema's grammar, so rows are small). Rows are carved from blocks
  // that never move, so that growing costs no copy (a first mask at a new configuration should not pay
  // for copying every row before it).
  static constexpr size_t kRowsPerBlock = 64;
  std::array<uint8_t, 256> class_of_{};
  size_t classes_ = 0;
  std::vector<int32_t*> row_of_;
  std::vector<std::unique_ptr<int32_t[]>> row_blocks_;
  size_t rows_in_last_block_ = kRowsPerBlock;
  // Scratch of compute_step / closure.
  std::vector<int32_t> scratch_tops_;
  std::vector<std::pair<int32_t, int32_t>> scratch_todo_;
  std::vector<uint64_t> scratch_seen_;
  FlatMap64 scratch_seen_map_;
  bool scratch_bottom_ = false;

  int32_t* new_row();
  int32_t intern_node(int32_t state, int32_t parent);
  int32_t intern_config();
  void closure(int32_t state, int32_t parent);
  int32_t compute_step(int32_t config, uint8_t byte);
  int32_t step_slow(int32_t config, uint8_t byte);
};

}  // namespace tabllm::grammar
