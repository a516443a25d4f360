#include "grammar/regex.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <tuple>
#include <utility>
#include <vector>

#include "grammar/gbnf_text.h"
#include "tokenizer/unicode.h"

namespace tabllm::grammar {
namespace {

using unicode::append_utf8;

constexpr char32_t kMaxCodepoint = 0x10FFFF;

// A set of code points as sorted, disjoint, non-adjacent closed ranges.
class CodepointSet {
 public:
  using Range = std::pair<char32_t, char32_t>;

  static CodepointSet single(char32_t c) { return range(c, c); }
  static CodepointSet range(char32_t lo, char32_t hi) {
    CodepointSet s;
    s.ranges_.push_back({lo, hi});
    return s;
  }
  void add(char32_t lo, char32_t hi) { ranges_.push_back({lo, hi}); normalize(); }
  void add(const CodepointSet& other) {
    ranges_.insert(ranges_.end(), other.ranges_.begin(), other.ranges_.end());
    normalize();
  }
  CodepointSet complement() const {
    CodepointSet out;
    char32_t next = 0;
    for (const auto& [lo, hi] : ranges_) {
      if (lo > next) out.ranges_.push_back({next, lo - 1});
      next = hi + 1;
    }
    if (ranges_.empty() || ranges_.back().second < kMaxCodepoint) out.ranges_.push_back({next, kMaxCodepoint});
    return out;
  }
  CodepointSet minus(const CodepointSet& other) const { return intersect(other.complement()); }
  CodepointSet intersect(const CodepointSet& other) const {
    CodepointSet out;
    for (const auto& a : ranges_)
      for (const auto& b : other.ranges_) {
        const char32_t lo = std::max(a.first, b.first), hi = std::min(a.second, b.second);
        if (lo <= hi) out.ranges_.push_back({lo, hi});
      }
    out.normalize();
    return out;
  }
  bool contains(char32_t c) const {
    for (const auto& [lo, hi] : ranges_)
      if (lo <= c && c <= hi) return true;
    return false;
  }
  bool empty() const { return ranges_.empty(); }
  bool is_single() const { return ranges_.size() == 1 && ranges_[0].first == ranges_[0].second; }
  const std::vector<Range>& ranges() const { return ranges_; }

 private:
  void normalize() {
    std::sort(ranges_.begin(), ranges_.end());
    std::vector<Range> merged;
    for (const auto& r : ranges_) {
      if (!merged.empty() && r.first <= merged.back().second + 1) {
        merged.back().second = std::max(merged.back().second, r.second);
      } else {
        merged.push_back(r);
      }
    }
    ranges_ = std::move(merged);
  }
  std::vector<Range> ranges_;
};

CodepointSet digit_set() { return CodepointSet::range('0', '9'); }
CodepointSet word_set() {
  CodepointSet s = CodepointSet::range('a', 'z');
  s.add('A', 'Z');
  s.add('0', '9');
  s.add('_', '_');
  return s;
}
// ECMAScript's WhiteSpace and LineTerminator code points.
CodepointSet space_set() {
  CodepointSet s = CodepointSet::range('\t', '\r');
  for (char32_t c : {U' ', U'\u00A0', U'\u1680', U'\u2028', U'\u2029', U'\u202F', U'\u205F', U'\u3000', U'\uFEFF'})
    s.add(c, c);
  s.add(0x2000, 0x200A);
  return s;
}
// What `.` matches: everything but line terminators.
CodepointSet dot_set() {
  CodepointSet s;
  for (char32_t c : {U'\n', U'\r', U'\u2028', U'\u2029'}) s.add(c, c);
  return s.complement();
}
// Characters a JSON string must escape.
CodepointSet json_escaped_set() {
  CodepointSet s = CodepointSet::range(0, 0x1F);
  s.add('"', '"');
  s.add('\\', '\\');
  return s;
}

struct Node {
  enum class Kind { Empty, Chars, Concat, Alternation, Repeat, StartAnchor, EndAnchor };
  Kind kind = Kind::Empty;
  CodepointSet chars;          // Chars
  std::vector<Node> children;  // Concat, Alternation, Repeat (one child)
  int min = 0, max = -1;       // Repeat; max -1 = unbounded
};

// Decodes UTF-8; invalid bytes become U+FFFD so that any input parses to something reportable.
std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
      out += U'\uFFFD';
      ++i;
      continue;
    }
    char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      const auto cb = static_cast<unsigned char>(s[i + k]);
      if ((cb & 0xC0) != 0x80) ok = false;
      c = (c << 6) | (cb & 0x3F);
    }
    if (!ok || c > kMaxCodepoint) {
      out += U'\uFFFD';
      ++i;
      continue;
    }
    out += c;
    i += len;
  }
  return out;
}

