#include "grammar/stack_dfa.h"

#include <algorithm>
#include <cstring>

namespace tabllm::grammar {

StackDfa::StackDfa(const Nfa& nfa) : nfa_(nfa) {
  // Byte classes: the runs of bytes between the ends of edge ranges.
  std::array<bool, 257> starts_run{};
  starts_run[0] = true;
  for (const NfaState& s : nfa.states)
    for (const ByteEdge& e : s.bytes) {
      starts_run[e.first] = true;
      starts_run[e.last + 1] = true;
    }
  for (int b = 0; b < 256; ++b) {
    if (starts_run[b] && b > 0) ++classes_;
    class_of_[b] = static_cast<uint8_t>(classes_);
  }
  ++classes_;
  configs_.push_back({0, 0, false});  // kDead
  config_ids_.emplace(std::string(1, '\0'), kDead);
  row_of_.push_back(new_row());
  std::fill(row_of_[kDead], row_of_[kDead] + classes_, kDead);  // the dead configuration stays dead
}

int32_t* StackDfa::new_row() {
  if (rows_in_last_block_ == kRowsPerBlock) {
    row_blocks_.emplace_back(new int32_t[kRowsPerBlock * classes_]);
    rows_in_last_block_ = 0;
  }
  int32_t* row = row_blocks_.back().get() + rows_in_last_block_++ * classes_;
  std::fill(row, row + classes_, kUnknown);
  return row;
}

int32_t StackDfa::intern_node(int32_t state, int32_t parent) {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(state)) << 32) | static_cast<uint32_t>(parent);
  if (const int32_t* id = node_ids_.find(key)) return *id;
  const auto id = static_cast<int32_t>(nodes_.size());
  nodes_.push_back({state, parent});
  node_ids_.insert(key, id);
  return id;
}

// Follows every move that reads nothing from (state, parent): epsilon edges, rule calls (pushing the
// return node unless it is a tail call) and rule ends (popping); collects the stack tops that wait for a
// byte.
void StackDfa::closure(int32_t state, int32_t parent) {
  scratch_todo_.clear();
  scratch_todo_.emplace_back(state, parent);
  while (!scratch_todo_.empty()) {
    auto [q, p] = scratch_todo_.back();
    scratch_todo_.pop_back();
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(q)) << 32) | static_cast<uint32_t>(p);
    // Closures are small; a linear scan beats hashing until they are not.
    if (scratch_seen_.size() < 48) {
      if (std::find(scratch_seen_.begin(), scratch_seen_.end(), key) != scratch_seen_.end()) continue;
      scratch_seen_.push_back(key);
      if (scratch_seen_.size() == 48)
        for (uint64_t k : scratch_seen_) scratch_seen_map_.insert(k, 1);
    } else {
      if (scratch_seen_map_.find(key)) continue;
      scratch_seen_map_.insert(key, 1);
    }
    const NfaState& s = nfa_.states[q];
    if (!s.bytes.empty()) scratch_tops_.push_back(intern_node(q, p));
    for (int32_t t : s.epsilons) scratch_todo_.emplace_back(t, p);
    for (const CallEdge& c : s.calls)
      scratch_todo_.emplace_back(nfa_.rule_start[c.rule], c.tail ? p : intern_node(c.return_state, p));
    if (s.final) {
      if (p == kBottom) scratch_bottom_ = true;
      else scratch_todo_.emplace_back(nodes_[p].state, nodes_[p].parent);
    }
  }
}

int32_t StackDfa::intern_config() {
  std::sort(scratch_tops_.begin(), scratch_tops_.end());
  scratch_tops_.erase(std::unique(scratch_tops_.begin(), scratch_tops_.end()), scratch_tops_.end());
  if (scratch_tops_.empty() && !scratch_bottom_) return kDead;
  std::string key(scratch_tops_.size() * sizeof(int32_t) + 1, '\0');
  key[0] = scratch_bottom_ ? 1 : 2;
  if (!scratch_tops_.empty()) std::memcpy(key.data() + 1, scratch_tops_.data(), scratch_tops_.size() * sizeof(int32_t));
  auto [it, inserted] = config_ids_.try_emplace(std::move(key), static_cast<int32_t>(configs_.size()));
  if (inserted) {
    configs_.push_back({static_cast<uint32_t>(top_pool_.size()), static_cast<uint32_t>(scratch_tops_.size()), scratch_bottom_});
    row_of_.push_back(nullptr);
    top_pool_.insert(top_pool_.end(), scratch_tops_.begin(), scratch_tops_.end());
  }
  return it->second;
}

namespace {
struct ScratchReset {
  std::vector<int32_t>& tops;
  std::vector<uint64_t>& seen;
  FlatMap64& seen_map;
  bool& bottom;
  ScratchReset(std::vector<int32_t>& t, std::vector<uint64_t>& s, FlatMap64& m, bool& b) : tops(t), seen(s), seen_map(m), bottom(b) {
    tops.clear();
    seen.clear();
    if (seen_map.size()) seen_map = FlatMap64();
    bottom = false;
  }
};
}  // namespace

int32_t StackDfa::rule_start(int32_t rule) {
  ScratchReset reset(scratch_tops_, scratch_seen_, scratch_seen_map_, scratch_bottom_);
  closure(nfa_.rule_start[rule], kBottom);
  return intern_config();
}

int32_t StackDfa::single_top(int32_t nfa_state) {
  ScratchReset reset(scratch_tops_, scratch_seen_, scratch_seen_map_, scratch_bottom_);
  scratch_tops_.push_back(intern_node(nfa_state, kBottom));
  return intern_config();
}

int32_t StackDfa::step_slow(int32_t config, uint8_t byte) {
  const int32_t next = compute_step(config, byte);
  if (!row_of_[config]) row_of_[config] = new_row();
  row_of_[config][class_of_[byte]] = next;
  return next;
}

int32_t StackDfa::compute_step(int32_t config, uint8_t byte) {
  if (config == kDead) return kDead;
  ScratchReset reset(scratch_tops_, scratch_seen_, scratch_seen_map_, scratch_bottom_);
  const Config c = configs_[config];
  for (uint32_t i = 0; i < c.count; ++i) {
    const Node n = nodes_[top_pool_[c.offset + i]];
    for (const ByteEdge& e : nfa_.states[n.state].bytes)
      if (byte >= e.first && byte <= e.last) closure(e.target, n.parent);
  }
  return intern_config();
}

}  // namespace tabllm::grammar
