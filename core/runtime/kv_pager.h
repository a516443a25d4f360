// Paged KV under a budget (docs/long-context.md, "Paged KV"): the backend's cache holds a hot window of
// positions; when it is full, the context shift's dropped rows are first written to a page store as KV
// pages (runtime/kv_pages.h, checksummed) instead of being lost, and pages come back into the window when
// the request's last prompt tokens name what they hold (recall_for).
//
// Nothing a store does can change an answer into a wrong one: a store that refuses a page (full, failed)
// leaves the shift a plain context shift, with a warning; a page that comes back damaged or missing is
// forgotten, with a warning, and the generation goes on without it.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace tabllm {

// Where pages go: heap, files, or a host's storage (OPFS, IndexedDB, Node files through the WebAssembly ABI).
class KvPageStore {
 public:
  virtual ~KvPageStore() = default;
  // Keeps a page's bytes under `name`; throws Error when it cannot (full, failed).
  virtual void put(const std::string& name, std::vector<uint8_t> bytes) = 0;
  // The bytes kept under `name`; throws Error when there are none.
  virtual std::vector<uint8_t> get(const std::string& name) = 0;
  virtual void remove(const std::string& name) = 0;
};

// Pages in memory, up to max_bytes (a store that refuses what does not fit, as a full disk would).
class MemoryKvPageStore final : public KvPageStore {
 public:
  explicit MemoryKvPageStore(size_t max_bytes = SIZE_MAX) : max_bytes_(max_bytes) {}
  void put(const std::string& name, std::vector<uint8_t> bytes) override;
  std::vector<uint8_t> get(const std::string& name) override;
  void remove(const std::string& name) override;
  size_t bytes() const { return bytes_; }

 private:
  size_t max_bytes_, bytes_ = 0;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> pages_;
};

struct KvPagerStats {
  int64_t pages_out = 0;   // pages written to the store
  int64_t pages_in = 0;    // pages brought back into the window
  int64_t bytes_out = 0;
  int64_t bytes_in = 0;
  double page_out_ms = 0;  // copying rows out and handing them to the store
  double rehydrate_ms = 0; // reading pages back, checking them, writing and re-rotating their rows
  int64_t failures = 0;    // pages the store refused or returned damaged (each with a warning)
  KvPagerStats operator-(const KvPagerStats& o) const {
    return {pages_out - o.pages_out, pages_in - o.pages_in, bytes_out - o.bytes_out, bytes_in - o.bytes_in,
            page_out_ms - o.page_out_ms, rehydrate_ms - o.rehydrate_ms, failures - o.failures};
  }
};

struct KvPagerOptions {
  // Positions of the logical context: a prompt and its reply may reach it, though the backend's window
  // (its context_size) is smaller.
  int64_t context = 0;
  // Positions of the window that recalled pages may take at most (0: recall nothing).
  int64_t recall_positions = 0;
  // Where recalled pages go: right after the kept rows (sinks, recalled pages, recent window, question:
  // the text's order) or at the end of the window, just before the question.
  enum class Place { AfterKeep, End } place = Place::AfterKeep;
};

// The window a kvBudget of fast memory holds: whole pages of 256 positions, at least one (so that a shift
// pages out at least ~128 positions at once); `context` when the budget holds all of it (nothing to page). Throws Error naming the
// smallest budget that works.
int64_t kv_budget_window(size_t budget_bytes, size_t bytes_per_position, int64_t context);

class KvPager {
 public:
  static constexpr int64_t kPagePositions = 256;

  KvPager(std::unique_ptr<KvPageStore> store, KvPagerOptions options);
  int64_t context() const { return options_.context; }
  int64_t recall_positions() const { return options_.recall_positions; }

  // Before backend.shift(shift): writes the rows of [keep, keep + discard) as pages of up to 256 positions.
  // Never throws; a page the store refuses is counted and warned about, and its rows are just dropped.
  // Where the backend's rows are on its host (kv_rows_on_host: WebGPU), the pages wait for their rows
  // instead: the host reads them back before it runs the shift and completes the page-out.
  void page_out(const Backend& backend, std::span<const int32_t> cached, const KvShift& shift);
  // The positions [start, start + count) whose rows a page-out waits for (count 0: none).
  struct Awaiting {
    int64_t start = 0, count = 0;
    std::vector<int32_t> tokens;
  };
  const Awaiting& awaiting() const { return awaiting_; }
  // The host has handed the awaited rows to `backend` (read_kv serves them): writes their pages. With
  // `failure` (the host could not read them back) they are dropped, as a refused page is, with a warning.
  void complete_page_out(const Backend& backend, const std::string& failure = {});

  // Recall: the pages whose tokens best match `query` (tokens shared with it, rarer ones across pages
  // weighing more), most recent first among equals, up to recall_positions and `room` positions, brought
  // back in their original order after the first `keep` rows (the rows after them move up, their keys
  // rotated by the distance) or at the end of the window (options' place), keys rotated to where they
  // land. Inserts their tokens into `cached` where their rows went and returns the positions recalled.
  int64_t recall_for(std::span<const int32_t> query, Backend& backend, std::vector<int32_t>& cached, int64_t room, int64_t keep);

  // Brings page `index` back at window positions [at, at + n); returns its tokens. Throws Error (the page is
  // forgotten, the window unchanged up to `at`) when the store lost or damaged it.
  std::vector<int32_t> recall(size_t index, Backend& backend, int64_t at);

  // Forgets every page (a new request streams its prompt again).
  void clear();

  struct Page {
    std::string name;
    int64_t start = 0;  // the window position its keys are rotated for
    std::vector<int32_t> tokens;
  };
  const std::vector<Page>& pages() const { return pages_; }
  const KvPagerStats& stats() const { return stats_; }
  // Warnings since the last take_warnings (what failed, and that the generation went on without it).
  std::vector<std::string> take_warnings();

 private:
  // Writes the rows of positions [start, start + tokens.size()) as pages (backend.read_kv answers for them).
  void write_pages(const Backend& backend, int64_t start, std::span<const int32_t> tokens);

  std::unique_ptr<KvPageStore> store_;
  KvPagerOptions options_;
  std::vector<Page> pages_;
  Awaiting awaiting_;
  uint64_t next_name_ = 0;
  KvPagerStats stats_;
  std::vector<std::string> warnings_;
};

}  // namespace tabllm