int hex_value(char32_t c) {
  if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<int>(c - 'A' + 10);
  return -1;
}

class Parser {
 public:
  explicit Parser(std::string_view pattern) : source_(pattern), text_(decode_utf8(pattern)) {}

  Node parse() {
    Node node = parse_alternation();
    if (pos_ < text_.size()) fail(pos_, "unmatched ')'; escape it as \\) to match a parenthesis");
    return node;
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& what) const { throw RegexError(source_, at, what); }
  bool at_end() const { return pos_ >= text_.size(); }
  char32_t peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : 0; }

  Node parse_alternation() {
    std::vector<Node> branches;
    branches.push_back(parse_concat());
    while (!at_end() && peek() == '|') {
      ++pos_;
      branches.push_back(parse_concat());
    }
    if (branches.size() == 1) return std::move(branches[0]);
    Node alt;
    alt.kind = Node::Kind::Alternation;
    alt.children = std::move(branches);
    return alt;
  }

  Node parse_concat() {
    Node concat;
    concat.kind = Node::Kind::Concat;
    while (!at_end() && peek() != '|' && peek() != ')') concat.children.push_back(parse_quantified());
    return concat;
  }

  Node parse_quantified() {
    const size_t atom_start = pos_;
    Node atom = parse_atom();
    for (;;) {
      int min = 0, max = -1;
      const size_t quant_start = pos_;
      if (peek() == '*') {
        ++pos_;
      } else if (peek() == '+') {
        min = 1, ++pos_;
      } else if (peek() == '?') {
        max = 1, ++pos_;
      } else if (peek() == '{' && parse_braces(min, max)) {
      } else {
        return atom;
      }
      if (peek() == '?') ++pos_;  // lazy: the same set of strings
      if (atom.kind == Node::Kind::StartAnchor || atom.kind == Node::Kind::EndAnchor)
        fail(quant_start, "a quantifier cannot follow an anchor");
      if (max >= 0 && min > max) fail(quant_start, "quantifier {m,n} has m > n");
      (void)atom_start;
      Node rep;
      rep.kind = Node::Kind::Repeat;
      rep.min = min;
      rep.max = max;
      rep.children.push_back(std::move(atom));
      // One quantifier per atom: a second one (a** or a{2}+) is "nothing to repeat", as in ECMAScript.
      return rep;
    }
  }

  // {m} {m,} {m,n}; anything else is a literal '{' (as ECMAScript's web-compatibility grammar reads it).
  bool parse_braces(int& min, int& max) {
    size_t p = pos_ + 1;
    auto number = [&](int& out) {
      const size_t start = p;
      long value = 0;
      while (p < text_.size() && text_[p] >= '0' && text_[p] <= '9') {
        value = std::min<long>(value * 10 + (text_[p] - '0'), 1'000'000);
        ++p;
      }
      out = static_cast<int>(value);
      return p > start;
    };
    if (!number(min)) return false;
    max = min;
    if (p < text_.size() && text_[p] == ',') {
      ++p;
      if (!number(max)) max = -1;
    }
    if (p >= text_.size() || text_[p] != '}') return false;
    if (min > 4096 || max > 4096) fail(pos_, "repetition counts above 4096 are not supported");
    pos_ = p + 1;
    return true;
  }

  Node chars(CodepointSet set) {
    set = set.minus(CodepointSet::range(0xD800, 0xDFFF));  // never in UTF-8 text
    if (set.empty()) fail(pos_ ? pos_ - 1 : 0, "the pattern names only surrogate code points, which UTF-8 text cannot hold");
    Node n;
    n.kind = Node::Kind::Chars;
    n.chars = std::move(set);
    return n;
  }

  Node parse_atom() {
    const size_t start = pos_;
    const char32_t c = text_[pos_++];
    switch (c) {
      case '(': {
        if (peek() == '?') {
          if (peek(1) == ':') {
            pos_ += 2;
          } else if (peek(1) == '=' || peek(1) == '!' ||
                     (peek(1) == '<' && (peek(2) == '=' || peek(2) == '!'))) {
            fail(start, "lookaround assertions ((?=, (?!, (?<=, (?<!) are not supported by grammar constraints");
          } else if (peek(1) == '<') {
            pos_ += 2;
            while (!at_end() && peek() != '>') ++pos_;
            if (at_end()) fail(start, "unterminated group name (?<name>");
            ++pos_;
          } else {
            fail(start, "unknown group syntax after '(?'; use (?:...) or (?<name>...)");
          }
        }
        Node inner = parse_alternation();
        if (at_end() || peek() != ')') fail(start, "unterminated group: missing ')'");
        ++pos_;
        return inner;
      }
      case '[':
        return chars(parse_class(start));
      case '.':
        return chars(dot_set());
      case '^': {
        Node n;
        n.kind = Node::Kind::StartAnchor;
        return n;
      }
      case '$': {
        Node n;
        n.kind = Node::Kind::EndAnchor;
        return n;
      }
      case '\\':
        return chars(parse_escape(start, /*in_class=*/false));
      case '*':
      case '+':
      case '?':
        fail(start, "nothing to repeat before a quantifier; escape it to match it literally");
      case ')':
        fail(start, "unmatched ')'");
      default:
        return chars(CodepointSet::single(c));
    }
  }

  CodepointSet parse_class(size_t start) {
    bool negated = false;
    if (peek() == '^') negated = true, ++pos_;
    CodepointSet set;
    bool first = true;
    for (;;) {
      if (at_end()) fail(start, "unterminated character class: missing ']'");
      if (peek() == ']') {
        ++pos_;
        break;
      }
      (void)first;
      first = false;
      const size_t item_start = pos_;
      CodepointSet lo = class_atom();
      if (peek() == '-' && peek(1) != ']' && pos_ + 1 < text_.size()) {
        ++pos_;
        const size_t hi_start = pos_;
        CodepointSet hi = class_atom();
        if (!lo.is_single() || !hi.is_single()) {
          // [\d-x]: the dash is literal (ECMAScript web compatibility).
          set.add(lo);
          set.add('-', '-');
          set.add(hi);
          continue;
        }
        const char32_t a = lo.ranges()[0].first, b = hi.ranges()[0].first;
        if (a > b) fail(item_start, "character class range out of order");
        (void)hi_start;
        set.add(a, b);
      } else {
        set.add(lo);
      }
    }
    if (negated) set = set.complement();
    if (set.empty()) fail(start, "character class matches no character");
    return set;
  }

  CodepointSet class_atom() {
    const size_t start = pos_;
    const char32_t c = text_[pos_++];
    if (c == '\\') return parse_escape(start, /*in_class=*/true);
    return CodepointSet::single(c);
  }

  char32_t read_hex(size_t count, size_t start) {
    char32_t value = 0;
    for (size_t k = 0; k < count; ++k) {
      const int h = hex_value(peek());
      if (h < 0) fail(start, "expected " + std::to_string(count) + " hex digits in escape");
      value = value * 16 + static_cast<char32_t>(h);
      ++pos_;
    }
    return value;
  }

  // After the backslash.
  CodepointSet parse_escape(size_t start, bool in_class) {
    if (at_end()) fail(start, "pattern ends with a lone backslash");
    const char32_t c = text_[pos_++];
    switch (c) {
      case 'd': return digit_set();
      case 'D': return digit_set().complement();
      case 'w': return word_set();
      case 'W': return word_set().complement();
      case 's': return space_set();
      case 'S': return space_set().complement();
      case 't': return CodepointSet::single('\t');
      case 'n': return CodepointSet::single('\n');
      case 'r': return CodepointSet::single('\r');
      case 'v': return CodepointSet::single('\v');
      case 'f': return CodepointSet::single('\f');
      case 'b':
        if (in_class) return CodepointSet::single('\b');
        fail(start, "word boundary \\b is not supported by grammar constraints");
      case 'B':
        fail(start, "non-word-boundary \\B is not supported by grammar constraints");
      case '0':
        if (peek() >= '0' && peek() <= '9') fail(start, "octal escapes are not supported; use \\xNN");
        return CodepointSet::single(0);
      case 'c': {
        const char32_t letter = peek();
        if ((letter >= 'a' && letter <= 'z') || (letter >= 'A' && letter <= 'Z')) {
          ++pos_;
          return CodepointSet::single(letter % 32);
        }
        return CodepointSet::single('c');
      }
      case 'x':
        return CodepointSet::single(read_hex(2, start));
      case 'u': {
        if (peek() == '{') {
          ++pos_;
          char32_t value = 0;
          size_t digits = 0;
          while (hex_value(peek()) >= 0) {
            value = value * 16 + static_cast<char32_t>(hex_value(peek()));
            ++pos_, ++digits;
            if (value > kMaxCodepoint) fail(start, "\\u{...} code point above U+10FFFF");
          }
          if (digits == 0 || peek() != '}') fail(start, "malformed \\u{...} escape");
          ++pos_;
          return CodepointSet::single(value);
        }
        char32_t value = read_hex(4, start);
        // A surrogate pair written as two escapes is one code point.
        if (value >= 0xD800 && value <= 0xDBFF && peek() == '\\' && peek(1) == 'u') {
          const size_t save = pos_;
          pos_ += 2;
          bool ok = true;
          char32_t low = 0;
          for (int k = 0; k < 4; ++k) {
            const int h = hex_value(peek());
            if (h < 0) {
              ok = false;
              break;
            }
            low = low * 16 + static_cast<char32_t>(h);
            ++pos_;
          }
          if (ok && low >= 0xDC00 && low <= 0xDFFF) return CodepointSet::single(0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00));
          pos_ = save;
        }
        return CodepointSet::single(value);
      }
      case 'p':
      case 'P':
        fail(start, "Unicode property escapes (\\p{...}) are not supported; write the character class out");
      case 'k':
        if (!in_class && peek() == '<') fail(start, "named backreferences (\\k<name>) are not supported by grammar constraints");
        return CodepointSet::single('k');
      default:
        if (c >= '1' && c <= '9') {
          if (in_class) fail(start, "octal escapes are not supported; use \\xNN");
          fail(start, "backreferences (\\1...) are not supported by grammar constraints");
        }
        return CodepointSet::single(c);  // identity escape: \. \/ \- \\ ...
    }
  }

  std::string_view source_;
  std::u32string text_;
  size_t pos_ = 0;
};

