// Grammar IR → per-rule byte NFAs (Thompson construction), then the analyses the matcher and the mask
// cache rely on: which rules can finish, left recursion, tail calls and the bytes that may follow a rule.
#include "grammar/nfa.h"

#include <algorithm>
#include <functional>

#include "grammar/utf8.h"

namespace tabllm::grammar {
namespace {

// Beyond this the grammar is too large to run (usually a huge {m,n} repetition).
constexpr size_t kMaxStates = 500'000;
// Rules whose body builds at most this many states are inlined at every use: JSON whitespace with its
// 40-blank indentation bound (47 states), a JSON string (33).
constexpr double kSmallRule = 128;
// A rule that may start with at least this many characters starts wide: most tokens may enter it (a key
// trie's node: any character but a few).
constexpr double kWideStart = 16;

std::vector<CharRange> normalized(std::vector<CharRange> ranges, bool negated) {
  std::sort(ranges.begin(), ranges.end(), [](const CharRange& a, const CharRange& b) { return a.first < b.first; });
  std::vector<CharRange> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().last + 1) merged.back().last = std::max(merged.back().last, r.last);
    else merged.push_back(r);
  }
  if (!negated) return merged;
  std::vector<CharRange> complement;
  uint32_t next = 0;
  for (const auto& r : merged) {
    if (r.first > next) complement.push_back({next, r.first - 1});
    next = r.last + 1;
  }
  if (next <= 0x10FFFF) complement.push_back({next, 0x10FFFF});
  return complement;
}

using ByteRangeSeq = std::vector<std::pair<uint8_t, uint8_t>>;

// Splits a code point range (all of one encoded length, no surrogates) into byte-range sequences.
void utf8_sequences(uint32_t lo, uint32_t hi, std::vector<ByteRangeSeq>& out) {
  std::string a, b;
  append_utf8(a, lo);
  append_utf8(b, hi);
  const size_t n = a.size();
  for (size_t i = 1; i < n; ++i) {
    const uint32_t mask = (1u << (6 * i)) - 1;
    if ((lo & ~mask) != (hi & ~mask)) {
      if ((lo & mask) != 0) {
        utf8_sequences(lo, lo | mask, out);
        utf8_sequences((lo | mask) + 1, hi, out);
        return;
      }
      if ((hi & mask) != mask) {
        utf8_sequences(lo, (hi & ~mask) - 1, out);
        utf8_sequences(hi & ~mask, hi, out);
        return;
      }
    }
  }
  ByteRangeSeq seq;
  for (size_t k = 0; k < n; ++k) seq.emplace_back(static_cast<uint8_t>(a[k]), static_cast<uint8_t>(b[k]));
  out.push_back(std::move(seq));
}

std::vector<ByteRangeSeq> class_sequences(const Expr& e) {
  std::vector<ByteRangeSeq> out;
  static constexpr uint32_t bounds[][2] = {{0, 0x7F}, {0x80, 0x7FF}, {0x800, 0xD7FF}, {0xE000, 0xFFFF}, {0x10000, 0x10FFFF}};
  for (const auto& r : normalized(e.ranges, e.negated))
    for (const auto& b : bounds) {
      const uint32_t lo = std::max(r.first, b[0]), hi = std::min(r.last, b[1]);
      if (lo <= hi) utf8_sequences(lo, hi, out);
    }
  return out;
}

class Builder {
 public:
  explicit Builder(const Grammar& g) : g_(g) {}

  Nfa build() {
    if (g_.rules.empty()) throw GrammarError("the grammar is empty: it has no rules");
    if (g_.root < 0 || g_.root >= static_cast<int32_t>(g_.rules.size())) throw GrammarError("the grammar's start rule does not exist");
    check_refs();
    find_inlinable();
    if (total_states() > static_cast<double>(kMaxStates)) too_large();
    nfa_.rule_names.reserve(g_.rules.size());
    for (const auto& r : g_.rules) nfa_.rule_names.push_back(r.name);
    nfa_.rule_start.assign(g_.rules.size(), -1);
    nfa_.root_rule = g_.root;
    // Only rules reachable from the root through non-inlined calls get their own NFA.
    pending_.push_back(g_.root);
    nfa_.rule_start[g_.root] = -2;
    while (!pending_.empty()) {
      const int32_t r = pending_.back();
      pending_.pop_back();
      current_rule_ = r;
      const int32_t start = new_state();
      nfa_.rule_start[r] = start;
      const int32_t end = build(g_.rules[r].body, start);
      nfa_.states[end].final = true;
    }
    analyse();
    return std::move(nfa_);
  }

