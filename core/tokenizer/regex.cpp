#include "tokenizer/regex.h"

#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace tabllm {
namespace {

using unicode::GeneralCategory;

constexpr uint32_t bit(GeneralCategory gc) { return 1u << static_cast<uint32_t>(gc); }

// Bits of the general categories from `first` to `last` in enum order (each major class is contiguous).
constexpr uint32_t bits(GeneralCategory first, GeneralCategory last) {
  uint32_t mask = 0;
  for (uint32_t c = static_cast<uint32_t>(first); c <= static_cast<uint32_t>(last); ++c) mask |= 1u << c;
  return mask;
}

constexpr uint32_t kLetters = bits(GeneralCategory::Ll, GeneralCategory::Lu);
constexpr uint32_t kMarks = bits(GeneralCategory::Mc, GeneralCategory::Mn);
constexpr uint32_t kNumbers = bits(GeneralCategory::Nd, GeneralCategory::No);
constexpr uint32_t kWordCategories = kLetters | kMarks | bit(GeneralCategory::Nd) | bit(GeneralCategory::Pc);

// A set of code points: the union of ranges, general categories, properties and nested sets, then
// intersected with every set in `intersect`, then negated when `negated`.
struct CharSet {
  enum Property : uint8_t { kWhiteSpace = 1, kHan = 2 };
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // inclusive
  uint32_t categories = 0;  // bit per GeneralCategory
  uint8_t properties = 0;
  std::vector<CharSet> members;    // nested or negated sets ([...], \S, \P{..})
  std::vector<CharSet> intersect;  // the right-hand sides of &&
  bool negated = false;

  bool contains(uint32_t cp, GeneralCategory gc) const {
    bool in = (categories & bit(gc)) != 0;
    for (size_t i = 0; !in && i < ranges.size(); ++i) in = cp >= ranges[i].first && cp <= ranges[i].second;
    if (!in && (properties & kWhiteSpace)) in = unicode::is_white_space(cp);
    if (!in && (properties & kHan)) in = unicode::is_han(cp);
    for (size_t i = 0; !in && i < members.size(); ++i) in = members[i].contains(cp, gc);
    for (size_t i = 0; in && i < intersect.size(); ++i) in = intersect[i].contains(cp, gc);
    return in != negated;
  }
};

bool is_word(const CodePointText& t, size_t i) {
  return i < t.size && ((kWordCategories & bit(t.category[i])) != 0);
}

}  // namespace

struct TokenizerRegex::Node {
  enum class Kind { Set, Sequence, Alternation, Repeat, Lookahead, StartOfText, EndOfText, WordBoundary, NotWordBoundary };
  Kind kind = Kind::Sequence;
  CharSet set;                  // Set
  std::vector<Node> children;   // Sequence items, Alternation branches, the body of Repeat and Lookahead
  size_t min = 0, max = 0;      // Repeat; max == kUnbounded for no limit
  bool possessive = false;      // Repeat
  bool negative = false;        // Lookahead
  static constexpr size_t kUnbounded = ~size_t{0};
};

namespace {

using Node = TokenizerRegex::Node;
using Kind = Node::Kind;

// ---------------------------------------------------------------------------------------------------
// Parsing

class Parser {
 public:
  explicit Parser(std::string_view pattern) : p_(pattern) {}

  Node parse() {
    Node root = alternation(false);
    if (pos_ < p_.size()) fail("unbalanced ')'");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("tokenizer regex /" + std::string(p_) + "/: " + what + " at byte " + std::to_string(pos_) +
                "; the pre-tokenizer regex dialect has alternation, groups ((?:) (?i:) (?=) (?!)), greedy and "
                "possessive quantifiers, ^ $ \\b, and classes with \\p{..}");
  }

  bool at_end() const { return pos_ >= p_.size(); }
  char peek() const { return at_end() ? '\0' : p_[pos_]; }
  bool eat(char c) {
    if (peek() != c || at_end()) return false;
    ++pos_;
    return true;
  }

  uint32_t next_code_point() {
    const unicode::Utf8Char c = unicode::next_utf8(p_, pos_);
    if (c.status != unicode::Utf8Char::Status::Valid) fail("invalid UTF-8");
    pos_ += c.length;
    return c.cp;
  }