// ---- GBNF emission ----

void append_class_char(std::string& out, char32_t c) {
  char buf[16];
  if (c < 0x20 || c == 0x7F) {
    std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(c));
    out += buf;
  } else if (c == '\\' || c == ']' || c == '[' || c == '^' || c == '-') {
    out += '\\';
    out += static_cast<char>(c);
  } else if (c < 0x7F) {
    out += static_cast<char>(c);
  } else {
    std::snprintf(buf, sizeof buf, c <= 0xFFFF ? "\\u%04X" : "\\U%08X", static_cast<unsigned>(c));
    out += buf;
  }
}

// Surrogate code points never occur in UTF-8 text; leaving them out keeps every printed escape valid.
const CodepointSet& surrogates() {
  static const CodepointSet set = CodepointSet::range(0xD800, 0xDFFF);
  return set;
}

std::string class_expression(const CodepointSet& set_with_surrogates) {
  std::string out = "[";
  CodepointSet printed = set_with_surrogates.minus(surrogates());
  // Sets that reach the top of Unicode read better (and stay in the BMP) as negations.
  if (!printed.ranges().empty() && printed.ranges().back().second == kMaxCodepoint) {
    const CodepointSet complement = printed.complement().minus(surrogates());
    if (!complement.empty()) {
      out += '^';
      printed = complement;
    }
  }
  for (const auto& [lo, hi] : printed.ranges()) {
    append_class_char(out, lo);
    if (hi != lo) {
      if (hi != lo + 1) out += '-';
      append_class_char(out, hi);
    }
  }
  out += ']';
  return out;
}