 private:
  const Grammar& g_;
  Nfa nfa_;
  std::vector<bool> inlinable_;
  std::vector<double> body_states_;  // per rule: states built for its body (inlined rules included)
  std::vector<int32_t> pending_;
  int32_t current_rule_ = 0;

  void check_refs() const {
    std::function<void(const Expr&, const Rule&)> walk = [&](const Expr& e, const Rule& rule) {
      if (e.kind == Expr::Kind::RuleRef && (e.rule < 0 || e.rule >= static_cast<int32_t>(g_.rules.size())))
        throw GrammarError("the rule '" + rule.name + "' refers to an undefined rule");
      for (const auto& c : e.children) walk(c, rule);
    };
    for (const auto& r : g_.rules) walk(r.body, r);
  }

  // Which rules are inlined where they are used. Inlining lets a state see what follows the rule in its
  // caller, so fewer tokens are left "uncertain" at the rule's end (decided at run time, per stack); but
  // every use is a copy, and copies cost automaton states and mask computations. So a rule that cannot
  // reach itself is inlined everywhere when it is small (whitespace, a string: as calls, their inner
  // states would leave most tokens uncertain), and otherwise only when it is built once, counting the
  // copies of the rules it is inlined into. Also sizes every rule's body, for total_states().
  void find_inlinable() {
    const size_t n = g_.rules.size();
    struct Ref {
      int32_t rule;
      double copies;  // how many times build() builds it: repetitions build their item several times
    };
    std::vector<std::vector<Ref>> refs(n);
    std::function<void(const Expr&, size_t, double)> collect = [&](const Expr& e, size_t from, double copies) {
      if (e.kind == Expr::Kind::RuleRef) refs[from].push_back({e.rule, copies});
      if (e.kind == Expr::Kind::Repeat) copies *= repeat_copies(e);
      for (const auto& c : e.children) collect(c, from, copies);
    };
    for (size_t r = 0; r < n; ++r) collect(g_.rules[r].body, r, 1);
    std::vector<bool> recursive(n, false);
    for (size_t r = 0; r < n; ++r) {
      std::vector<bool> seen(n, false);
      std::vector<int32_t> todo;
      for (const Ref& q : refs[r]) todo.push_back(q.rule);
      while (!todo.empty()) {
        const int32_t q = todo.back();
        todo.pop_back();
        if (q == static_cast<int32_t>(r)) {
          recursive[r] = true;
          break;
        }
        if (seen[q]) continue;
        seen[q] = true;
        for (const Ref& t : refs[q]) todo.push_back(t.rule);
      }
    }
    // A rule that starts wide and runs on into a recursive rule (a key trie's node: any character but a
    // few, then any string) is always called: its states' masks then end at its end, the same wherever it
    // is used, and the recursive rule is entered in a tail call, so every node leaves the trie into one
    // configuration (mask_builder.h). Inlined, each node's walk would run on into the caller (an
    // object's value, unique to that object) and be redone for every node.
    std::vector<int8_t> reaches(n, -1);  // reaches a recursive rule
    std::function<bool(int32_t)> reaches_recursive = [&](int32_t r) -> bool {
      if (reaches[r] >= 0) return reaches[r];
      reaches[r] = 0;
      bool out = false;
      for (const Ref& q : refs[r]) out = out || recursive[q.rule] || reaches_recursive(q.rule);
      reaches[r] = out;
      return out;
    };
    const auto candidate = [&](int32_t r) {
      return !recursive[r] && r != g_.root && !(starts_wide(r) && reaches_recursive(r));
    };

    // Small rules, callees first (a rule's size counts the small rules inlined into it).
    inlinable_.assign(n, false);
    body_states_.assign(n, -1);
    std::function<void(int32_t)> size_small = [&](int32_t r) {
      if (body_states_[r] >= 0) return;
      for (const Ref& q : refs[r])
        if (candidate(q.rule)) size_small(q.rule);
      body_states_[r] = states_of(g_.rules[r].body);
      inlinable_[r] = candidate(r) && body_states_[r] <= kSmallRule;
    };
    for (size_t r = 0; r < n; ++r) size_small(static_cast<int32_t>(r));

    // The others, callers first: a rule inlined into a rule built k times is built k times too.
    std::vector<int32_t> order;  // reverse post-order from the root: callers of a non-recursive rule first
    std::vector<bool> visited(n, false);
    std::function<void(int32_t)> visit = [&](int32_t r) {
      visited[r] = true;
      for (const Ref& q : refs[r])
        if (!visited[q.rule]) visit(q.rule);
      order.push_back(r);
    };
    visit(g_.root);
    std::reverse(order.begin(), order.end());
    std::vector<double> builds(n, 0);  // how many times the rule's body is built
    for (int32_t r : order) {
      if (!candidate(r)) builds[r] = 1;
      else if (!inlinable_[r]) inlinable_[r] = builds[r] <= 1;
      if (!inlinable_[r]) builds[r] = 1;
      for (const Ref& q : refs[r]) builds[q.rule] += q.copies * builds[r];
    }

    // Final sizes, callees first, now that rules built once are inlined too.
    std::fill(body_states_.begin(), body_states_.end(), -1);
    std::function<void(int32_t)> size_all = [&](int32_t r) {
      if (body_states_[r] >= 0) return;
      for (const Ref& q : refs[r])
        if (inlinable_[q.rule]) size_all(q.rule);
      body_states_[r] = states_of(g_.rules[r].body);
    };
    for (size_t r = 0; r < n; ++r) size_all(static_cast<int32_t>(r));
  }

