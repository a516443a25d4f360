// The GBNF and EBNF front-ends: one recursive-descent parser, the two dialects differing only in where a
// rule ends, which quotes and comments they take, and lookahead assertions.
#include <charconv>
#include <unordered_map>

#include "grammar/grammar.h"
#include "grammar/utf8.h"

namespace tabllm::grammar {
namespace {

enum class Dialect { Gbnf, Ebnf };

// Deeper nesting of parentheses is refused (it would only exhaust the native stack).
constexpr int kMaxNesting = 200;
// Repeat bounds above this are almost certainly mistakes and would blow up the automaton.
constexpr int32_t kMaxRepeatBound = 4096;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

class Parser {
 public:
  Parser(std::string_view text, Dialect dialect) : text_(text), dialect_(dialect) {}

  Grammar parse(std::string_view root_name) {
    skip_space(true);
    while (!at_end()) {
      const size_t name_pos = pos_;
      std::string name = parse_name("a rule name");
      skip_space(false);
      if (text_.substr(pos_, 3) != "::=") fail("expected '::=' after the rule name '" + name + "'");
      pos_ += 3;
      skip_space(true);
      const int32_t id = rule_id(name, name_pos);
      if (defined_[id]) fail_at(name_pos, "the rule '" + name + "' is defined twice");
      defined_[id] = true;
      grammar_.rules[id].body = parse_alternatives(false);
      if (dialect_ == Dialect::Ebnf) {
        skip_space(true);
        if (peek() == ';') ++pos_;
      } else {
        skip_space(false);
        if (!at_end() && peek() != '\n') fail(unexpected("the end of the rule"));
      }
      skip_space(true);
    }
    if (grammar_.rules.empty()) throw GrammarError("the grammar is empty: define at least the rule '" + std::string(root_name) + " ::= ...'");
    for (size_t i = 0; i < grammar_.rules.size(); ++i)
      if (!defined_[i])
        fail_at(first_use_[i], "the rule '" + grammar_.rules[i].name + "' is used but never defined");
    grammar_.root = grammar_.find_rule(root_name);
    if (grammar_.root < 0)
      throw GrammarError("the grammar has no rule named '" + std::string(root_name) +
                         "' to start from: add '" + std::string(root_name) + " ::= ...' or name another start rule");
    return std::move(grammar_);
  }

 private:
  std::string_view text_;
  Dialect dialect_;
  size_t pos_ = 0;
  Grammar grammar_;
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<bool> defined_;
  std::vector<size_t> first_use_;
  int nesting_ = 0;

  bool at_end() const { return pos_ >= text_.size(); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

  [[noreturn]] void fail_at(size_t pos, const std::string& message) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) {
        ++column;
      }
    }
    throw GrammarError("line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + message);
  }
  [[noreturn]] void fail(const std::string& message) const { fail_at(pos_, message); }

  std::string unexpected(const std::string& expected) const {
    if (at_end()) return "unexpected end of the grammar, expected " + expected;
    const char c = peek();
    std::string message = "unexpected ";
    if (c == '\n') {
      message += "a line break";
    } else {
      message += '\'';
      message += c;
      message += '\'';
    }
    message += ", expected ";
    message += expected;
    return message;
  }

  int32_t rule_id(const std::string& name, size_t pos) {
    auto [it, inserted] = ids_.try_emplace(name, static_cast<int32_t>(grammar_.rules.size()));
    if (inserted) {
      grammar_.rules.push_back({name, Expr::empty()});
      defined_.push_back(false);
      first_use_.push_back(pos);
    }
    return it->second;
  }

  // Blanks and comments; line breaks too when `newlines`.
  void skip_space(bool newlines) {
    while (!at_end()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        ++pos_;
      } else if (c == '#') {
        while (!at_end() && peek() != '\n') ++pos_;
      } else if (dialect_ == Dialect::Ebnf && c == '/' && peek(1) == '*') {
        const size_t start = pos_;
        const size_t end = text_.find("*/", pos_ + 2);
        if (end == std::string_view::npos) fail_at(start, "the comment '/*' is never closed with '*/'");
        pos_ = end + 2;
      } else {
        break;
      }
    }
  }