  Node alternation(bool case_insensitive) {
    Node alt;
    alt.kind = Kind::Alternation;
    alt.children.push_back(sequence(case_insensitive));
    while (eat('|')) alt.children.push_back(sequence(case_insensitive));
    if (alt.children.size() == 1) return std::move(alt.children[0]);
    return alt;
  }

  Node sequence(bool case_insensitive) {
    Node seq;
    seq.kind = Kind::Sequence;
    while (!at_end() && peek() != '|' && peek() != ')') {
      Node atom_node = atom(case_insensitive);
      seq.children.push_back(quantified(std::move(atom_node)));
    }
    if (seq.children.size() == 1) return std::move(seq.children[0]);
    return seq;
  }

  size_t number() {
    if (peek() < '0' || peek() > '9') fail("a number expected in {}");
    size_t n = 0;
    while (peek() >= '0' && peek() <= '9') {
      n = n * 10 + static_cast<size_t>(p_[pos_++] - '0');
      if (n > 100000) fail("a repetition count too large");
    }
    return n;
  }

  Node quantified(Node atom_node) {
    size_t min = 0, max = 0;
    if (eat('*')) {
      min = 0, max = Node::kUnbounded;
    } else if (eat('+')) {
      min = 1, max = Node::kUnbounded;
    } else if (eat('?')) {
      min = 0, max = 1;
    } else if (peek() == '{' && pos_ + 1 < p_.size() && p_[pos_ + 1] >= '0' && p_[pos_ + 1] <= '9') {
      ++pos_;
      min = max = number();
      if (eat(',')) max = peek() == '}' ? Node::kUnbounded : number();
      if (!eat('}')) fail("'}' expected");
      if (max < min) fail("a repetition {n,m} with m < n");
    } else {
      return atom_node;
    }
    if (atom_node.kind == Kind::StartOfText || atom_node.kind == Kind::EndOfText ||
        atom_node.kind == Kind::WordBoundary || atom_node.kind == Kind::NotWordBoundary) {
      fail("a quantifier after an anchor");
    }
    Node repeat;
    repeat.kind = Kind::Repeat;
    repeat.min = min, repeat.max = max;
    if (eat('+')) repeat.possessive = true;
    else if (peek() == '?') fail("a lazy quantifier (unsupported)");
    if (peek() == '*' || peek() == '+' || peek() == '{') fail("a quantifier after a quantifier");
    repeat.children.push_back(std::move(atom_node));
    return repeat;
  }

  Node set_node(CharSet set) {
    Node n;
    n.kind = Kind::Set;
    n.set = std::move(set);
    return n;
  }

  Node atom(bool case_insensitive) {
    const char c = peek();
    if (c == '(') {
      ++pos_;
      Node group;
      if (eat('?')) {
        if (eat(':')) {
          group = alternation(case_insensitive);
        } else if (eat('i')) {
          if (!eat(':')) fail("only the scoped flag group (?i:...) is supported");
          group = alternation(true);
        } else if (eat('=') || peek() == '!') {
          const bool negative = eat('!');
          group.kind = Kind::Lookahead;
          group.negative = negative;
          group.children.push_back(alternation(case_insensitive));
        } else if (peek() == '<' && pos_ + 1 < p_.size() && (p_[pos_ + 1] == '=' || p_[pos_ + 1] == '!')) {
          fail("lookbehind (unsupported)");
        } else if (eat('<') || eat('P')) {  // named group: (?<name>...) or (?P<name>...)
          if (p_[pos_ - 1] == 'P' && !eat('<')) fail("'<' expected after (?P");
          while (!at_end() && peek() != '>') ++pos_;
          if (!eat('>')) fail("'>' expected after a group name");
          group = alternation(case_insensitive);
        } else {
          fail("an unknown group construct");
        }
      } else {
        group = alternation(case_insensitive);  // capturing groups capture nothing here: splits need no captures
      }
      if (!eat(')')) fail("')' expected");
      return group;
    }
    if (c == '[') {
      ++pos_;
      return set_node(bracket(case_insensitive));
    }
    if (c == '.') {
      ++pos_;
      CharSet any;
      any.ranges = {{'\n', '\n'}};
      any.negated = true;
      return set_node(std::move(any));
    }
    if (c == '^' || c == '$') {
      ++pos_;
      Node anchor;
      anchor.kind = c == '^' ? Kind::StartOfText : Kind::EndOfText;
      return anchor;
    }
    if (c == '*' || c == '+' || c == '?') fail("a quantifier with nothing to repeat");
    if (c == '\\') {
      ++pos_;
      if (eat('b')) {
        Node b;
        b.kind = Kind::WordBoundary;
        return b;
      }
      if (eat('B')) {
        Node b;
        b.kind = Kind::NotWordBoundary;
        return b;
      }
      if (peek() >= '1' && peek() <= '9') fail("a backreference (unsupported)");
      CharSet set;
      uint32_t literal = 0;
      if (escape(set, literal)) return set_node(std::move(set));
      return set_node(literal_set(literal, case_insensitive));
    }
    return set_node(literal_set(next_code_point(), case_insensitive));
  }