  // Whether the rule may start with kWideStart characters or more.
  bool starts_wide(int32_t rule) const {
    std::vector<int8_t> visiting(g_.rules.size(), 0);
    // (characters the expression may start with, whether it may match "")
    std::function<std::pair<double, bool>(const Expr&)> first = [&](const Expr& e) -> std::pair<double, bool> {
      switch (e.kind) {
        case Expr::Kind::Empty: return {0, true};
        case Expr::Kind::Literal: return {e.text.empty() ? 0 : 1, e.text.empty()};
        case Expr::Kind::CharClass: {
          double n = 0;
          for (const auto& r : normalized(e.ranges, e.negated)) n += static_cast<double>(r.last - r.first) + 1;
          return {n, false};
        }
        case Expr::Kind::RuleRef: {
          if (visiting[e.rule]) return {0, false};  // (left recursion is refused elsewhere)
          visiting[e.rule] = 1;
          const auto out = first(g_.rules[e.rule].body);
          visiting[e.rule] = 0;
          return out;
        }
        case Expr::Kind::Sequence: {
          double n = 0;
          for (const auto& c : e.children) {
            const auto [m, nullable] = first(c);
            n += m;
            if (!nullable) return {n, false};
          }
          return {n, true};
        }
        case Expr::Kind::Choice: {
          double n = 0;
          bool nullable = false;
          for (const auto& c : e.children) {
            const auto [m, null] = first(c);
            n += m;
            nullable = nullable || null;
          }
          return {n, nullable};
        }
        case Expr::Kind::Repeat: {
          const auto [m, nullable] = first(e.children[0]);
          return {m, nullable || e.min_count == 0};
        }
      }
      return {0, false};
    };
    return first(g_.rules[rule].body).first >= kWideStart;
  }

  // How many times build() builds a repetition's item.
  static double repeat_copies(const Expr& e) {
    return e.max_count < 0 ? std::max(e.min_count, 1) : e.max_count;
  }