  std::string parse_name(const char* what) {
    const size_t start = pos_;
    while (!at_end() && is_name_char(peek())) ++pos_;
    if (pos_ == start) fail(unexpected(what));
    return std::string(text_.substr(start, pos_ - start));
  }

  // True when `name ::=` starts here (EBNF: the previous rule ends before it).
  bool at_rule_start() const {
    size_t p = pos_;
    while (p < text_.size() && is_name_char(text_[p])) ++p;
    if (p == pos_) return false;
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t' || text_[p] == '\r' || text_[p] == '\n')) ++p;
    return text_.substr(p, 3) == "::=";
  }

  Expr parse_alternatives(bool nested) {
    std::vector<Expr> alternatives;
    alternatives.push_back(parse_sequence(nested));
    for (;;) {
      const size_t save = pos_;
      // A GBNF rule continues on the next line only when that line starts with '|'.
      skip_space(true);
      if (peek() != '|') {
        pos_ = save;
        break;
      }
      ++pos_;
      skip_space(true);
      alternatives.push_back(parse_sequence(nested));
    }
    return Expr::choice(std::move(alternatives));
  }

  Expr parse_sequence(bool nested) {
    std::vector<Expr> items;
    const bool newlines = nested || dialect_ == Dialect::Ebnf;
    for (;;) {
      skip_space(newlines);
      if (at_end()) break;
      const char c = peek();
      if (c == '|' || c == ')' || c == '\n' || (c == ';' && dialect_ == Dialect::Ebnf)) break;
      if (dialect_ == Dialect::Ebnf && !nested && at_rule_start()) break;
      Expr item = parse_atom();
      items.push_back(parse_postfix(std::move(item)));
    }
    return Expr::sequence(std::move(items));
  }

  // `*`, `+` or `?` on an item. Stacked ones merge (X+* is X*, X?+ is X*, X++ is X+): the same language,
  // where nesting them would only multiply the automaton's empty loops.
  static Expr quantified(Expr item, int32_t min_count, int32_t max_count) {
    const bool simple = item.kind == Expr::Kind::Repeat && item.min_count <= 1 && (item.max_count == 1 || item.max_count < 0);
    if (!simple) return Expr::repeat(std::move(item), min_count, max_count);
    item.min_count *= min_count;
    item.max_count = item.max_count < 0 || max_count < 0 ? -1 : 1;
    return item;
  }

  Expr parse_postfix(Expr item) {
    for (;;) {
      const char c = peek();
      if (c == '*') {
        ++pos_;
        item = quantified(std::move(item), 0, -1);
      } else if (c == '+') {
        ++pos_;
        item = quantified(std::move(item), 1, -1);
      } else if (c == '?') {
        ++pos_;
        item = quantified(std::move(item), 0, 1);
      } else if (c == '{') {
        const size_t start = pos_;
        ++pos_;
        skip_space(true);
        const int32_t min_count = parse_count();
        int32_t max_count = min_count;
        skip_space(true);
        if (peek() == ',') {
          ++pos_;
          skip_space(true);
          max_count = peek() == '}' ? -1 : parse_count();
          skip_space(true);
        }
        if (peek() != '}') fail(unexpected("'}' closing the repetition"));
        ++pos_;
        if (max_count >= 0 && max_count < min_count)
          fail_at(start, "the repetition {" + std::to_string(min_count) + "," + std::to_string(max_count) +
                             "} has its maximum below its minimum");
        item = Expr::repeat(std::move(item), min_count, max_count);
      } else {
        return item;
      }
    }
  }

  int32_t parse_count() {
    const size_t start = pos_;
    while (peek() >= '0' && peek() <= '9') ++pos_;
    if (pos_ == start) fail(unexpected("a number"));
    int64_t value = 0;
    std::from_chars(text_.data() + start, text_.data() + pos_, value);
    if (pos_ - start > 9 || value > kMaxRepeatBound)
      fail_at(start, "repetition counts above " + std::to_string(kMaxRepeatBound) + " are not supported");
    return static_cast<int32_t>(value);
  }

