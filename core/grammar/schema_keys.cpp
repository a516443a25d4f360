// Object keys other than a finite set of names, as a grammar over JSON string content. The names go into
// a trie over code points; each trie node becomes one rule that either spells a child's character (in any
// of its JSON spellings: literal, short escape, \uXXXX in either case) and goes on in that child, or writes
// a character that leads away from every name and then anything. So `\u0061` cannot smuggle in `a`.
// Characters above U+FFFF are matched literally only (their surrogate-pair escapes are not told apart).

#include <cstdio>
#include <map>
#include <set>
#include <vector>

#include "grammar/regex.h"
#include "grammar/schema_parts.h"
#include "grammar/utf8.h"

namespace tabllm::grammar::schema {
namespace {

struct TrieNode {
  std::map<uint32_t, size_t> children;  // code point → node index
  bool terminal = false;                // a name ends here
};

// JSON's two-character escapes: the letter after '\' → the character it stands for.
constexpr std::pair<char, uint32_t> kShortEscapes[] = {{'"', '"'},  {'\\', '\\'}, {'/', '/'},  {'b', '\b'},
                                                       {'f', '\f'}, {'n', '\n'},  {'r', '\r'}, {'t', '\t'}};

std::string hex_digits(uint32_t cp) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04x", static_cast<unsigned>(cp));
  return buf;
}

// One hexadecimal digit in either case.
std::string hex_digit(char d) {
  if (d >= '0' && d <= '9') return std::string("\"") + d + "\"";
  return std::string("[") + d + static_cast<char>(d - 'a' + 'A') + "]";
}

std::string any_hex(int count) {
  if (count <= 0) return "";
  return count == 1 ? "[0-9a-fA-F]" : "[0-9a-fA-F]{" + std::to_string(count) + "}";
}

// `count` hex digits (either case) that spell none of `excluded` (lowercase, `count` digits each); "" when
// every spelling is excluded.
std::string hex_excluding(const std::set<std::string>& excluded, int count) {
  if (excluded.empty()) return any_hex(count);
  std::map<char, std::set<std::string>> by_first;
  for (const std::string& e : excluded) by_first[e[0]].insert(e.substr(1));
  std::string free_class;
  std::vector<std::string> alternatives;
  for (const char d : std::string("0123456789abcdef")) {
    const auto it = by_first.find(d);
    if (it == by_first.end()) {
      free_class += d;
      if (d >= 'a') free_class += static_cast<char>(d - 'a' + 'A');
      continue;
    }
    if (count == 1) continue;
    const std::string rest = hex_excluding(it->second, count - 1);
    if (!rest.empty()) alternatives.push_back(hex_digit(d) + " " + rest);
  }
  if (!free_class.empty()) alternatives.insert(alternatives.begin(), "[" + free_class + "]" + (count > 1 ? " " + any_hex(count - 1) : ""));
  if (alternatives.empty()) return "";
  if (alternatives.size() == 1) return alternatives[0];
  std::string out = "(";
  for (size_t i = 0; i < alternatives.size(); ++i) out += (i ? " | " : " ") + alternatives[i];
  return out + " )";
}

std::string class_char(uint32_t cp) {
  char buf[16];
  if (cp <= 0xFFFF) std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
  else std::snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(cp));
  return buf;
}

// Every JSON spelling of the string character `cp`.
std::string spellings(uint32_t cp) {
  std::vector<std::string> out;
  if (cp >= 0x20 && cp != '"' && cp != '\\') {
    std::string utf8;
    append_utf8(utf8, cp);
    out.push_back(gbnf_literal(utf8));
  }
  for (const auto& [letter, value] : kShortEscapes)
    if (value == cp) out.push_back(gbnf_literal(std::string("\\") + letter));
  if (cp <= 0xFFFF) {
    std::string u = gbnf_literal("\\u");
    for (const char d : hex_digits(cp)) u += " " + hex_digit(d);
    out.push_back(u);
  }
  if (out.size() == 1) return out[0];
  std::string joined = "(";
  for (size_t i = 0; i < out.size(); ++i) joined += (i ? " | " : " ") + out[i];
  return joined + " )";
}

// One string character that is none of `chars`, in any spelling; with `ascii_literal`, written literally
// only when it is ASCII.
std::string char_excluding(const std::set<uint32_t>& chars, bool ascii_literal) {
  std::string literal_class = R"([^"\\\x00-\x1F)";
  if (ascii_literal) literal_class += R"(\u0080-\U0010FFFF)";
  std::set<std::string> codes;
  for (const uint32_t c : chars) {
    if (c >= 0x20 && c != '"' && c != '\\') literal_class += class_char(c);
    if (c <= 0xFFFF) codes.insert(hex_digits(c));
  }
  literal_class += "]";
  std::string letters;
  for (const auto& [letter, value] : kShortEscapes)
    if (!chars.count(value)) letters += letter == '"' || letter == '\\' ? std::string("\\") + letter : std::string(1, letter);
  std::vector<std::string> escapes;
  if (!letters.empty()) escapes.push_back("[" + letters + "]");
  const std::string unicode = hex_excluding(codes, 4);
  if (!unicode.empty()) escapes.push_back("\"u\" " + unicode);
  std::string out = "( " + literal_class;
  if (!escapes.empty()) {
    out += " | \"\\\\\" ";
    out += escapes.size() == 1 ? escapes[0] : "( " + escapes[0] + " | " + escapes[1] + " )";
  }
  return out + " )";
}

}  // namespace

std::string key_excluding_expression(const std::vector<std::string>& names, const std::string& string_rest,
                                     const std::function<std::string(const std::string&)>& define) {
  std::vector<TrieNode> trie(1);
  for (const std::string& name : names) {
    size_t node = 0;
    std::string_view rest = name;
    while (!rest.empty()) {
      uint32_t cp = 0;
      size_t length = decode_utf8(rest, cp);
      if (length == 0) cp = static_cast<unsigned char>(rest[0]), length = 1;  // not UTF-8: cannot be written anyway
      rest.remove_prefix(length);
      const auto [it, inserted] = trie[node].children.emplace(cp, trie.size());
      if (inserted) trie.emplace_back();
      node = it->second;
    }
    trie[node].terminal = true;
  }
  // Rules bottom-up (children have larger indices than their parents).
  std::vector<std::string> rule_of(trie.size());
  for (size_t i = trie.size(); i-- > 0;) {
    std::set<uint32_t> chars;
    std::string body;
    for (const auto& [cp, child] : trie[i].children) {
      chars.insert(cp);
      body += spellings(cp) + " " + rule_of[child] + " | ";
    }
    // With ASCII characters only to avoid, a literal non-ASCII character goes to one rule shared by all
    // nodes: a token that starts with one then reaches the same configuration from every node (as one
    // that starts with an ASCII character does), so the nodes share its mask walk.
    if (chars.empty() || *chars.rbegin() < 0x80)
      body += "( " + char_excluding(chars, true) + " " + string_rest + " | " +
              define("[\\u0080-\\U0010FFFF] " + string_rest) + " )";
    else
      body += char_excluding(chars, false) + " " + string_rest;
    rule_of[i] = define(trie[i].terminal ? body : "( " + body + " )?");
  }
  return rule_of[0];
}

}  // namespace tabllm::grammar::schema