  // The states build() creates for `e` (rules inlined into it included).
  double states_of(const Expr& e) const {
    switch (e.kind) {
      case Expr::Kind::Empty: return 0;
      case Expr::Kind::Literal: return static_cast<double>(e.text.size());
      case Expr::Kind::CharClass: {
        double total = 1;  // the shared end
        for (const auto& seq : class_sequences(e)) total += static_cast<double>(seq.size()) - 1;
        return total;
      }
      case Expr::Kind::RuleRef: return inlinable_[e.rule] ? body_states_[e.rule] : 1;  // else: the return state
      case Expr::Kind::Sequence: {
        double total = 0;
        for (const auto& c : e.children) total += states_of(c);
        return total;
      }
      case Expr::Kind::Choice: {
        double total = 1;  // the end
        for (const auto& c : e.children) total += states_of(c);
        return total;
      }
      case Expr::Kind::Repeat: {
        const double item = states_of(e.children[0]);
        if (e.max_count < 0) return std::max(e.min_count, 1) * item + 1 + (e.min_count == 0 ? 1 : 0);
        return e.max_count * item + 1;
      }
    }
    return 0;
  }

  // The states of the whole automaton: every rule reachable from the root that is not inlined.
  double total_states() const {
    std::vector<bool> seen(g_.rules.size(), false);
    std::vector<int32_t> todo{g_.root};
    seen[g_.root] = true;
    double total = 0;
    std::function<void(const Expr&)> visit = [&](const Expr& e) {
      if (e.kind == Expr::Kind::RuleRef && !seen[e.rule]) {
        seen[e.rule] = true;
        todo.push_back(e.rule);
      }
      for (const auto& c : e.children) visit(c);
    };
    while (!todo.empty()) {
      const int32_t r = todo.back();
      todo.pop_back();
      if (!inlinable_[r]) total += 1 + body_states_[r];
      visit(g_.rules[r].body);
    }
    return total;
  }

  [[noreturn]] static void too_large() {
    throw GrammarError("the grammar is too large (over " + std::to_string(kMaxStates) +
                       " automaton states); reduce large or nested {m,n} repetitions");
  }

  int32_t new_state() {
    nfa_.states.emplace_back();
    nfa_.states.back().rule = current_rule_;
    return static_cast<int32_t>(nfa_.states.size() - 1);
  }

  void byte_edge(int32_t from, uint8_t first, uint8_t last, int32_t to) { nfa_.states[from].bytes.push_back({first, last, to}); }
  void epsilon(int32_t from, int32_t to) { nfa_.states[from].epsilons.push_back(to); }

  // Adds the NFA of `e` starting at `start`; returns the state where it ends.
  int32_t build(const Expr& e, int32_t start) {
    switch (e.kind) {
      case Expr::Kind::Empty: return start;
      case Expr::Kind::Literal: {
        int32_t cur = start;
        for (unsigned char c : e.text) {
          const int32_t next = new_state();
          byte_edge(cur, c, c, next);
          cur = next;
        }
        return cur;
      }
      case Expr::Kind::CharClass: {
        const int32_t end = new_state();
        for (const auto& seq : class_sequences(e)) {
          int32_t cur = start;
          for (size_t k = 0; k < seq.size(); ++k) {
            const int32_t next = k + 1 == seq.size() ? end : new_state();
            byte_edge(cur, seq[k].first, seq[k].second, next);
            cur = next;
          }
        }
        return end;
      }
      case Expr::Kind::RuleRef: {
        if (inlinable_[e.rule]) return build(g_.rules[e.rule].body, start);
        if (nfa_.rule_start[e.rule] == -1) {
          nfa_.rule_start[e.rule] = -2;  // queued
          pending_.push_back(e.rule);
        }
        const int32_t ret = new_state();
        nfa_.states[start].calls.push_back({e.rule, ret, false});
        return ret;
      }
      case Expr::Kind::Sequence: {
        int32_t cur = start;
        for (const auto& c : e.children) cur = build(c, cur);
        return cur;
      }
      case Expr::Kind::Choice: {
        // Every alternative starts at `start` itself: no construction loops back to where it starts.
        const int32_t end = new_state();
        for (const auto& c : e.children) epsilon(build(c, start), end);
        return end;
      }
      case Expr::Kind::Repeat: {
        const Expr& item = e.children[0];
        int32_t cur = start;
        // Copies follow one another directly; only a copy that loops needs a fresh state to loop back to
        // (looping back to `cur` would also repeat whatever else leaves it). The last mandatory copy loops
        // for an unbounded repetition, so x+ and x{m,} hold m copies of x, never m + 1 (nested
        // repetitions then grow linearly, not exponentially).
        const int32_t mandatory = e.max_count < 0 ? std::max(e.min_count, 1) : e.min_count;
        for (int32_t i = 0; i < mandatory; ++i) {
          if (e.max_count < 0 && i + 1 == mandatory) {
            const int32_t s = new_state();
            epsilon(cur, s);
            cur = build(item, s);
            epsilon(cur, s);
          } else {
            cur = build(item, cur);
          }
        }
        if (e.max_count < 0) {
          if (e.min_count == 0) {
            // x*: the single copy may also be skipped.
            const int32_t end = new_state();
            epsilon(start, end);
            epsilon(cur, end);
            return end;
          }
          return cur;
        }
        const int32_t end = new_state();
        epsilon(cur, end);
        for (int32_t i = e.min_count; i < e.max_count; ++i) {
          cur = build(item, cur);
          epsilon(cur, end);
        }
        return end;
      }
    }
    return start;
  }