class Emitter {
 public:
  explicit Emitter(bool json) : json_(json) {}

  std::string chars(const CodepointSet& set) const {
    if (!json_) {
      if (set.is_single()) {
        std::string s;
        append_utf8(s, set.ranges()[0].first);
        return gbnf_literal(s);
      }
      return class_expression(set);
    }
    const CodepointSet escaped = set.intersect(json_escaped_set());
    const CodepointSet plain = set.minus(json_escaped_set());
    std::vector<std::string> options;
    if (!plain.empty()) {
      if (plain.is_single()) {
        std::string s;
        append_utf8(s, plain.ranges()[0].first);
        options.push_back(gbnf_literal(s));
      } else {
        options.push_back(class_expression(plain));
      }
    }
    if (!escaped.empty()) {
      if (escaped.intersect(CodepointSet::range(0, 0x1F)).ranges() == CodepointSet::range(0, 0x1F).ranges()) {
        // Every control character: spell the \uXXXX escapes compactly.
        options.push_back(R"("\\" ["\\/bfnrt] | "\\u00" [01] [0-9a-fA-F])");
        if (!escaped.contains('"')) options.back() = R"("\\" [\\/bfnrt] | "\\u00" [01] [0-9a-fA-F])";
        if (!escaped.contains('\\')) options.back() = R"("\\" ["/bfnrt] | "\\u00" [01] [0-9a-fA-F])";
        if (!escaped.contains('\\') && !escaped.contains('"')) options.back() = R"("\\" [/bfnrt] | "\\u00" [01] [0-9a-fA-F])";
      } else {
        for (const auto& [lo, hi] : escaped.ranges())
          for (char32_t c = lo; c <= hi; ++c) options.push_back(gbnf_json_char_literal(c));
      }
    }
    if (options.size() == 1) return options[0];
    std::string out = "(";
    for (size_t i = 0; i < options.size(); ++i) out += (i ? " | " : "") + options[i];
    return out + ")";
  }

  std::string node(const Node& n) const {
    switch (n.kind) {
      case Node::Kind::Empty:
        return "";
      case Node::Kind::Chars:
        return chars(n.chars);
      case Node::Kind::Concat: {
        std::string out;
        std::string pending_literal;  // consecutive literal characters merge into one string
        auto flush = [&] {
          if (pending_literal.empty()) return;
          if (!out.empty()) out += ' ';
          out += gbnf_literal(pending_literal);
          pending_literal.clear();
        };
        for (const Node& child : n.children) {
          if (child.kind == Node::Kind::StartAnchor || child.kind == Node::Kind::EndAnchor)
            throw Error("internal: anchor left in a regex body");
          if (child.kind == Node::Kind::Chars && child.chars.is_single() &&
              (!json_ || !json_escaped_set().contains(child.chars.ranges()[0].first))) {
            append_utf8(pending_literal, child.chars.ranges()[0].first);
            continue;
          }
          flush();
          const std::string part = node(child);
          if (part.empty()) continue;
          if (!out.empty()) out += ' ';
          out += child.kind == Node::Kind::Alternation ? "(" + part + ")" : part;
        }
        flush();
        return out;
      }
      case Node::Kind::Alternation: {
        std::string out;
        bool has_empty = false;
        std::vector<std::string> parts;
        for (const Node& child : n.children) {
          std::string part = node(child);
          if (part.empty()) {
            has_empty = true;
            continue;
          }
          if (std::find(parts.begin(), parts.end(), part) == parts.end()) parts.push_back(std::move(part));
        }
        if (parts.empty()) return "";
        for (size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
        return has_empty ? "(" + out + ")?" : out;
      }
      case Node::Kind::Repeat: {
        std::string inner = node(n.children[0]);
        if (inner.empty() || n.max == 0) return "";
        if (!is_atomic(inner)) inner = "(" + inner + ")";
        if (n.min == 0 && n.max == -1) return inner + "*";
        if (n.min == 1 && n.max == -1) return inner + "+";
        if (n.min == 0 && n.max == 1) return inner + "?";
        if (n.min == 1 && n.max == 1) return inner;
        if (n.max == -1) return inner + "{" + std::to_string(n.min) + ",}";
        if (n.min == n.max) return inner + "{" + std::to_string(n.min) + "}";
        return inner + "{" + std::to_string(n.min) + "," + std::to_string(n.max) + "}";
      }
      case Node::Kind::StartAnchor:
      case Node::Kind::EndAnchor:
        throw Error("internal: anchor left in a regex body");
    }
    return "";
  }

 private:
  // One literal, one class or one parenthesized group: safe to quantify without parentheses.
  static bool is_atomic(const std::string& e) {
    if (e.size() >= 2 && e.front() == '"' && e.back() == '"') {
      // A single literal has no unescaped quote inside.
      for (size_t i = 1; i + 1 < e.size(); ++i) {
        if (e[i] == '\\') ++i;
        else if (e[i] == '"') return false;
      }
      return true;
    }
    if (e.front() == '[' && e.back() == ']' && e.find("] ") == std::string::npos && e.find(" [") == std::string::npos &&
        e.find('|') == std::string::npos)
      return true;
    if (e.front() == '(' && e.back() == ')') return gbnf_group_end(e) == e.size() - 1;
    return false;
  }

  bool json_;
};

