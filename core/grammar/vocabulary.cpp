#include "grammar/vocabulary.h"

#include <algorithm>
#include <cstdint>

#include "grammar/grammar.h"
#include "tokenizer/tokenizer.h"

namespace tabllm::grammar {

TokenVocabulary::TokenVocabulary(std::vector<std::string> token_bytes, std::vector<int32_t> end_tokens)
    : bytes_(std::move(token_bytes)), end_tokens_(std::move(end_tokens)), is_end_(bytes_.size(), false) {
  for (int32_t id : end_tokens_) {
    if (id < 0 || static_cast<size_t>(id) >= bytes_.size())
      throw GrammarError("end token " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(bytes_.size()) + " tokens");
    is_end_[id] = true;
  }
  text_tokens_.assign(mask_words(), 0);
  for (size_t id = 0; id < bytes_.size(); ++id)
    if (!bytes_[id].empty() && !is_end_[id]) {
      sorted_.push_back(static_cast<int32_t>(id));
      text_tokens_[id / 32] |= 1u << (id % 32);
      max_token_bytes_ = std::max(max_token_bytes_, bytes_[id].size());
    }
  std::sort(sorted_.begin(), sorted_.end(), [&](int32_t a, int32_t b) { return bytes_[a] < bytes_[b]; });

  // Build the trie in one pass over the sorted tokens: a path of open nodes, closed when a token leaves it.
  if (max_token_bytes_ > UINT16_MAX) throw GrammarError("a token of " + std::to_string(max_token_bytes_) + " bytes is too long");
  trie_.push_back({0, 0, 0, 0, 0});
  std::vector<int32_t> path{0};
  const std::string* previous = nullptr;
  auto close_to = [&](size_t depth) {
    while (path.size() > depth + 1) {
      trie_[path.back()].subtree_end = static_cast<int32_t>(trie_.size());
      path.pop_back();
    }
  };
  for (size_t i = 0; i < sorted_.size(); ++i) {
    const std::string& b = bytes_[sorted_[i]];
    size_t common = 0;
    if (previous) {
      const size_t limit = std::min(previous->size(), b.size());
      while (common < limit && (*previous)[common] == b[common]) ++common;
    }
    close_to(common);
    for (size_t d = common; d < b.size(); ++d) {
      path.push_back(static_cast<int32_t>(trie_.size()));
      trie_.push_back({0, static_cast<int32_t>(i), static_cast<uint16_t>(d + 1), 0, static_cast<uint8_t>(b[d])});
    }
    TrieNode& end = trie_[path.back()];
    if (b.size() == path.size() - 1) {
      if (end.ending == UINT16_MAX) throw GrammarError("too many tokens with the same bytes");
      ++end.ending;
    }
    previous = &b;
  }
  close_to(0);
  trie_[0].subtree_end = static_cast<int32_t>(trie_.size());
  trie_.push_back({static_cast<int32_t>(trie_.size() + 1), static_cast<int32_t>(sorted_.size()), 0, 0, 0});  // the sentinel
}

namespace {

// Common entries come first; past this many the rest are kept by their grammars only.
constexpr size_t kMaxShared = 256;

template <typename T>
std::shared_ptr<const T> find_shared(const std::unordered_map<std::string, std::shared_ptr<const T>>& map,
                                     const std::string& key) {
  const auto it = map.find(key);
  return it == map.end() ? nullptr : it->second;
}

template <typename T>
void remember_shared(std::unordered_map<std::string, std::shared_ptr<const T>>& map, const std::string& key,
                     std::shared_ptr<const T> value) {
  if (map.size() < kMaxShared) map.emplace(key, std::move(value));
}

}  // namespace

std::shared_ptr<const RegionCore> TokenVocabulary::region_core(const std::string& key) const {
  std::lock_guard lock(region_cores_mutex_);
  return find_shared(region_cores_, key);
}

void TokenVocabulary::remember_region_core(const std::string& key, std::shared_ptr<const RegionCore> core) const {
  std::lock_guard lock(region_cores_mutex_);
  remember_shared(region_cores_, key, std::move(core));
}

std::shared_ptr<const SharedWalk> TokenVocabulary::shared_walk(const std::string& key) const {
  std::lock_guard lock(region_cores_mutex_);
  return find_shared(shared_walks_, key);
}

void TokenVocabulary::remember_shared_walk(const std::string& key, std::shared_ptr<const SharedWalk> walk) const {
  std::lock_guard lock(region_cores_mutex_);
  remember_shared(shared_walks_, key, std::move(walk));
}

std::shared_ptr<const TokenVocabulary> TokenVocabulary::from_tokenizer(const Tokenizer& tokenizer) {
  const size_t n = tokenizer.vocab().size();
  std::vector<std::string> bytes(n);
  std::vector<int32_t> ends;
  for (size_t id = 0; id < n; ++id) {
    const auto t = static_cast<int32_t>(id);
    if (tokenizer.is_end_of_generation(t)) ends.push_back(t);
    else bytes[id] = tokenizer.token_bytes(t);
  }
  return std::make_shared<const TokenVocabulary>(std::move(bytes), std::move(ends));
}

std::shared_ptr<const TokenVocabulary> TokenVocabulary::load(const std::string& path) {
  Tokenizer tokenizer(Vocab::load(path));
  return from_tokenizer(tokenizer);
}

}  // namespace tabllm::grammar
