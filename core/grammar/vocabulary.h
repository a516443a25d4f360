// The bytes of every token of a model's vocabulary, sorted into a trie: what the mask cache and the
// matcher test tokens against.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace tabllm {
class Tokenizer;
}

namespace tabllm::grammar {

struct RegionCore;  // mask_builder.h
struct SharedWalk;  // mask_builder.h

class TokenVocabulary {
 public:
  // One node per distinct token prefix, in depth-first (= lexicographic) order, then a sentinel node (the
  // root's subtree_end) whose first_token is the number of text tokens. The tokens whose bytes pass
  // through node u are the sorted positions [first_token, trie[subtree_end].first_token); those that end
  // exactly there are [first_token, first_token + ending). 16 bytes, as walks stream through all of them.
  struct TrieNode {
    int32_t subtree_end;  // index of the first node after this node's subtree
    int32_t first_token;
    uint16_t depth;       // bytes from the root (the root: 0)
    uint16_t ending;
    uint8_t byte;
  };

  // token_bytes[id]: the bytes token `id` stands for; "" for tokens that never appear in text (control
  // tokens), which a grammar never allows. end_tokens: allowed once the text is complete (EOS, EOT).
  TokenVocabulary(std::vector<std::string> token_bytes, std::vector<int32_t> end_tokens);
  static std::shared_ptr<const TokenVocabulary> from_tokenizer(const Tokenizer& tokenizer);
  // A .gguf model or vocabulary, or a tokenizer.json.
  static std::shared_ptr<const TokenVocabulary> load(const std::string& path);

  size_t size() const { return bytes_.size(); }
  size_t max_token_bytes() const { return max_token_bytes_; }
  size_t mask_words() const { return (bytes_.size() + 31) / 32; }
  const std::string& bytes(int32_t id) const { return bytes_[id]; }
  std::span<const int32_t> end_tokens() const { return end_tokens_; }
  bool is_end_token(int32_t id) const { return id >= 0 && static_cast<size_t>(id) < is_end_.size() && is_end_[id]; }

  // Ids of the tokens with bytes, in lexicographic order of their bytes.
  std::span<const int32_t> sorted() const { return sorted_; }
  std::span<const TrieNode> trie() const { return trie_; }
  // Bitset of the tokens that have bytes.
  std::span<const uint32_t> text_tokens() const { return text_tokens_; }

  // The token classes of a wide region (mask_builder.h) depend on this vocabulary and the region alone,
  // and the same few regions (a JSON string's characters above all) recur in nearly every grammar:
  // every grammar compiled for this vocabulary shares them. Thread-safe; null when not known.
  std::shared_ptr<const RegionCore> region_core(const std::string& key) const;
  void remember_region_core(const std::string& key, std::shared_ptr<const RegionCore> core) const;
  // Likewise the walks that states of a key trie share below their first bytes (mask_builder.h).
  std::shared_ptr<const SharedWalk> shared_walk(const std::string& key) const;
  void remember_shared_walk(const std::string& key, std::shared_ptr<const SharedWalk> walk) const;

 private:
  std::vector<std::string> bytes_;
  std::vector<int32_t> end_tokens_;
  std::vector<bool> is_end_;
  std::vector<int32_t> sorted_;
  std::vector<TrieNode> trie_;
  std::vector<uint32_t> text_tokens_;
  size_t max_token_bytes_ = 0;
  mutable std::mutex region_cores_mutex_;
  mutable std::unordered_map<std::string, std::shared_ptr<const RegionCore>> region_cores_;
  mutable std::unordered_map<std::string, std::shared_ptr<const SharedWalk>> shared_walks_;
};

}  // namespace tabllm::grammar
