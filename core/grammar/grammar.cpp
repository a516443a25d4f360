// Expr constructors and GBNF printing of the IR.
#include <cstdio>

#include "grammar/grammar.h"

namespace tabllm::grammar {

Expr Expr::literal(std::string bytes) {
  if (bytes.empty()) return {};
  Expr e;
  e.kind = Kind::Literal;
  e.text = std::move(bytes);
  return e;
}

Expr Expr::char_class(std::vector<CharRange> ranges, bool negated) {
  Expr e;
  e.kind = Kind::CharClass;
  e.ranges = std::move(ranges);
  e.negated = negated;
  return e;
}

Expr Expr::rule_ref(int32_t rule) {
  Expr e;
  e.kind = Kind::RuleRef;
  e.rule = rule;
  return e;
}

Expr Expr::sequence(std::vector<Expr> items) {
  std::vector<Expr> kept;
  for (auto& item : items)
    if (item.kind != Kind::Empty) kept.push_back(std::move(item));
  if (kept.empty()) return {};
  if (kept.size() == 1) return std::move(kept[0]);
  Expr e;
  e.kind = Kind::Sequence;
  e.children = std::move(kept);
  return e;
}

Expr Expr::choice(std::vector<Expr> items) {
  if (items.size() == 1) return std::move(items[0]);
  Expr e;
  e.kind = Kind::Choice;
  e.children = std::move(items);
  return e;
}

Expr Expr::repeat(Expr item, int32_t min_count, int32_t max_count) {
  Expr e;
  e.kind = Kind::Repeat;
  e.min_count = min_count;
  e.max_count = max_count;
  e.children.push_back(std::move(item));
  return e;
}

int32_t Grammar::find_rule(std::string_view name) const {
  for (size_t i = 0; i < rules.size(); ++i)
    if (rules[i].name == name) return static_cast<int32_t>(i);
  return -1;
}

namespace {

void append_escaped(std::string& out, uint32_t cp, bool in_class) {
  char buf[16];
  if (cp == '"' && !in_class) {
    out += "\\\"";
  } else if (cp == '\\') {
    out += "\\\\";
  } else if (in_class && (cp == ']' || cp == '^' || cp == '-' || cp == '[')) {
    out += '\\';
    out += static_cast<char>(cp);
  } else if (cp == '\n') {
    out += "\\n";
  } else if (cp == '\r') {
    out += "\\r";
  } else if (cp == '\t') {
    out += "\\t";
  } else if (cp < 0x20 || cp == 0x7F) {
    std::snprintf(buf, sizeof buf, "\\x%02X", cp);
    out += buf;
  } else if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {
    std::snprintf(buf, sizeof buf, cp <= 0xFFFF ? "\\u%04X" : "\\U%08X", cp);
    out += buf;
  }
}

void print(const Grammar& g, const Expr& e, std::string& out, bool nested) {
  switch (e.kind) {
    case Expr::Kind::Empty: out += "\"\""; break;
    case Expr::Kind::Literal:
      out += '"';
      // Bytes ≥ 0x80 are printed as \xHH: a literal may hold partial UTF-8 (regex byte escapes).
      for (unsigned char c : e.text) {
        if (c >= 0x80) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02X", c);
          out += buf;
        } else {
          append_escaped(out, c, false);
        }
      }
      out += '"';
      break;
    case Expr::Kind::CharClass:
      out += e.negated ? "[^" : "[";
      for (const auto& r : e.ranges) {
        append_escaped(out, r.first, true);
        if (r.last != r.first) {
          out += '-';
          append_escaped(out, r.last, true);
        }
      }
      out += ']';
      break;
    case Expr::Kind::RuleRef: out += g.rules[e.rule].name; break;
    case Expr::Kind::Sequence:
    case Expr::Kind::Choice: {
      const bool paren = nested || e.kind == Expr::Kind::Choice;
      if (paren && nested) out += '(';
      for (size_t i = 0; i < e.children.size(); ++i) {
        if (i) out += e.kind == Expr::Kind::Choice ? " | " : " ";
        print(g, e.children[i], out, e.kind == Expr::Kind::Sequence || e.children[i].kind == Expr::Kind::Choice);
      }
      if (paren && nested) out += ')';
      break;
    }
    case Expr::Kind::Repeat: {
      const Expr& c = e.children[0];
      const bool paren = c.kind == Expr::Kind::Sequence || c.kind == Expr::Kind::Choice || c.kind == Expr::Kind::Repeat;
      if (paren) out += '(';
      print(g, c, out, false);
      if (paren) out += ')';
      if (e.min_count == 0 && e.max_count < 0) out += '*';
      else if (e.min_count == 1 && e.max_count < 0) out += '+';
      else if (e.min_count == 0 && e.max_count == 1) out += '?';
      else {
        // Appended piece by piece (GCC 12 warns falsely about chains of std::string operator+).
        out += '{';
        out += std::to_string(e.min_count);
        if (e.max_count != e.min_count) out += ',';
        if (e.max_count > e.min_count) out += std::to_string(e.max_count);
        out += '}';
      }
      break;
    }
  }
}

}  // namespace

std::string Grammar::to_gbnf() const {
  std::string out;
  for (const auto& rule : rules) {
    out += rule.name;
    out += " ::= ";
    print(*this, rule.body, out, false);
    out += '\n';
  }
  return out;
}

}  // namespace tabllm::grammar
