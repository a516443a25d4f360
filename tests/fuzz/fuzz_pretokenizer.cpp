// Any text given to any pre-tokenizer of the catalog (regex engine and hand-written matchers alike) is cut
// into non-empty words that together are the text, byte for byte.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pretokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto& catalog = tabllm::pre_tokenizer_catalog();
  static std::vector<std::unique_ptr<tabllm::PreTokenizer>> cache(catalog.size() * 2);
  const size_t entry = data[0] % catalog.size();
  const bool regex_only = (data[0] / catalog.size()) & 1;
  auto& slot = cache[entry * 2 + regex_only];
  if (!slot) {
    slot = std::make_unique<tabllm::PreTokenizer>(
        catalog[entry].names[0], regex_only ? tabllm::PreTokenizer::Engine::Regex : tabllm::PreTokenizer::Engine::Fastest);
  }
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> words;
  slot->split(text, words);
  std::string joined;
  for (std::string_view w : words) {
    if (w.empty()) std::abort();
    joined += w;
  }
  if (joined != text) std::abort();
  return 0;
}