  Expr parse_atom() {
    const char c = peek();
    if (c == '"' || (c == '\'' && dialect_ == Dialect::Ebnf)) return parse_literal(c);
    if (c == '[') return parse_class();
    if (c == '.') {
      ++pos_;
      return Expr::char_class({}, true);
    }
    if (c == '(') {
      const size_t open = pos_;
      if (++nesting_ > kMaxNesting) fail("parentheses are nested more than " + std::to_string(kMaxNesting) + " deep");
      ++pos_;
      skip_space(true);
      bool lookahead = false;
      if (dialect_ == Dialect::Ebnf && peek() == '=') {
        lookahead = true;
        ++pos_;
        skip_space(true);
      }
      Expr inner = parse_alternatives(true);
      skip_space(true);
      if (peek() != ')') {
        if (at_end()) fail_at(open, "the parenthesis opened here is never closed");
        fail(unexpected("')'"));
      }
      ++pos_;
      --nesting_;
      return lookahead ? Expr::empty() : inner;
    }
    if (is_name_char(c)) {
      const size_t start = pos_;
      std::string name = parse_name("a rule name");
      return Expr::rule_ref(rule_id(name, start));
    }
    if (c == '<') fail("token references '<...>' are not supported; write the token's text as a \"literal\"");
    fail(unexpected("a \"literal\", a [class], a rule name or '('"));
  }

  // One code point of a literal or class: an escape or a UTF-8 character.
  uint32_t parse_char() {
    const size_t start = pos_;
    if (peek() == '\\') {
      ++pos_;
      const char e = peek();
      ++pos_;
      switch (e) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case 'f': return '\f';
        case 'v': return '\v';
        case 'b': return '\b';
        case '0': return 0;
        case '\\': case '"': case '\'': case '[': case ']': case '-': case '^': case '/': case '.': case '(':
        case ')': case '*': case '+': case '?': case '{': case '}': case '|': case '$': case ' ':
          return static_cast<unsigned char>(e);
        case 'x': return parse_hex(2, start);
        case 'u': return parse_hex(4, start);
        case 'U': return parse_hex(8, start);
        default:
          if (e == '\0' && pos_ > text_.size()) fail_at(start, "the grammar ends inside an escape");
          fail_at(start, std::string("unknown escape '\\") + e + "'");
      }
    }
    uint32_t cp = 0;
    const size_t length = decode_utf8(text_.substr(pos_), cp);
    if (length == 0) fail("invalid UTF-8 in the grammar text");
    pos_ += length;
    return cp;
  }

  uint32_t parse_hex(int digits, size_t start) {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      const char h = peek();
      int v = -1;
      if (h >= '0' && h <= '9') v = h - '0';
      else if (h >= 'a' && h <= 'f') v = h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') v = h - 'A' + 10;
      if (v < 0) fail_at(start, "the escape needs " + std::to_string(digits) + " hexadecimal digits");
      value = value * 16 + static_cast<uint32_t>(v);
      ++pos_;
    }
    if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
      fail_at(start, "the escape is not a valid Unicode scalar value");
    return value;
  }

  Expr parse_literal(char quote) {
    const size_t open = pos_;
    ++pos_;
    std::string bytes;
    for (;;) {
      if (at_end() || peek() == '\n') fail_at(open, "the literal opened here is never closed");
      if (peek() == quote) break;
      append_utf8(bytes, parse_char());
    }
    ++pos_;
    return Expr::literal(std::move(bytes));
  }

  Expr parse_class() {
    const size_t open = pos_;
    ++pos_;
    bool negated = false;
    if (peek() == '^') {
      negated = true;
      ++pos_;
    }
    std::vector<CharRange> ranges;
    while (peek() != ']') {
      if (at_end() || peek() == '\n') fail_at(open, "the character class opened here is never closed");
      const size_t start = pos_;
      const uint32_t first = parse_char();
      uint32_t last = first;
      if (peek() == '-' && peek(1) != ']' && peek(1) != '\0') {
        ++pos_;
        last = parse_char();
        if (last < first) fail_at(start, "the character range is reversed (its end comes before its start)");
      }
      ranges.push_back({first, last});
    }
    ++pos_;
    return Expr::char_class(std::move(ranges), negated);
  }
};

}  // namespace

Grammar parse_gbnf(std::string_view text, std::string_view root) { return Parser(text, Dialect::Gbnf).parse(root); }
Grammar parse_ebnf(std::string_view text, std::string_view root) { return Parser(text, Dialect::Ebnf).parse(root); }

}  // namespace tabllm::grammar