  // Under (?i), a letter also matches its other case (ASCII, plus the two non-ASCII folds onto s and k).
  static void add_case_variants(CharSet& set, uint32_t first, uint32_t last) {
    const auto add = [&](uint32_t lo, uint32_t hi, int32_t shift) {
      const uint32_t a = std::max(first, lo), b = std::min(last, hi);
      if (a <= b) set.ranges.emplace_back(a + shift, b + shift);
    };
    add('a', 'z', 'A' - 'a');
    add('A', 'Z', 'a' - 'A');
    if ((first <= 's' && 's' <= last) || (first <= 'S' && 'S' <= last)) set.ranges.emplace_back(0x17F, 0x17F);
    if ((first <= 'k' && 'k' <= last) || (first <= 'K' && 'K' <= last)) set.ranges.emplace_back(0x212A, 0x212A);
  }

  static CharSet literal_set(uint32_t cp, bool case_insensitive) {
    CharSet set;
    set.ranges.emplace_back(cp, cp);
    if (case_insensitive) add_case_variants(set, cp, cp);
    return set;
  }

  // After a backslash: a class escape fills `set` and returns true; a character escape sets `literal`.
  bool escape(CharSet& set, uint32_t& literal) {
    if (at_end()) fail("a pattern that ends with a backslash");
    const char e = p_[pos_++];
    const auto negated_member = [&](CharSet inner) {
      CharSet outer;
      inner.negated = !inner.negated;
      outer.members.push_back(std::move(inner));
      set = std::move(outer);
      return true;
    };
    switch (e) {
      case 's': set.properties = CharSet::kWhiteSpace; return true;
      case 'S': {
        CharSet space;
        space.properties = CharSet::kWhiteSpace;
        return negated_member(std::move(space));
      }
      case 'd': set.categories = bit(GeneralCategory::Nd); return true;
      case 'D': {
        CharSet digits;
        digits.categories = bit(GeneralCategory::Nd);
        return negated_member(std::move(digits));
      }
      case 'w': set.categories = kWordCategories; return true;
      case 'W': {
        CharSet word;
        word.categories = kWordCategories;
        return negated_member(std::move(word));
      }
      case 'p':
      case 'P': {
        CharSet property = unicode_property();
        if (e == 'P') return negated_member(std::move(property));
        set = std::move(property);
        return true;
      }
      case 'r': literal = '\r'; return false;
      case 'n': literal = '\n'; return false;
      case 't': literal = '\t'; return false;
      case 'f': literal = '\f'; return false;
      case 'v': literal = '\v'; return false;
      case 'a': literal = 0x07; return false;
      case 'e': literal = 0x1B; return false;
      case '0': literal = 0; return false;
      case 'x': literal = hex_escape(); return false;
      case 'u': literal = hex_digits(4); return false;
      default:
        if (static_cast<unsigned char>(e) >= 0x80 || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') ||
            (e >= '0' && e <= '9')) {
          --pos_;
          fail("an unknown escape");
        }
        literal = static_cast<uint8_t>(e);  // escaped punctuation stands for itself
        return false;
    }
  }

  uint32_t hex_digits(size_t count) {
    uint32_t v = 0;
    for (size_t i = 0; i < count; ++i) {
      const char h = peek();
      uint32_t d;
      if (h >= '0' && h <= '9') d = static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') d = static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') d = static_cast<uint32_t>(h - 'A' + 10);
      else fail("a hexadecimal digit expected");
      v = v * 16 + d;
      ++pos_;
    }
    return v;
  }

