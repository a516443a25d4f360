// Integer ranges as grammars over decimal digits: numbers are split by digit count, and each count's
// range by the first digit where its ends differ (the construction every regex range generator uses).
// Multiples of k: the automaton of the remainder modulo k, read digit by digit.
#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "grammar/schema_parts.h"

namespace tabllm::grammar::schema {
namespace {

std::string digit_class(char lo, char hi) {
  if (lo == hi) return std::string("\"") + lo + "\"";
  if (lo == '0' && hi == '9') return "[0-9]";
  return std::string("[") + lo + "-" + hi + "]";
}

std::string any_digits(size_t count) {
  if (count == 0) return "";
  if (count == 1) return "[0-9]";
  return "[0-9]{" + std::to_string(count) + "}";
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += separator;
    out += p;
  }
  return out;
}

std::string group(const std::vector<std::string>& alternatives) {
  std::vector<std::string> nonempty;
  for (const auto& a : alternatives)
    if (!a.empty()) nonempty.push_back(a);
  if (nonempty.size() == 1) return nonempty[0];
  return "( " + join(nonempty, " | ") + " )";
}

// Digit strings of the same length as `s` that are >= s (leading zeros allowed: this is a suffix).
std::string at_least(const std::string& s) {
  if (s.empty()) return "";
  if (s.find_first_not_of('0') == std::string::npos) return any_digits(s.size());
  std::vector<std::string> alternatives;
  alternatives.push_back(join({digit_class(s[0], s[0]), at_least(s.substr(1))}, " "));
  if (s[0] < '9') alternatives.push_back(join({digit_class(static_cast<char>(s[0] + 1), '9'), any_digits(s.size() - 1)}, " "));
  return group(alternatives);
}

// Digit strings of the same length as `s` that are <= s.
std::string at_most(const std::string& s) {
  if (s.empty()) return "";
  if (s.find_first_not_of('9') == std::string::npos) return any_digits(s.size());
  std::vector<std::string> alternatives;
  if (s[0] > '0') alternatives.push_back(join({digit_class('0', static_cast<char>(s[0] - 1)), any_digits(s.size() - 1)}, " "));
  alternatives.push_back(join({digit_class(s[0], s[0]), at_most(s.substr(1))}, " "));
  return group(alternatives);
}

// Numbers written with the same number of digits, from x to y (x <= y, no leading zeros except "0").
std::string same_length_range(const std::string& x, const std::string& y) {
  size_t i = 0;
  while (i < x.size() && x[i] == y[i]) ++i;
  const std::string prefix = i ? "\"" + x.substr(0, i) + "\"" : "";
  if (i == x.size()) return prefix;
  const size_t rest = x.size() - i - 1;
  std::vector<std::string> alternatives;
  alternatives.push_back(join({digit_class(x[i], x[i]), at_least(x.substr(i + 1))}, " "));
  if (y[i] - x[i] > 1) alternatives.push_back(join({digit_class(static_cast<char>(x[i] + 1), static_cast<char>(y[i] - 1)), any_digits(rest)}, " "));
  alternatives.push_back(join({digit_class(y[i], y[i]), at_most(y.substr(i + 1))}, " "));
  return join({prefix, group(alternatives)}, " ");
}

uint64_t power_of_ten(size_t digits) {
  uint64_t p = 1;
  for (size_t k = 0; k < digits; ++k) p *= 10;
  return p;
}

// Magnitudes in [lo, hi] (hi absent: unbounded), as alternatives.
void magnitude_range(uint64_t lo, const std::optional<uint64_t>& hi, std::vector<std::string>& out) {
  const size_t lo_digits = std::to_string(lo).size();
  const size_t hi_digits = hi ? std::to_string(*hi).size() : lo_digits;
  for (size_t d = lo_digits; d <= hi_digits; ++d) {
    const uint64_t first = d == 1 ? 0 : power_of_ten(d - 1);
    const uint64_t last = d >= 20 ? UINT64_MAX : power_of_ten(d) - 1;
    const uint64_t a = std::max(lo, first);
    const uint64_t b = hi ? std::min(*hi, last) : last;
    if (a > b) continue;
    out.push_back(same_length_range(std::to_string(a), std::to_string(b)));
  }
  if (!hi) out.push_back("[1-9] [0-9]{" + std::to_string(lo_digits) + ",}");
}

}  // namespace

