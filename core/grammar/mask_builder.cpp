#include "grammar/mask_builder.h"

#include <algorithm>

namespace tabllm::grammar {

namespace {

// Past this many configurations the walks' automaton starts afresh (each walk starts from its own
// configuration, so nothing is lost but lookups).
constexpr size_t kMaxWalkConfigs = 50'000;

size_t token_set_bytes(const TokenSet& s) { return s.ids.size() * 4 + s.bits.size() * 4; }

}  // namespace

MaskBuilder::MaskBuilder(const Nfa& nfa, const TokenVocabulary& vocab)
    : nfa_(nfa), vocab_(vocab), dfa_(std::make_unique<StackDfa>(nfa)),
      config_(vocab.max_token_bytes() + 1), floor_(vocab.max_token_bytes() + 1) {
  std::unordered_map<ByteSet, int32_t> ids;
  follow_id_.reserve(nfa.follow.size());
  for (const ByteSet& f : nfa.follow) follow_id_.push_back(ids.try_emplace(f, static_cast<int32_t>(ids.size())).first->second);
}

StateMask MaskBuilder::build(int32_t state, CompileStats& stats) {
  if (dfa_->config_count() > kMaxWalkConfigs) {
    dfa_ = std::make_unique<StackDfa>(nfa_);
    shared_walk_of_.clear();
  }
  StateMask m;
  accepted_.clear();
  if (const RegionCore* core = region_core(state, stats)) {
    m.shared.push_back(&core->accepted);
    walk_list(*dfa_, dfa_->single_top(state), nfa_.follow[nfa_.states[state].rule], core->leaving, core->leaving_lcp,
              accepted_, m.uncertain);
  } else {
    walk_state(state, m, stats);
  }
  m.accepted = store(accepted_, stats);
  m.uncertain_lcp = common_prefixes(m.uncertain);
  ++stats.cached_states;
  stats.uncertain_tokens += m.uncertain.size();
  stats.cache_bytes += token_set_bytes(m.accepted) + m.uncertain.size() * 6;
  stats.automaton_configs = dfa_->config_count();
  stats.automaton_nodes = dfa_->node_count();
  return m;
}

const RegionCore* MaskBuilder::region_core(int32_t state, CompileStats& stats) {
  std::optional<WideRegion> region = wide_region(nfa_, state);
  if (!region) return nullptr;
  auto [it, inserted] = cores_.try_emplace(region->key);
  if (inserted) it->second = vocab_.region_core(region->key);
  if (!it->second) {
    it->second = walk_region(*region, stats);
    vocab_.remember_region_core(region->key, it->second);
  }
  return it->second->useful ? it->second.get() : nullptr;
}

std::shared_ptr<const RegionCore> MaskBuilder::walk_region(const WideRegion& region, CompileStats& stats) {
  // A region most tokens leave (characters that soon reach a call, say) saves nothing: the state is
  // walked directly then.
  const size_t max_leaving = vocab_.sorted().size() / 16;
  StackDfa local(region.nfa);
  auto core = std::make_shared<RegionCore>();
  std::vector<int32_t>& accepted = shared_accepted_;
  accepted.clear();
  ++stats.region_walks;
  if (!walk_nodes(local, local.single_top(0), region.nfa.follow[0], 1, vocab_.trie()[0].subtree_end, accepted,
                  core->leaving, max_leaving)) {
    core->leaving.clear();
    core->useful = false;
    return core;
  }
  core->accepted = store(accepted, stats);
  core->leaving_lcp = common_prefixes(core->leaving);
  stats.cache_bytes += token_set_bytes(core->accepted) + core->leaving.size() * 6;
  return core;
}

// The walk of one state, by its first bytes. The first bytes (two or more) that lead to one configuration
// and hold many tokens take their tokens from the walk below that configuration, which is made once for
// every first byte and shared with every state that reaches it (the nodes of key tries, whatever their
// names); the other first bytes are walked from the state.
void MaskBuilder::walk_state(int32_t state, StateMask& m, CompileStats& stats) {
  // A shared walk pays off when its first bytes hold a fair part of the vocabulary (2,000 tokens of
  // Llama 3's); one first byte leads to a configuration that few other states reach.
  const auto shared_tokens = std::max<int32_t>(1, static_cast<int32_t>(vocab_.sorted().size() / 64));
  const auto trie = vocab_.trie();
  const int32_t rule = nfa_.states[state].rule;
  const int32_t start = dfa_->single_top(state);
  first_steps_.clear();
  struct Group {
    int32_t tokens = 0, first_bytes = 0;
  };
  std::unordered_map<int32_t, Group> groups;  // by the configuration after the first byte
  for (int32_t u = 1; u < trie[0].subtree_end; u = trie[u].subtree_end) {
    const int32_t next = dfa_->step(start, trie[u].byte);
    if (next == StackDfa::kDead) continue;  // at depth 1 the rule cannot have ended: rejected
    first_steps_.emplace_back(u, next);
    groups[next].tokens += trie[trie[u].subtree_end].first_token - trie[u].first_token;
    ++groups[next].first_bytes;
  }
  std::unordered_map<int32_t, const SharedWalk*> walk_after;  // by configuration
  for (const auto& [config, g] : groups)
    if (g.tokens >= shared_tokens && g.first_bytes > 1)
      if (const SharedWalk* w = shared_walk(start, config, rule, stats)) walk_after[config] = w;
  for (const auto& [u, next] : first_steps_) {
    const auto& node = trie[u];
    const int32_t from = node.first_token, to = trie[node.subtree_end].first_token;
    const auto it = walk_after.find(next);
    if (it == walk_after.end()) {
      walk_nodes(*dfa_, start, nfa_.follow[rule], u, node.subtree_end, accepted_, m.uncertain);
      continue;
    }
    const SharedWalk& w = *it->second;
    for (int32_t t = from; t < to; ++t)
      if (w.is_accepted[t >> 6] >> (t & 63) & 1) accepted_.push_back(t);
    const auto& uncertain = w.uncertain;
    const auto first = std::lower_bound(uncertain.begin(), uncertain.end(), from);
    m.uncertain.insert(m.uncertain.end(), first, std::lower_bound(first, uncertain.end(), to));
  }
}

const SharedWalk* MaskBuilder::shared_walk(int32_t start, int32_t config, int32_t rule, CompileStats& stats) {
  constexpr size_t kMaxSharedWalks = 256;  // each holds a bitset of the vocabulary
  // Below the first byte a walk depends on the configuration and the rule's FOLLOW set, and at the
  // first byte on whether the rule may be empty: rules that agree share it (each node of a key trie is
  // a rule of its own, and all of them fall back to the same configuration).
  const uint64_t key = static_cast<uint64_t>(static_cast<uint32_t>(config)) << 32 |
                       static_cast<uint32_t>(follow_id_[rule]) << 1 | (dfa_->reached_bottom(start) ? 1 : 0);
  if (const auto it = shared_walk_of_.find(key); it != shared_walk_of_.end()) return it->second;
  if (shared_walks_.size() >= kMaxSharedWalks) return nullptr;
  const auto trie = vocab_.trie();
  const std::string vocab_key = shared_walk_key(start, config, rule);
  std::shared_ptr<const SharedWalk> known = vocab_key.empty() ? nullptr : vocab_.shared_walk(vocab_key);
  if (!known) {
    // Every first byte's subtree, as if that byte led to `config`: a state uses the subtrees of the
    // first bytes that do.
    auto w = std::make_shared<SharedWalk>();
    std::vector<int32_t>& accepted = shared_accepted_;
    accepted.clear();
    const ByteSet& follow = nfa_.follow[rule];
    const bool empty = dfa_->reached_bottom(start);
    for (int32_t u = 1; u < trie[0].subtree_end; u = trie[u].subtree_end) {
      const auto& node = trie[u];
      for (int32_t t = node.first_token; t < node.first_token + node.ending; ++t) accepted.push_back(t);
      config_[1] = config;
      floor_[1] = empty && follow[node.byte];
      walk_below(*dfa_, follow, u, accepted, w->uncertain);
    }
    w->is_accepted.assign((vocab_.sorted().size() + 63) / 64, 0);
    for (int32_t t : accepted) w->is_accepted[t >> 6] |= uint64_t{1} << (t & 63);
    stats.cache_bytes += w->is_accepted.size() * 8 + w->uncertain.size() * 4;
    if (!vocab_key.empty()) vocab_.remember_shared_walk(vocab_key, w);
    known = std::move(w);
  }
  shared_walks_.push_back(known);
  shared_walk_of_.emplace(key, known.get());
  return known.get();
}

// The automaton reachable from the configuration's stack tops (which must rest on the bottom: what lies
// below the cut is the FOLLOW set), numbered in the order it is reached, with the FOLLOW set, the first
// whether the rule may be empty. Equal keys walk alike in any grammar.
std::string MaskBuilder::shared_walk_key(int32_t start, int32_t config, int32_t rule) const {
  constexpr size_t kMaxStates = 512;  // the "any other key" rule has a few dozen
  std::vector<int32_t> order;
  std::unordered_map<int32_t, int32_t> id_of;
  auto id = [&](int32_t state) {
    const auto [it, inserted] = id_of.try_emplace(state, static_cast<int32_t>(order.size()));
    if (inserted) order.push_back(state);
    return it->second;
  };
  std::string key;
  auto append = [&](int32_t v) { key.append(reinterpret_cast<const char*>(&v), sizeof v); };
  key.push_back(dfa_->reached_bottom(start) ? 'E' : 'N');
  key.push_back(dfa_->reached_bottom(config) ? 'B' : 'N');
  key.append(nfa_.follow[rule].to_string());
  const auto tops = dfa_->tops(config);
  append(static_cast<int32_t>(tops.size()));
  for (const int32_t top : tops) {
    const StackDfa::Node& n = dfa_->node(top);
    if (n.parent != StackDfa::kBottom) return "";
    append(id(n.state));
  }
  for (size_t k = 0; k < order.size(); ++k) {
    if (order.size() > kMaxStates) return "";
    const NfaState& s = nfa_.states[order[k]];
    key.push_back(s.final ? 'F' : 'N');
    append(static_cast<int32_t>(s.bytes.size()));
    for (const ByteEdge& e : s.bytes) {
      key.push_back(static_cast<char>(e.first));
      key.push_back(static_cast<char>(e.last));
      append(id(e.target));
    }
    append(static_cast<int32_t>(s.epsilons.size()));
    for (const int32_t t : s.epsilons) append(id(t));
    append(static_cast<int32_t>(s.calls.size()));
    for (const CallEdge& c : s.calls) {
      append(id(nfa_.rule_start[c.rule]));
      append(id(c.return_state));
      key.push_back(c.tail ? 'T' : 'R');
    }
  }
  return key;
}

// Depth-first over the trie nodes [begin, end) (whole subtrees): a transition lookup per node, and a dead
// prefix skips its whole subtree.
bool MaskBuilder::walk_nodes(StackDfa& dfa, int32_t start, const ByteSet& follow, int32_t begin, int32_t end,
                             std::vector<int32_t>& accepted, std::vector<int32_t>& uncertain, size_t max_uncertain) {
  config_[0] = start;
  floor_[0] = 0;
  return walk_range(dfa, follow, begin, end, accepted, uncertain, max_uncertain);
}

// The nodes below trie node `u`, whose configuration and floor are already in config_ and floor_.
void MaskBuilder::walk_below(StackDfa& dfa, const ByteSet& follow, int32_t u, std::vector<int32_t>& accepted,
                             std::vector<int32_t>& uncertain) {
  walk_range(dfa, follow, u + 1, vocab_.trie()[u].subtree_end, accepted, uncertain, SIZE_MAX);
}

bool MaskBuilder::walk_range(StackDfa& dfa, const ByteSet& follow, int32_t begin, int32_t end,
                             std::vector<int32_t>& accepted, std::vector<int32_t>& uncertain, size_t max_uncertain) {
  const auto trie = vocab_.trie();
  for (int32_t u = begin; u < end;) {
    const auto& node = trie[u];
    const int32_t d = node.depth;
    const int32_t parent = config_[d - 1];
    const int32_t next = dfa.step(parent, node.byte);
    const bool floor = floor_[d - 1] || (dfa.reached_bottom(parent) && follow[node.byte]);
    if (next == StackDfa::kDead) {
      if (floor) {
        for (int32_t t = node.first_token; t < trie[node.subtree_end].first_token; ++t) uncertain.push_back(t);
        if (uncertain.size() > max_uncertain) return false;
      }
      u = node.subtree_end;
      continue;
    }
    for (int32_t t = node.first_token; t < node.first_token + node.ending; ++t) accepted.push_back(t);
    config_[d] = next;
    floor_[d] = floor;
    ++u;
  }
  return true;
}

// The same classification for a list of tokens in trie order: a shared prefix is stepped once, and a
// token that starts with a prefix that died is classed like the token it died in.
void MaskBuilder::walk_list(StackDfa& dfa, int32_t start, const ByteSet& follow, const std::vector<int32_t>& positions,
                            const std::vector<uint16_t>& lcp, std::vector<int32_t>& accepted,
                            std::vector<int32_t>& uncertain) {
  const auto sorted = vocab_.sorted();
  config_[0] = start;
  floor_[0] = 0;
  int64_t dead_at = -1;  // depth whose byte killed the previous token's walk
  bool dead_uncertain = false;
  for (size_t k = 0; k < positions.size(); ++k) {
    const int32_t position = positions[k];
    if (dead_at >= 0 && static_cast<int64_t>(lcp[k]) > dead_at) {
      if (dead_uncertain) uncertain.push_back(position);
      continue;
    }
    dead_at = -1;
    const std::string& bytes = vocab_.bytes(sorted[position]);
    for (size_t j = lcp[k]; j < bytes.size(); ++j) {
      const auto byte = static_cast<uint8_t>(bytes[j]);
      const int32_t parent = config_[j];
      const int32_t next = dfa.step(parent, byte);
      const bool floor = floor_[j] || (dfa.reached_bottom(parent) && follow[byte]);
      if (next == StackDfa::kDead) {
        dead_at = static_cast<int64_t>(j);
        dead_uncertain = floor;
        break;
      }
      config_[j + 1] = next;
      floor_[j + 1] = floor;
    }
    if (dead_at < 0) accepted.push_back(position);
    else if (dead_uncertain) uncertain.push_back(position);
  }
}

// Accepted positions (increasing) in the smallest form. Id lists stay in trie order: a mask fits in the
// L1 cache, so the order its bits are set in costs nothing.
TokenSet MaskBuilder::store(const std::vector<int32_t>& accepted, CompileStats& stats) const {
  const auto sorted = vocab_.sorted();
  const size_t words = vocab_.mask_words();
  const size_t n_accepted = accepted.size();
  const size_t n_not = sorted.size() - n_accepted;
  TokenSet s;
  if (n_accepted <= n_not && n_accepted <= words) {
    s.storage = TokenSet::Storage::AcceptedList;
    s.ids.reserve(n_accepted);
    for (int32_t t : accepted) s.ids.push_back(sorted[t]);
    ++stats.accepted_lists;
  } else if (n_not < words) {
    s.storage = TokenSet::Storage::NotAcceptedList;
    s.ids.reserve(n_not);
    size_t next = 0;  // accepted is increasing: the others are the gaps between its entries
    for (int32_t t = 0; t < static_cast<int32_t>(sorted.size()); ++t) {
      if (next < n_accepted && accepted[next] == t) ++next;
      else s.ids.push_back(sorted[t]);
    }
    ++stats.not_accepted_lists;
  } else {
    s.storage = TokenSet::Storage::AcceptedBitset;
    s.bits.assign(words, 0);
    for (int32_t t : accepted) s.bits[sorted[t] >> 5] |= 1u << (sorted[t] & 31);
    ++stats.bitsets;
  }
  return s;
}

std::vector<uint16_t> MaskBuilder::common_prefixes(const std::vector<int32_t>& positions) const {
  const auto sorted = vocab_.sorted();
  std::vector<uint16_t> lcp(positions.size());
  for (size_t i = 1; i < positions.size(); ++i) {
    const std::string& a = vocab_.bytes(sorted[positions[i - 1]]);
    const std::string& b = vocab_.bytes(sorted[positions[i]]);
    const size_t limit = std::min({a.size(), b.size(), size_t{65535}});
    size_t common = 0;
    while (common < limit && a[common] == b[common]) ++common;
    lcp[i] = static_cast<uint16_t>(common);
  }
  return lcp;
}

}  // namespace tabllm::grammar