  uint32_t hex_escape() {
    if (!eat('{')) return hex_digits(2);
    uint32_t v = 0;
    size_t digits = 0;
    while (peek() != '}') {
      v = v * 16 + hex_digits(1);
      if (++digits > 6) fail("a code point escape too long");
    }
    ++pos_;
    if (digits == 0 || v > 0x10FFFF) fail("an invalid code point escape");
    return v;
  }

  // \p{X} or \pX: a general category (L, Lu, ..., or its long name for the major classes) or Han.
  CharSet unicode_property() {
    std::string name;
    if (eat('{')) {
      while (!at_end() && peek() != '}') name += p_[pos_++];
      if (!eat('}')) fail("'}' expected after \\p{");
    } else if (!at_end()) {
      name = p_[pos_++];
    }
    bool negated = false;
    if (!name.empty() && name[0] == '^') negated = true, name.erase(0, 1);
    CharSet set;
    set.negated = negated;
    using G = GeneralCategory;
    struct Named {
      const char* name;
      uint32_t mask;
    };
    static const Named kNames[] = {
        {"L", kLetters}, {"Letter", kLetters}, {"M", kMarks}, {"Mark", kMarks}, {"N", kNumbers},
        {"Number", kNumbers}, {"P", bits(G::Pc, G::Ps)}, {"Punctuation", bits(G::Pc, G::Ps)},
        {"S", bits(G::Sc, G::So)}, {"Symbol", bits(G::Sc, G::So)}, {"Z", bits(G::Zl, G::Zs)},
        {"Separator", bits(G::Zl, G::Zs)}, {"C", bits(G::Cn, G::Cs)}, {"Other", bits(G::Cn, G::Cs)},
        {"L&", bit(G::Lu) | bit(G::Ll) | bit(G::Lt)}, {"LC", bit(G::Lu) | bit(G::Ll) | bit(G::Lt)},
        {"Cn", bit(G::Cn)}, {"Cc", bit(G::Cc)}, {"Cf", bit(G::Cf)}, {"Co", bit(G::Co)}, {"Cs", bit(G::Cs)},
        {"Ll", bit(G::Ll)}, {"Lm", bit(G::Lm)}, {"Lo", bit(G::Lo)}, {"Lt", bit(G::Lt)}, {"Lu", bit(G::Lu)},
        {"Mc", bit(G::Mc)}, {"Me", bit(G::Me)}, {"Mn", bit(G::Mn)}, {"Nd", bit(G::Nd)}, {"Nl", bit(G::Nl)},
        {"No", bit(G::No)}, {"Pc", bit(G::Pc)}, {"Pd", bit(G::Pd)}, {"Pe", bit(G::Pe)}, {"Pf", bit(G::Pf)},
        {"Pi", bit(G::Pi)}, {"Po", bit(G::Po)}, {"Ps", bit(G::Ps)}, {"Sc", bit(G::Sc)}, {"Sk", bit(G::Sk)},
        {"Sm", bit(G::Sm)}, {"So", bit(G::So)}, {"Zl", bit(G::Zl)}, {"Zp", bit(G::Zp)}, {"Zs", bit(G::Zs)},
    };
    for (const Named& n : kNames) {
      if (name == n.name) {
        set.categories = n.mask;
        return set;
      }
    }
    if (name == "Han" || name == "Hani" || name == "Script=Han" || name == "sc=Han") {
      set.properties = CharSet::kHan;
      return set;
    }
    fail("an unknown Unicode property \\p{" + name + "} (general categories and Han are supported)");
  }

