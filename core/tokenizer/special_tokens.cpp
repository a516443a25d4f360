#include "tokenizer/special_tokens.h"

#include <algorithm>

namespace tabllm {

void SpecialTokenMatcher::add(std::string_view text, int32_t id, bool always) {
  if (text.empty()) return;
  auto& bucket = by_first_byte_[static_cast<uint8_t>(text[0])];
  const Candidate c{text, id, always};
  const auto longer = [](const Candidate& a, const Candidate& b) { return a.text.size() > b.text.size(); };
  bucket.insert(std::upper_bound(bucket.begin(), bucket.end(), c, longer), c);
}

void SpecialTokenMatcher::split(std::string_view text, bool parse_special, std::vector<Fragment>& out) const {
  size_t raw_start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const Candidate* found = nullptr;
    for (const Candidate& c : by_first_byte_[static_cast<uint8_t>(text[pos])]) {
      if ((c.always || parse_special) && text.compare(pos, c.text.size(), c.text) == 0) {
        found = &c;
        break;
      }
    }
    if (!found) {
      ++pos;
      continue;
    }
    if (raw_start < pos) out.push_back({text.substr(raw_start, pos - raw_start), -1});
    out.push_back({found->text, found->id});
    pos += found->text.size();
    raw_start = pos;
  }
  if (raw_start < text.size()) out.push_back({text.substr(raw_start), -1});
}

}  // namespace tabllm