bool is_anchor(const Node& n, Node::Kind kind) { return n.kind == kind; }

bool contains_anchor(const Node& n) {
  if (n.kind == Node::Kind::StartAnchor || n.kind == Node::Kind::EndAnchor) return true;
  for (const Node& c : n.children)
    if (contains_anchor(c)) return true;
  return false;
}

// One top-level alternative: strips ^ at its start and $ at its end (also inside a group that forms the
// whole alternative), and returns the expressions of its anchored pieces.
void split_anchored(const Node& branch, std::vector<std::tuple<bool, bool, const Node*>>& out, std::vector<Node>& storage,
                    std::string_view pattern) {
  if (branch.kind == Node::Kind::Alternation) {
    for (const Node& c : branch.children) split_anchored(c, out, storage, pattern);
    return;
  }
  if (branch.kind == Node::Kind::StartAnchor || branch.kind == Node::Kind::EndAnchor) {
    storage.emplace_back();
    out.emplace_back(branch.kind == Node::Kind::StartAnchor, branch.kind == Node::Kind::EndAnchor, nullptr);
    return;
  }
  if (branch.kind != Node::Kind::Concat) {
    out.emplace_back(false, false, &branch);
    return;
  }
  size_t first = 0, last = branch.children.size();
  bool start = false, end = false;
  while (first < last && is_anchor(branch.children[first], Node::Kind::StartAnchor)) start = true, ++first;
  while (last > first && is_anchor(branch.children[last - 1], Node::Kind::EndAnchor)) end = true, --last;
  // (^a|^b)$ and the like: a single group between the anchors distributes over its alternatives.
  if (last - first == 1 && branch.children[first].kind == Node::Kind::Alternation && contains_anchor(branch.children[first])) {
    std::vector<std::tuple<bool, bool, const Node*>> inner;
    split_anchored(branch.children[first], inner, storage, pattern);
    for (auto& [s, e, node] : inner) out.emplace_back(s || start, e || end, node);
    return;
  }
  for (size_t i = first; i < last; ++i)
    if (contains_anchor(branch.children[i]))
      throw RegexError(pattern, 0,
                       "^ and $ are supported only at the start and end of the pattern or of a top-level alternative");
  if (first == 0 && last == branch.children.size()) {
    out.emplace_back(false, false, &branch);
    return;
  }
  // Keep the sliced concatenation alive in `storage` (reserved by the caller so pointers stay valid).
  Node sliced;
  sliced.kind = Node::Kind::Concat;
  sliced.children.assign(branch.children.begin() + static_cast<long>(first), branch.children.begin() + static_cast<long>(last));
  storage.push_back(std::move(sliced));
  out.emplace_back(start, end, &storage.back());
}

