#include "runtime/kv_pager.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/error.h"
#include "runtime/kv_pages.h"

namespace tabllm {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void MemoryKvPageStore::put(const std::string& name, std::vector<uint8_t> bytes) {
  if (bytes_ + bytes.size() > max_bytes_)
    throw Error("the KV page store is full (" + std::to_string(bytes_) + " of " + std::to_string(max_bytes_) + " bytes)");
  bytes_ += bytes.size();
  pages_.emplace_back(name, std::move(bytes));
}

std::vector<uint8_t> MemoryKvPageStore::get(const std::string& name) {
  for (const auto& [n, bytes] : pages_)
    if (n == name) return bytes;
  throw Error("no KV page " + name + " in the store");
}

void MemoryKvPageStore::remove(const std::string& name) {
  std::erase_if(pages_, [&](const auto& p) {
    if (p.first != name) return false;
    bytes_ -= p.second.size();
    return true;
  });
}

int64_t kv_budget_window(size_t budget_bytes, size_t bytes_per_position, int64_t context) {
  if (bytes_per_position == 0) throw Error("this backend's KV cache cannot be paged (its host keeps it)");
  const auto positions = static_cast<int64_t>(budget_bytes / bytes_per_position);
  if (positions >= context) return context;
  const int64_t window = positions / KvPager::kPagePositions * KvPager::kPagePositions;
  const int64_t least = KvPager::kPagePositions;
  if (window < least)
    throw Error("a kvBudget of " + std::to_string(budget_bytes) + " bytes holds " + std::to_string(positions) + " positions of this model's KV (" +
                std::to_string(bytes_per_position) + " bytes each); it must hold at least " + std::to_string(least) + ": give at least " +
                std::to_string(static_cast<size_t>(least) * bytes_per_position) + " bytes, or no kvBudget");
  return window;
}

KvPager::KvPager(std::unique_ptr<KvPageStore> store, KvPagerOptions options) : store_(std::move(store)), options_(options) {
  if (!store_) throw Error("a KV pager needs a page store");
  if (options_.context < 1) throw Error("a KV pager's context must be at least 1 position, got " + std::to_string(options_.context));
  if (options_.recall_positions < 0) throw Error("recall_positions must be >= 0, got " + std::to_string(options_.recall_positions));
}

void KvPager::page_out(const Backend& backend, std::span<const int32_t> cached, const KvShift& shift) {
  const auto dropped = cached.subspan(static_cast<size_t>(shift.keep), static_cast<size_t>(shift.discard));
  if (!backend.kv_rows_on_host()) {
    write_pages(backend, shift.keep, dropped);
    return;
  }
  // The host takes one shift at a time (HostDrivenBackend::shift), so an earlier page-out still waiting
  // means its host never read the rows back: they are gone.
  if (awaiting_.count > 0) complete_page_out(backend, "the host ran the shift without reading its rows back");
  awaiting_ = {shift.keep, shift.discard, {dropped.begin(), dropped.end()}};
}

void KvPager::complete_page_out(const Backend& backend, const std::string& failure) {
  const Awaiting a = std::exchange(awaiting_, {});
  if (a.count == 0) return;
  if (failure.empty()) {
    write_pages(backend, a.start, a.tokens);
    return;
  }
  stats_.failures += (a.count + kPagePositions - 1) / kPagePositions;
  warnings_.push_back("KV pages: " + failure + "; positions [" + std::to_string(a.start) + ", " + std::to_string(a.start + a.count) +
                      ") were dropped as a plain context shift drops them");
}

void KvPager::write_pages(const Backend& backend, int64_t first, std::span<const int32_t> dropped) {
  const auto t0 = std::chrono::steady_clock::now();
  const KvLayout layout = backend.kv_layout();
  std::vector<uint8_t> rows;
  const int64_t end = first + static_cast<int64_t>(dropped.size());
  for (int64_t start = first; start < end; start += kPagePositions) {
    const int64_t count = std::min(kPagePositions, end - start);
    const auto tokens = dropped.subspan(static_cast<size_t>(start - first), static_cast<size_t>(count));
    Page page{"kv-" + std::to_string(next_name_++), start, {tokens.begin(), tokens.end()}};
    try {
      rows.resize(layout.bytes_per_position() * static_cast<size_t>(count));
      backend.read_kv(start, count, rows.data());
      std::vector<uint8_t> bytes = encode_kv_page(layout, start, tokens, rows);
      const auto size = static_cast<int64_t>(bytes.size());
      store_->put(page.name, std::move(bytes));
      pages_.push_back(std::move(page));
      stats_.pages_out++;
      stats_.bytes_out += size;
    } catch (const std::exception& e) {
      stats_.failures++;
      warnings_.push_back(std::string("KV page store: ") + e.what() + "; positions [" + std::to_string(start) + ", " +
                          std::to_string(start + count) + ") were dropped as a plain context shift drops them");
    }
  }
  stats_.page_out_ms += ms_since(t0);
}

std::vector<int32_t> KvPager::recall(size_t index, Backend& backend, int64_t at) {
  if (index >= pages_.size()) throw Error("no KV page " + std::to_string(index) + " (the pager holds " + std::to_string(pages_.size()) + ")");
  const auto t0 = std::chrono::steady_clock::now();
  const Page page = pages_[index];
  pages_.erase(pages_.begin() + static_cast<std::ptrdiff_t>(index));  // once back (or lost), it is no longer out
  std::vector<uint8_t> bytes;
  try {
    bytes = store_->get(page.name);
    store_->remove(page.name);
  } catch (const std::exception& e) {
    stats_.failures++;
    throw Error(std::string("KV page store: ") + e.what());
  }
  const KvPage decoded = [&] {
    try {
      return decode_kv_page(bytes);
    } catch (const Error&) {
      stats_.failures++;
      throw;
    }
  }();
  if (!(decoded.layout == backend.kv_layout()) || decoded.start != page.start || decoded.tokens != page.tokens) {
    stats_.failures++;
    throw Error("the KV page store returned another page than " + page.name + " (damaged)");
  }
  const auto count = static_cast<int64_t>(decoded.tokens.size());
  backend.write_kv(at, count, decoded.rows.data());
  backend.rotate_kv(at, count, at - decoded.start);
  stats_.pages_in++;
  stats_.bytes_in += static_cast<int64_t>(bytes.size());
  stats_.rehydrate_ms += ms_since(t0);
  return decoded.tokens;
}

int64_t KvPager::recall_for(std::span<const int32_t> query, Backend& backend, std::vector<int32_t>& cached, int64_t room, int64_t keep) {
  const int64_t budget = std::min(options_.recall_positions, room);
  if (budget <= 0 || pages_.empty() || query.empty()) return 0;
  // Score: the query's distinct tokens each page holds, weighted by rarity across pages (idf), as a
  // retrieval index would; common tokens (spaces, punctuation) found in every page weigh almost nothing.
  const std::unordered_set<int32_t> wanted(query.begin(), query.end());
  std::unordered_map<int32_t, int> pages_with;
  std::vector<std::unordered_set<int32_t>> held(pages_.size());
  for (size_t i = 0; i < pages_.size(); ++i) {
    for (int32_t t : pages_[i].tokens)
      if (wanted.count(t)) held[i].insert(t);
    for (int32_t t : held[i]) pages_with[t]++;
  }
  std::vector<double> score(pages_.size(), 0.0);
  const double n = static_cast<double>(pages_.size());
  for (size_t i = 0; i < pages_.size(); ++i)
    for (int32_t t : held[i]) score[i] += std::log(1.0 + n / pages_with[t]);
  std::vector<size_t> order(pages_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b] || (score[a] == score[b] && a > b); });
  std::vector<size_t> chosen;
  int64_t positions = 0;
  for (size_t i : order) {
    if (score[i] <= 0) break;
    const auto count = static_cast<int64_t>(pages_[i].tokens.size());
    if (positions + count > budget) continue;
    chosen.push_back(i);
    positions += count;
  }
  // Back in the order they went out (the text's order); each recall takes its page off the list.
  std::sort(chosen.begin(), chosen.end());
  std::vector<std::string> names;
  for (size_t i : chosen) names.push_back(pages_[i].name);
  int64_t recalled = 0;
  const auto end = static_cast<int64_t>(cached.size());
  for (const std::string& name : names) {
    const auto it = std::find_if(pages_.begin(), pages_.end(), [&](const Page& p) { return p.name == name; });
    try {
      const std::vector<int32_t> tokens = recall(static_cast<size_t>(it - pages_.begin()), backend, static_cast<int64_t>(cached.size()));
      cached.insert(cached.end(), tokens.begin(), tokens.end());
      recalled += static_cast<int64_t>(tokens.size());
    } catch (const Error& e) {
      warnings_.push_back(std::string(e.what()) + "; the generation goes on without " + name);
    }
  }
  keep = std::clamp<int64_t>(keep, 0, end);
  if (options_.place == KvPagerOptions::Place::AfterKeep && recalled > 0 && keep < end) {
    // Swap the blocks [keep, end) and [end, end + recalled), each rotated by how far it moves.
    const auto t0 = std::chrono::steady_clock::now();
    const size_t per = backend.kv_layout().bytes_per_position();
    std::vector<uint8_t> window(per * static_cast<size_t>(end - keep)), back(per * static_cast<size_t>(recalled));
    backend.read_kv(keep, end - keep, window.data());
    backend.read_kv(end, recalled, back.data());
    backend.write_kv(keep, recalled, back.data());
    backend.rotate_kv(keep, recalled, keep - end);
    backend.write_kv(keep + recalled, end - keep, window.data());
    backend.rotate_kv(keep + recalled, end - keep, recalled);
    std::rotate(cached.begin() + keep, cached.begin() + end, cached.end());
    stats_.rehydrate_ms += ms_since(t0);
  }
  return recalled;
}

void KvPager::clear() {
  awaiting_ = {};
  for (const Page& p : pages_) {
    try {
      store_->remove(p.name);
    } catch (const std::exception&) {  // a page the store cannot delete is left to its own eviction
    }
  }
  pages_.clear();
}

std::vector<std::string> KvPager::take_warnings() { return std::exchange(warnings_, {}); }

}  // namespace tabllm