std::string integer_range_expression(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  std::vector<std::string> alternatives;
  // Non-negative part.
  if (!hi || *hi >= 0) {
    const uint64_t a = lo && *lo > 0 ? static_cast<uint64_t>(*lo) : 0;
    std::optional<uint64_t> b;
    if (hi) b = static_cast<uint64_t>(*hi);
    magnitude_range(a, b, alternatives);
  }
  // Negative part, by magnitude.
  if (!lo || *lo < 0) {
    const uint64_t a = hi && *hi < 0 ? static_cast<uint64_t>(-(*hi + 1)) + 1 : 1;
    std::optional<uint64_t> b;
    if (lo) b = static_cast<uint64_t>(-(*lo + 1)) + 1;
    std::vector<std::string> negative;
    magnitude_range(a, b, negative);
    if (!negative.empty()) alternatives.push_back("\"-\" " + group(negative));
  }
  return group(alternatives);
}

namespace {

// Digit strings d (a fraction's digits, maybe none) with lo < 0.d (or <=, unless lo_x) and 0.d < hi (or <=);
// an absent bound does not constrain. Returns the expression for the non-empty ones ("" when none is) and
// sets `empty_ok` when no digits at all (0.d = 0) is in range.
std::string fraction_digits(const std::optional<std::string>& lo, bool lo_x, const std::optional<std::string>& hi, bool hi_x,
                            bool& empty_ok) {
  const auto zeros = [](const std::string& t) { return t.find_first_not_of('0') == std::string::npos; };
  const bool lo_done = !lo || (zeros(*lo) && !lo_x);  // every rest satisfies the lower bound
  empty_ok = (lo_done) && (!hi || !zeros(*hi) || !hi_x);
  if (lo_done && !hi) return "[0-9]+";
  if (lo && zeros(*lo) && lo_x && !hi) return "\"0\"* [1-9] [0-9]*";  // above zero: a non-zero digit somewhere
  if (hi && zeros(*hi)) {
    // At most 0.000...: only zeros, and only when the bound is inclusive and the lower one allows zero.
    empty_ok = !hi_x && lo_done;
    return empty_ok ? "\"0\"+" : "";
  }
  std::vector<std::string> alternatives;
  std::string free_digits;  // first digits after which nothing constrains the rest
  for (char c = '0'; c <= '9'; ++c) {
    std::optional<std::string> next_lo, next_hi;
    if (!lo_done) {
      const char l0 = lo->empty() ? '0' : (*lo)[0];
      if (c < l0) continue;
      if (c == l0) next_lo = lo->empty() ? std::string() : lo->substr(1);
    }
    if (hi) {
      const char h0 = (*hi)[0];
      if (c > h0) continue;
      if (c == h0) next_hi = hi->substr(1);
    }
    if (!next_lo && !next_hi) {
      free_digits += c;
      continue;
    }
    bool rest_empty_ok = false;
    const std::string rest = fraction_digits(next_lo, lo_x, next_hi, hi_x, rest_empty_ok);
    std::string piece = std::string("\"") + c + "\"";
    if (!rest.empty()) piece += rest_empty_ok ? " ( " + rest + " )?" : " " + rest;
    else if (!rest_empty_ok) continue;
    alternatives.push_back(piece);
  }
  if (!free_digits.empty()) alternatives.insert(alternatives.begin(), "[" + free_digits + "] [0-9]*");
  return alternatives.empty() ? "" : group(alternatives);
}

struct Decimal {
  uint64_t integer;
  std::string fraction;  // digits, no trailing zeros
};

// The decimal digits of a non-negative bound (nullopt when too large to spell exactly here).
std::optional<Decimal> decimal_of(double v) {
  if (!(v >= 0) || v >= 1e15) return std::nullopt;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  std::string text = buf;
  if (text.find_first_of("eE") != std::string::npos) {
    std::snprintf(buf, sizeof buf, "%.17f", v);
    text = buf;
  }
  const size_t dot = text.find('.');
  Decimal d{std::stoull(text.substr(0, dot)), dot == std::string::npos ? "" : text.substr(dot + 1)};
  while (!d.fraction.empty() && d.fraction.back() == '0') d.fraction.pop_back();
  return d;
}

// Magnitudes (no sign, no exponent) m with lo <(=) m <(=) hi.
std::string magnitude_between(const std::optional<Decimal>& lo, bool lo_x, const std::optional<Decimal>& hi, bool hi_x) {
  const std::string any_fraction = "( \".\" [0-9]+ )?";
  std::vector<std::string> alternatives;
  auto with_fraction = [&](uint64_t integer, const std::optional<std::string>& flo, bool fx_lo, const std::optional<std::string>& fhi, bool fx_hi) {
    bool empty_ok = false;
    const std::string digits = fraction_digits(flo, fx_lo, fhi, fx_hi, empty_ok);
    const std::string integer_text = "\"" + std::to_string(integer) + "\"";
    if (!digits.empty()) alternatives.push_back(integer_text + " ( \".\" " + digits + " )" + (empty_ok ? "?" : ""));
    else if (empty_ok) alternatives.push_back(integer_text);
  };
  // Integer parts strictly between the bounds' integer parts: any fraction.
  const uint64_t first = lo ? lo->integer + 1 : 0;
  std::optional<uint64_t> last;
  if (hi) {
    if (hi->integer == 0 || (lo && hi->integer <= first)) last = std::nullopt;
    else last = hi->integer - 1;
  }
  if (!hi || (last && first <= *last)) {
    std::vector<std::string> integers;
    magnitude_range(first, last, integers);
    alternatives.push_back(group(integers) + " " + any_fraction);
  }
  if (lo && hi && lo->integer == hi->integer) {
    with_fraction(lo->integer, lo->fraction, lo_x, hi->fraction, hi_x);
  } else {
    if (lo) with_fraction(lo->integer, lo->fraction, lo_x, std::nullopt, false);
    if (hi && !(lo && hi->integer < lo->integer)) with_fraction(hi->integer, std::nullopt, false, hi->fraction, hi_x);
  }
  if (lo && hi && hi->integer < lo->integer) return "";
  return alternatives.empty() ? "" : group(alternatives);
}

}  // namespace