  // After '[': the members up to the matching ']'.
  CharSet bracket(bool case_insensitive) {
    CharSet set;
    if (eat('^')) set.negated = true;
    bool first = true;
    while (true) {
      if (at_end()) fail("unterminated character class");
      if (peek() == ']' && !first) {
        ++pos_;
        return set;
      }
      first = false;
      if (p_.substr(pos_, 2) == "&&") {
        pos_ += 2;
        CharSet rhs = peek() == '[' ? (++pos_, bracket(case_insensitive)) : bracket_rest(case_insensitive);
        // [a&&b]: what was gathered so far is the left side.
        CharSet lhs = std::move(set);
        const bool negated = lhs.negated;
        lhs.negated = false;
        set = CharSet{};
        set.negated = negated;
        set.members.push_back(std::move(lhs));
        set.intersect.push_back(std::move(rhs));
        if (peek() == ']') {
          ++pos_;
          return set;
        }
        continue;
      }
      if (peek() == '[') {
        ++pos_;
        set.members.push_back(bracket(case_insensitive));
        continue;
      }
      uint32_t lo;
      if (eat('\\')) {
        CharSet escaped;
        if (escape(escaped, lo)) {
          set.members.push_back(std::move(escaped));
          continue;
        }
      } else {
        lo = next_code_point();
      }
      uint32_t hi = lo;
      if (peek() == '-' && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
        ++pos_;
        if (eat('\\')) {
          CharSet escaped;
          if (escape(escaped, hi)) fail("a class escape as the end of a range");
        } else {
          hi = next_code_point();
        }
        if (hi < lo) fail("a range whose end precedes its start");
      }
      set.ranges.emplace_back(lo, hi);
      if (case_insensitive) add_case_variants(set, lo, hi);
    }
  }

  // The right side of && written without brackets ([a-z&&b-y]): members until ']' or another &&.
  CharSet bracket_rest(bool case_insensitive) {
    const size_t start = pos_;
    size_t depth = 0;
    size_t end = pos_;
    while (end < p_.size()) {
      if (p_[end] == '\\') {
        end += 2;
        continue;
      }
      if (p_[end] == '[') ++depth;
      if (p_[end] == ']') {
        if (depth == 0) break;
        --depth;
      }
      if (depth == 0 && p_.substr(end, 2) == "&&") break;
      ++end;
    }
    if (end >= p_.size()) fail("unterminated character class");
    // Parse the slice as its own class "[...]" by parsing in place up to `end`.
    std::string slice(1, '[');
    slice.append(p_.substr(start, end - start));
    slice.push_back(']');
    Parser inner(slice);
    inner.pos_ = 1;
    CharSet rhs = inner.bracket(case_insensitive);
    pos_ = end;
    return rhs;
  }

  std::string_view p_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------------
// Matching: depth-first over the nodes with an explicit continuation chain, so that a failure anywhere
// after a choice comes back to that choice (backtracking), and the first success is the match.

struct Continuation {
  enum class Type { SequenceRest, RepeatMore };
  Type type;
  const Node* node;
  size_t index;       // SequenceRest: the next item; RepeatMore: iterations done
  size_t iteration_start;
  const Continuation* up;
};

class Matcher {
 public:
  explicit Matcher(const CodePointText& t) : t_(t) {}

  // Matches `n` at `pos` followed by `k`; on success `end_` holds where the whole match ends.
  bool match(const Node& n, size_t pos, const Continuation* k) {
    switch (n.kind) {
      case Kind::Set:
        return pos < t_.size && n.set.contains(t_.cp[pos], t_.category[pos]) && resume(k, pos + 1);
      case Kind::Sequence:
        return sequence(n, 0, pos, k);
      case Kind::Alternation:
        for (const Node& branch : n.children) {
          if (match(branch, pos, k)) return true;
        }
        return false;
      case Kind::Repeat:
        return repeat(n, pos, k);
      case Kind::Lookahead: {
        const bool found = Matcher(t_).match(n.children[0], pos, nullptr);
        return found != n.negative && resume(k, pos);
      }
      case Kind::StartOfText:
        return pos == 0 && resume(k, pos);
      case Kind::EndOfText:
        return pos == t_.size && resume(k, pos);
      case Kind::WordBoundary:
      case Kind::NotWordBoundary: {
        const bool boundary = (pos > 0 && is_word(t_, pos - 1)) != is_word(t_, pos);
        return boundary == (n.kind == Kind::WordBoundary) && resume(k, pos);
      }
    }
    return false;
  }

  size_t end() const { return end_; }

