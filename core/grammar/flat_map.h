// Open-addressing hash map from 64-bit keys to 32-bit values: the automaton's hot lookups (transitions,
// stack nodes) without std::unordered_map's per-entry allocations.
#pragma once
#include <cstdint>
#include <vector>

namespace tabllm::grammar {

class FlatMap64 {
 public:
  FlatMap64() { rehash(64); }

  // The value stored under `key`, or nullptr.
  const int32_t* find(uint64_t key) const {
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

  void insert(uint64_t key, int32_t value) {
    if ((count_ + 1) * 4 > keys_.size() * 3) rehash(keys_.size() * 2);
    place(key, value);
  }

  size_t size() const { return count_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  std::vector<uint64_t> keys_;
  std::vector<int32_t> values_;
  size_t mask_ = 0, count_ = 0;

  static size_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }

  void place(uint64_t key, int32_t value) {
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        values_[i] = value;
        ++count_;
        return;
      }
      if (keys_[i] == key) {
        values_[i] = value;
        return;
      }
    }
  }

  void rehash(size_t capacity) {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<int32_t> old_values = std::move(values_);
    keys_.assign(capacity, kEmpty);
    values_.assign(capacity, 0);
    mask_ = capacity - 1;
    count_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i)
      if (old_keys[i] != kEmpty) place(old_keys[i], old_values[i]);
  }
};

}  // namespace tabllm::grammar