size_t count_nodes(const Node& n) {
  size_t total = 1;
  for (const Node& c : n.children) total += count_nodes(c);
  return total;
}

}  // namespace

RegexError::RegexError(std::string_view pattern, size_t offset, const std::string& what)
    : Error("regex /" + std::string(pattern) + "/ at offset " + std::to_string(offset) + ": " + what), offset_(offset) {}

std::string gbnf_literal(std::string_view utf8) {
  std::string out = "\"";
  for (const char ch : utf8) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02X", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

std::string gbnf_json_char_literal(char32_t c) {
  switch (c) {
    case '"': return R"("\\\"")";
    case '\\': return R"("\\\\")";
    case '\b': return R"("\\b")";
    case '\f': return R"("\\f")";
    case '\n': return R"("\\n")";
    case '\r': return R"("\\r")";
    case '\t': return R"("\\t")";
    default: break;
  }
  if (c < 0x20) {
    // \u00XX, hex digits in either case.
    static const char* kHex = "0123456789abcdef";
    std::string out = R"("\\u00)";
    out += kHex[c >> 4];
    const char low = kHex[c & 15];
    if (low >= 'a') return out + "\" [" + low + static_cast<char>(low - 'a' + 'A') + "]";
    return out + low + "\"";
  }
  std::string s;
  append_utf8(s, c);
  return gbnf_literal(s);
}