  // States reachable from `s` through epsilon edges (s included).
  std::vector<int32_t> eps_closure(int32_t s) const {
    std::vector<int32_t> out{s}, todo{s};
    std::vector<int32_t> seen;  // small: linear search
    seen.push_back(s);
    while (!todo.empty()) {
      const int32_t x = todo.back();
      todo.pop_back();
      for (int32_t t : nfa_.states[x].epsilons)
        if (std::find(seen.begin(), seen.end(), t) == seen.end()) {
          seen.push_back(t);
          out.push_back(t);
          todo.push_back(t);
        }
    }
    return out;
  }

  void analyse() {
    auto& st = nfa_.states;
    const size_t n_rules = g_.rules.size();
    // Tail calls: the return state can only end the rule.
    std::vector<int8_t> ends_only(st.size(), -1);
    std::function<bool(int32_t, int)> only_ends = [&](int32_t s, int depth) -> bool {
      if (ends_only[s] >= 0) return ends_only[s];
      if (depth > 64) return false;
      bool ok = st[s].bytes.empty() && st[s].calls.empty() && (st[s].final || !st[s].epsilons.empty());
      for (int32_t t : st[s].epsilons) ok = ok && only_ends(t, depth + 1);
      ends_only[s] = ok;
      return ok;
    };
    for (auto& s : st)
      for (auto& c : s.calls) c.tail = only_ends(c.return_state, 0);

    // Rules that can finish (productive) and that can finish without reading (nullable), by fixpoint.
    auto can_reach_final = [&](int32_t start, const std::vector<bool>& ok_rule, bool through_bytes) {
      std::vector<bool> seen(st.size(), false);
      std::vector<int32_t> todo{start};
      seen[start] = true;
      while (!todo.empty()) {
        const int32_t s = todo.back();
        todo.pop_back();
        if (st[s].final) return true;
        auto go = [&](int32_t t) {
          if (!seen[t]) {
            seen[t] = true;
            todo.push_back(t);
          }
        };
        for (int32_t t : st[s].epsilons) go(t);
        if (through_bytes)
          for (const auto& b : st[s].bytes) go(b.target);
        for (const auto& c : st[s].calls)
          if (ok_rule[c.rule]) go(c.return_state);
      }
      return false;
    };
    std::vector<bool> productive(n_rules, false), nullable(n_rules, false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n_rules; ++r) {
        if (nfa_.rule_start[r] < 0) continue;
        if (!productive[r] && can_reach_final(nfa_.rule_start[r], productive, true)) productive[r] = changed = true;
        if (!nullable[r] && can_reach_final(nfa_.rule_start[r], nullable, false)) nullable[r] = changed = true;
      }
    }
    for (size_t r = 0; r < n_rules; ++r)
      if (nfa_.rule_start[r] >= 0 && !productive[r])
        throw GrammarError("the rule '" + g_.rules[r].name +
                           "' can never be completed: every way through it needs itself again; add an alternative "
                           "that ends");