std::optional<std::string> decimal_range_expression(std::optional<double> lo, bool lo_x, std::optional<double> hi, bool hi_x) {
  std::vector<std::string> alternatives;
  // Zero and above: magnitudes from max(lo, 0).
  if (!hi || *hi >= 0) {
    std::optional<Decimal> a, b;
    bool a_x = false;
    if (lo && *lo >= 0) {
      a = decimal_of(*lo), a_x = lo_x;
      if (!a) return std::nullopt;
    }
    if (hi && !(b = decimal_of(*hi))) return std::nullopt;
    const std::string m = magnitude_between(a, a_x, b, hi_x);
    if (!m.empty()) alternatives.push_back(m);
  }
  // Below zero: "-" and magnitudes from max(-hi, 0) (exclusive at 0) to -lo.
  if (!lo || *lo < 0) {
    std::optional<Decimal> a = Decimal{0, ""}, b;
    bool a_x = true;
    if (hi && *hi < 0) {
      a = decimal_of(-*hi), a_x = hi_x;
      if (!a) return std::nullopt;
    }
    if (lo && !(b = decimal_of(-*lo))) return std::nullopt;
    const std::string m = magnitude_between(a, a_x, b, lo_x);
    if (!m.empty()) alternatives.push_back("\"-\" " + m);
  }
  return alternatives.empty() ? "" : group(alternatives);
}

std::string positive_multiples(uint64_t k, int digits, const std::function<std::string(const std::string&, const std::string&)>& define) {
  const size_t n_rem = static_cast<size_t>(k);
  // can_end[n][r]: from remainder r, a multiple can end within n more digits.
  std::vector<std::vector<bool>> can_end(static_cast<size_t>(digits), std::vector<bool>(n_rem, false));
  can_end[0][0] = true;
  for (size_t n = 1; n < can_end.size(); ++n)
    for (size_t r = 0; r < n_rem; ++r) {
      bool ok = r == 0;
      for (uint64_t d = 0; d < 10 && !ok; ++d) ok = can_end[n - 1][(r * 10 + d) % k];
      can_end[n][r] = ok;
    }
  // names[n][r]: the digits that may follow remainder r with n digits left (it may end only at r == 0).
  std::vector<std::vector<std::string>> names(can_end.size(), std::vector<std::string>(n_rem));
  // Digits from remainder r (those in [first, 9]) grouped by the state they lead to, n digits left after.
  const auto steps = [&](uint64_t r, char first, size_t n) {
    std::vector<std::string> classes(n_rem), alternatives;
    for (char d = first; d <= '9'; ++d) classes[static_cast<size_t>((r * 10 + static_cast<uint64_t>(d - '0')) % k)] += d;
    for (size_t t = 0; t < n_rem; ++t)
      if (!classes[t].empty() && can_end[n][t]) alternatives.push_back("[" + classes[t] + "]" + (n ? " " + names[n][t] : ""));
    return alternatives;
  };
  for (size_t n = 1; n < can_end.size(); ++n)
    for (uint64_t r = 0; r < k; ++r) {
      if (!can_end[n][r]) continue;
      const std::string body = join(steps(r, '0', n - 1), " | ");
      names[n][r] = define("multiple-of-" + std::to_string(k) + "-r" + std::to_string(r), r == 0 ? "( " + body + " )?" : body);
    }
  return group(steps(0, '1', can_end.size() - 1));
}

}  // namespace tabllm::grammar::schema
