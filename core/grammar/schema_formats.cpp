// String formats as grammars. They follow RFC 3339 (date, time, date-time), RFC 4122 (uuid), the
// dotted-quad form of IPv4 and RFC 4291's forms of IPv6; email and uri take the common, unquoted forms (what a model should write and
// what format validators such as ajv-formats accept).

#include "grammar/schema_parts.h"

namespace tabllm::grammar::schema {
namespace {

// Real calendar dates only (validators check them): 30-day months, February with 28 days, and the 29th
// in leap years (divisible by 4; centuries only when divisible by 400).
constexpr std::string_view kDate =
    R"(( [0-9]{4} "-" ( ( "0" [13578] | "1" [02] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] )
                    | ( "0" [469] | "11" ) "-" ( "0" [1-9] | [12] [0-9] | "30" )
                    | "02-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] ) )
       | ( [0-9] [0-9] ( "0" [48] | [2468] [048] | [13579] [26] ) | ( [02468] [048] | [13579] [26] ) "00" ) "-02-29" ))";
// Seconds stop at 59: a leap second is valid only at 23:59:60 UTC, which a grammar cannot tie to the offset.
constexpr std::string_view kPartialTime =
    R"(( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]+ )?)";
constexpr std::string_view kOffset = R"(( [zZ] | [+\-] ( [01] [0-9] | "2" [0-3] ) ":"? [0-5] [0-9] ))";
constexpr std::string_view kHex = "[0-9a-fA-F]";
constexpr std::string_view kOctet = R"(( "25" [0-5] | "2" [0-4] [0-9] | "1" [0-9] [0-9] | [1-9] [0-9] | [0-9] ))";
constexpr std::string_view kLabel = R"([a-zA-Z0-9] ( [a-zA-Z0-9\-]{0,61} [a-zA-Z0-9] )?)";
constexpr std::string_view kUriChar = R"([A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%])";
// RFC 3986's character sets: unreserved and sub-delims; a path character adds ":" and "@".
constexpr std::string_view kUriSub = R"([A-Za-z0-9\-._~!$&'()*+,;=])";
constexpr std::string_view kUriPathChar = R"([A-Za-z0-9\-._~!$&'()*+,;=:@])";
constexpr std::string_view kPercent = R"("%" [0-9a-fA-F] [0-9a-fA-F])";
constexpr std::string_view kEmailLocalChar = R"([a-zA-Z0-9!#$%&'*+/=?\^_`{|}~\-])";

// RFC 4291's text forms (RFC 3986's grammar): eight groups, or fewer around one "::", the last two
// groups possibly an IPv4 address.
std::string ipv6(const std::string& hex, const std::string& ipv4) {
  const std::string h16 = hex + "{1,4}";
  const std::string ls32 = "( " + h16 + " \":\" " + h16 + " | " + ipv4 + " )";
  const auto groups = [&](int n) { return n == 0 ? std::string() : "( " + h16 + " \":\" ){" + std::to_string(n) + "} "; };
  // Up to m + 1 groups before "::".
  const auto before = [&](int m) { return "( " + (m == 0 ? std::string() : "( " + h16 + " \":\" ){0," + std::to_string(m) + "} ") + h16 + " )? "; };
  std::string out = "( " + groups(6) + ls32 + " | \"::\" " + groups(5) + ls32;
  for (int m = 0; m <= 4; ++m) out += " | " + before(m) + "\"::\" " + groups(4 - m) + ls32;
  out += " | " + before(5) + "\"::\" " + h16 + " | " + before(6) + "\"::\" )";
  return out;
}

// RFC 3986's URI (as ajv-formats checks it): scheme ":" then an authority ("//" userinfo@ host :port) and
// path, or a path alone; then query and fragment, each at most once.
std::string uri(const std::string& ipv6_address) {
  const std::string percent(kPercent);
  const std::string pchar = "( " + std::string(kUriPathChar) + " | " + percent + " )";
  const std::string userinfo = R"(( [A-Za-z0-9\-._~!$&'()*+,;=:] | )" + percent + " )* \"@\"";
  const std::string host = "( \"[\" " + ipv6_address + " \"]\" | ( " + std::string(kUriSub) + " | " + percent + " )* )";
  const std::string authority = "( " + userinfo + " )? " + host + " ( \":\" [0-9]* )?";
  const std::string segments = "( \"/\" " + pchar + "* )*";
  const std::string hier = "( \"/\" \"/\"? " + authority + " " + segments + " | \"/\" ( " + pchar + "+ " + segments + " )? | " + pchar +
                           "+ " + segments + " )";
  const std::string rest = "( " + pchar + " | [/?] )*";
  return "[a-zA-Z] [a-zA-Z0-9+.\\-]* \":\" " + hier + " ( \"?\" " + rest + " )? ( \"#\" " + rest + " )?";
}

}  // namespace

std::optional<std::string> string_format_expression(std::string_view format) {
  const std::string date(kDate), partial_time(kPartialTime), offset(kOffset), hex(kHex), label(kLabel),
      octet(kOctet), uri_char(kUriChar), local(kEmailLocalChar);
  // A hostname may end with the root's dot; an email's domain has at least two labels (as validators check).
  const std::string hostname = label + " ( \".\" " + label + " )* \".\"?";
  const std::string domain = label + " ( \".\" " + label + " )+";
  if (format == "date") return date;
  if (format == "time") return partial_time + " " + offset;
  if (format == "date-time") return date + " [Tt ] " + partial_time + " " + offset;
  if (format == "uuid")
    return hex + "{8} \"-\" " + hex + "{4} \"-\" " + hex + "{4} \"-\" " + hex + "{4} \"-\" " + hex + "{12}";
  if (format == "ipv4") return octet + " ( \".\" " + octet + " ){3}";
  if (format == "ipv6") return ipv6(hex, octet + " ( \".\" " + octet + " ){3}");
  if (format == "hostname") return hostname;
  if (format == "email") return local + "+ ( \".\" " + local + "+ )* \"@\" " + domain;
  if (format == "uri" || format == "url") return uri(ipv6(hex, octet + " ( \".\" " + octet + " ){3}"));
  if (format == "uri-reference") return uri_char + "*";
  return std::nullopt;
}

}  // namespace tabllm::grammar::schema