 private:
  bool resume(const Continuation* k, size_t pos) {
    if (!k) {
      end_ = pos;
      return true;
    }
    if (k->type == Continuation::Type::SequenceRest) return sequence(*k->node, k->index, pos, k->up);
    // RepeatMore: an iteration that consumed nothing ends the loop (it could repeat forever).
    if (pos == k->iteration_start) return k->index >= k->node->min && resume(k->up, pos);
    return repeat_from(*k->node, k->index, pos, k->up);
  }

  bool sequence(const Node& seq, size_t index, size_t pos, const Continuation* k) {
    if (index == seq.children.size()) return resume(k, pos);
    if (index + 1 == seq.children.size()) return match(seq.children[index], pos, k);
    const Continuation rest{Continuation::Type::SequenceRest, &seq, index + 1, 0, k};
    return match(seq.children[index], pos, &rest);
  }

  bool repeat(const Node& n, size_t pos, const Continuation* k) {
    const Node& body = n.children[0];
    if (body.kind == Kind::Set) {  // the common case: a run of one class, tried longest first
      size_t count = 0;
      while (count < n.max && pos + count < t_.size && body.set.contains(t_.cp[pos + count], t_.category[pos + count])) {
        ++count;
      }
      if (count < n.min) return false;
      if (n.possessive) return resume(k, pos + count);
      for (size_t c = count + 1; c-- > n.min;) {
        if (resume(k, pos + c)) return true;
      }
      return false;
    }
    // Iterations are matched one after another, in a loop, rather than by recursion (which would go one
    // level deeper per iteration and could exhaust the stack on long inputs) when that cannot change the
    // result: the body matches in one way only, or nothing follows the repetition (then the first
    // success takes each iteration's own first match, as greedy backtracking would), or it is possessive.
    const bool loop = deterministic(body) || !k || n.possessive;
    if (!loop) return repeat_from(n, 0, pos, k);
    std::vector<size_t> ends{pos};
    while (ends.size() - 1 < n.max) {
      Matcher iteration(t_);
      if (!iteration.match(body, ends.back(), nullptr) || iteration.end_ == ends.back()) break;
      ends.push_back(iteration.end_);
    }
    const size_t count = ends.size() - 1;
    if (count < n.min) {  // only another way through the body could reach the minimum
      if (deterministic(body)) return false;
      if (!n.possessive) return repeat_from(n, 0, pos, k);
      Matcher alone(t_);  // atomic: the repetition's own first match, never revisited
      Node greedy = n;
      greedy.possessive = false;
      return alone.repeat_from(greedy, 0, pos, nullptr) && resume(k, alone.end_);
    }
    if (n.possessive || !k) return resume(k, ends[count]);
    for (size_t c = count + 1; c-- > n.min;) {
      if (resume(k, ends[c])) return true;
    }
    return false;
  }

  // Whether `n` can match in at most one way at any position (so backtracking into it finds nothing new).
  static bool deterministic(const Node& n) {
    switch (n.kind) {
      case Kind::Set: return true;
      case Kind::Repeat: return n.min == n.max && deterministic(n.children[0]);
      case Kind::Sequence:
        for (const Node& child : n.children) {
          if (!deterministic(child)) return false;
        }
        return true;
      default: return false;
    }
  }

  // `done` iterations of the general repeat `n` have matched, ending at `pos`.
  bool repeat_from(const Node& n, size_t done, size_t pos, const Continuation* k) {
    if (done < n.max) {
      const Continuation more{Continuation::Type::RepeatMore, &n, done + 1, pos, k};
      if (match(n.children[0], pos, &more)) return true;
    }
    return done >= n.min && resume(k, pos);
  }

  const CodePointText& t_;
  size_t end_ = 0;
};

}  // namespace

TokenizerRegex::TokenizerRegex(std::string_view pattern)
    : pattern_(pattern), root_(std::make_unique<Node>(Parser(pattern).parse())) {}
TokenizerRegex::~TokenizerRegex() = default;
TokenizerRegex::TokenizerRegex(TokenizerRegex&&) noexcept = default;
TokenizerRegex& TokenizerRegex::operator=(TokenizerRegex&&) noexcept = default;

std::optional<size_t> TokenizerRegex::match_at(const CodePointText& text, size_t pos) const {
  Matcher m(text);
  if (!m.match(*root_, pos, nullptr)) return std::nullopt;
  return m.end() - pos;
}

}  // namespace tabllm