    // Left recursion: a rule calling itself (directly or not) before reading any byte.
    std::vector<std::vector<int32_t>> first_calls(n_rules);
    for (size_t r = 0; r < n_rules; ++r) {
      if (nfa_.rule_start[r] < 0) continue;
      std::vector<bool> seen(st.size(), false);
      std::vector<int32_t> todo{nfa_.rule_start[r]};
      while (!todo.empty()) {
        const int32_t s = todo.back();
        todo.pop_back();
        if (seen[s]) continue;
        seen[s] = true;
        for (int32_t t : st[s].epsilons) todo.push_back(t);
        for (const auto& c : st[s].calls) {
          first_calls[r].push_back(c.rule);
          if (nullable[c.rule]) todo.push_back(c.return_state);
        }
      }
    }
    std::vector<int> color(n_rules, 0);
    std::vector<int32_t> path;
    std::function<void(int32_t)> visit = [&](int32_t r) {
      color[r] = 1;
      path.push_back(r);
      for (int32_t q : first_calls[r]) {
        if (color[q] == 1) {
          std::string cycle;
          auto it = std::find(path.begin(), path.end(), q);
          for (; it != path.end(); ++it) cycle += g_.rules[*it].name + " -> ";
          cycle += g_.rules[q].name;
          throw GrammarError("left recursion (" + cycle +
                             ") is not supported: rewrite it with repetition, e.g. 'list ::= item (\",\" item)*'");
        }
        if (color[q] == 0) visit(q);
      }
      path.pop_back();
      color[r] = 2;
    };
    for (size_t r = 0; r < n_rules; ++r)
      if (nfa_.rule_start[r] >= 0 && color[r] == 0) visit(static_cast<int32_t>(r));

    // FIRST bytes of each rule, then of the text after each state; FOLLOW by fixpoint.
    std::vector<ByteSet> first(n_rules);
    auto first_of_state = [&](int32_t start, ByteSet& out, bool& reaches_end) {
      std::vector<bool> seen(st.size(), false);
      std::vector<int32_t> todo{start};
      reaches_end = false;
      while (!todo.empty()) {
        const int32_t s = todo.back();
        todo.pop_back();
        if (seen[s]) continue;
        seen[s] = true;
        if (st[s].final) reaches_end = true;
        for (const auto& b : st[s].bytes)
          for (int c = b.first; c <= b.last; ++c) out.set(c);
        for (int32_t t : st[s].epsilons) todo.push_back(t);
        for (const auto& c : st[s].calls) {
          out |= first[c.rule];
          if (nullable[c.rule]) todo.push_back(c.return_state);
        }
      }
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n_rules; ++r) {
        if (nfa_.rule_start[r] < 0) continue;
        ByteSet f = first[r];
        bool ends;
        first_of_state(nfa_.rule_start[r], f, ends);
        if (f != first[r]) {
          first[r] = f;
          changed = true;
        }
      }
    }
    nfa_.follow.assign(n_rules, ByteSet());
    struct Link {
      int32_t callee, caller;
      ByteSet after;
      bool caller_may_end;
    };
    std::vector<Link> links;
    for (const auto& s : st)
      for (const auto& c : s.calls) {
        Link l{c.rule, s.rule, {}, false};
        first_of_state(c.return_state, l.after, l.caller_may_end);
        links.push_back(l);
      }
    for (bool changed = true; changed;) {
      changed = false;
      for (const auto& l : links) {
        ByteSet f = nfa_.follow[l.callee] | l.after;
        if (l.caller_may_end) f |= nfa_.follow[l.caller];
        if (f != nfa_.follow[l.callee]) {
          nfa_.follow[l.callee] = f;
          changed = true;
        }
      }
    }
    for (size_t s = 0; s < st.size(); ++s)
      if (!st[s].bytes.empty()) nfa_.top_states.push_back(static_cast<int32_t>(s));
  }
};

}  // namespace

Nfa Nfa::build(const Grammar& grammar) { return Builder(grammar).build(); }

void validate(const Grammar& grammar) { Nfa::build(grammar); }

}  // namespace tabllm::grammar