namespace {

// Caps repetition counts (see RegexOptions::max_repeat).
void cap_repeats(Node& n, int cap, bool& relaxed) {
  if (n.kind == Node::Kind::Repeat && (n.min > cap || n.max > cap)) {
    n.min = std::min(n.min, cap);
    n.max = -1;
    relaxed = true;
  }
  for (Node& c : n.children) cap_repeats(c, cap, relaxed);
}

}  // namespace

std::string regex_to_gbnf_expression(std::string_view pattern, const RegexOptions& options, bool* relaxed) {
  Parser parser(pattern);
  Node root = parser.parse();
  bool capped = false;
  if (options.max_repeat > 0) cap_repeats(root, options.max_repeat, capped);
  if (relaxed) *relaxed = capped;
  if (count_nodes(root) > 100000) throw RegexError(pattern, 0, "pattern too large");
  const Emitter emitter(options.json_string_content);
  const std::string any_char = options.json_string_content ? std::string(kGbnfJsonCharExpression)
                                                            : class_expression(CodepointSet::range(0, kMaxCodepoint));
  std::vector<std::tuple<bool, bool, const Node*>> branches;
  std::vector<Node> storage;
  storage.reserve(count_nodes(root) + 1);
  split_anchored(root, branches, storage, pattern);
  std::vector<std::string> parts;
  bool has_empty = false;
  for (const auto& [start, end, node] : branches) {
    std::string body = node ? emitter.node(*node) : "";
    if (options.search && !(start && end)) {
      // An unanchored side may have any text before (after) the match.
      const std::string any = any_char + "*";
      if (body.empty()) {
        body = any;
      } else {
        body = "(" + body + ")";
        if (!start) body = any + " " + body;
        if (!end) body += " " + any;
      }
    }
    if (body.empty()) {
      has_empty = true;
      continue;
    }
    if (std::find(parts.begin(), parts.end(), body) == parts.end()) parts.push_back(std::move(body));
  }
  if (parts.empty()) return "\"\"";
  std::string out = "(";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
  out += ")";
  if (has_empty) out += "?";
  return out;
}

std::string regex_to_gbnf(std::string_view pattern) {
  return "root ::= " + regex_to_gbnf_expression(pattern, RegexOptions{}) + "\n";
}

}  // namespace tabllm::grammar
