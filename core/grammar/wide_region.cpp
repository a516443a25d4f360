#include "grammar/wide_region.h"

#include <cstring>
#include <deque>
#include <unordered_map>

namespace tabllm::grammar {

namespace {

// A state whose byte edges cover at least this many byte values is wide: most tokens pass through it.
// (Character classes of text are wide, UTF-8 continuation bytes too; digits, escapes, literals are not.)
constexpr int kWideBytes = 16;
// Bytes a region reaches from its state: longer tokens leave it (and are walked from each state), and
// a repetition of wide states ({0,64} characters) gives its positions equal regions up to its last few.
constexpr int32_t kRegionBytes = 16;
constexpr size_t kMaxRegionStates = 1024;

int byte_values(const NfaState& s) {
  int covered = 0;
  for (const ByteEdge& e : s.bytes) covered += e.last - e.first + 1;
  return covered;
}

void append(std::string& key, int32_t value) {
  char bytes[sizeof(value)];
  std::memcpy(bytes, &value, sizeof(value));
  key.append(bytes, sizeof(value));
}

}  // namespace

std::optional<WideRegion> wide_region(const Nfa& nfa, int32_t state) {
  if (byte_values(nfa.states[state]) < kWideBytes) return std::nullopt;
  // Breadth-first from the state (epsilon moves first, as they add no distance), edges in their stored
  // order: copies of a region get the same numbers. `distance` is the bytes read to reach a state first.
  std::vector<int32_t> order{state}, distance{0};
  std::unordered_map<int32_t, int32_t> id_of{{state, 0}};
  std::deque<int32_t> queue{0};
  auto local_id = [&](int32_t q, int32_t d, bool epsilon) -> int32_t {
    const auto [it, inserted] = id_of.try_emplace(q, static_cast<int32_t>(order.size()));
    if (!inserted) return it->second;
    order.push_back(q);
    distance.push_back(d);
    const int32_t id = it->second;
    if (epsilon) queue.push_front(id);
    else queue.push_back(id);
    return id;
  };
  constexpr int32_t kExit = -1;  // renumbered once the region's size is known
  std::vector<NfaState> states;
  while (!queue.empty()) {
    if (order.size() > kMaxRegionStates) return std::nullopt;
    const int32_t id = queue.front();
    queue.pop_front();
    if (states.size() < order.size()) states.resize(order.size());
    const NfaState& s = nfa.states[order[id]];
    const int32_t d = distance[id];
    NfaState& copy = states[id];
    copy.rule = 0;
    copy.final = s.final;
    // A narrow state's bytes (a closing quote) lead to what follows the characters: left to the walk
    // from each state.
    const bool narrow = byte_values(s) < kWideBytes;
    for (const ByteEdge& e : s.bytes)
      copy.bytes.push_back({e.first, e.last, !narrow && d < kRegionBytes ? local_id(e.target, d + 1, false) : kExit});
    for (int32_t t : s.epsilons) copy.epsilons.push_back(local_id(t, d, true));
    if (!s.calls.empty()) copy.epsilons.push_back(kExit);
  }
  WideRegion r;
  r.nfa.states = std::move(states);
  const auto exit = static_cast<int32_t>(r.nfa.states.size());
  for (NfaState& s : r.nfa.states) {
    for (ByteEdge& e : s.bytes)
      if (e.target == kExit) e.target = exit;
    for (int32_t& t : s.epsilons)
      if (t == kExit) t = exit;
  }
  NfaState exit_state;
  exit_state.rule = 0;
  exit_state.final = true;
  r.nfa.states.push_back(exit_state);
  r.nfa.rule_start = {0};
  r.nfa.rule_names = {"region"};
  r.nfa.follow = {ByteSet().set()};  // what follows the exit is not known here
  for (const NfaState& s : r.nfa.states) {
    r.key.push_back(s.final ? 'F' : 'N');
    append(r.key, static_cast<int32_t>(s.bytes.size()));
    for (const ByteEdge& e : s.bytes) {
      r.key.push_back(static_cast<char>(e.first));
      r.key.push_back(static_cast<char>(e.last));
      append(r.key, e.target);
    }
    append(r.key, static_cast<int32_t>(s.epsilons.size()));
    for (int32_t t : s.epsilons) append(r.key, t);
  }
  return r;
}

}  // namespace tabllm::grammar
