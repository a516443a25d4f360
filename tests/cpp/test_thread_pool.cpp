// The CPU thread pool: every item done once per run in grain-aligned parts, many runs in a row, workers
// woken from sleep, exceptions, more threads than cores, and a stalled thread holding up only its part.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "backend/cpu/thread_pool.h"
#include "common/error.h"

namespace tabllm::cpu {
namespace {

using Clock = std::chrono::steady_clock;

// Runs [0, n_items) in parts of `grain` and checks that each item was done exactly once, on a valid
// thread, in parts that start on the grain.
void expect_each_item_once(ThreadPool& pool, int64_t n_items, int64_t grain) {
  std::vector<std::atomic<int>> count(static_cast<size_t>(n_items));
  std::atomic<int> bad_parts{0};
  pool.run(n_items, grain, [&](int64_t begin, int64_t end, int thread) {
    if (begin % grain != 0 || begin >= end || end > n_items || thread < 0 || thread >= pool.size()) {
      bad_parts.fetch_add(1);
      return;
    }
    for (int64_t i = begin; i < end; ++i) count[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed);
  });
  ASSERT_EQ(bad_parts.load(), 0) << n_items << " items, grain " << grain;
  for (int64_t i = 0; i < n_items; ++i) ASSERT_EQ(count[static_cast<size_t>(i)].load(), 1) << "item " << i << " of " << n_items;
}

TEST(ThreadPool, DoesEveryItemOnceInPartsOnTheGrain) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n_items : {1, 2, 7, 64, 1000, 70001}) {
      for (int64_t grain : {1, 4, 16, 128}) expect_each_item_once(pool, n_items, grain);
    }
  }
}

TEST(ThreadPool, ManyRunsInARow) {
  ThreadPool pool(4);
  std::vector<int> out(4000, 0);
  for (int run = 1; run <= 1000; ++run) {
    pool.run(static_cast<int64_t>(out.size()), 1, [&](int64_t begin, int64_t end, int) {
      for (int64_t k = begin; k < end; ++k) out[static_cast<size_t>(k)] = run;
    });
    ASSERT_TRUE(std::all_of(out.begin(), out.end(), [run](int v) { return v == run; })) << run;
  }
}

TEST(ThreadPool, EmptyRunsCallNothing) {
  ThreadPool pool(2);
  bool called = false;
  pool.run(0, 4, [&](int64_t, int64_t, int) { called = true; });
  EXPECT_FALSE(called);
}

TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(2);
  std::atomic<int> threads_seen{0};
  for (int attempt = 0; attempt < 20 && threads_seen.load() != 3; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the spin: the worker sleeps on the futex
    // Parts long enough that the caller cannot finish them all before the woken worker claims one.
    pool.run(64, 1, [&](int64_t, int64_t, int thread) {
      threads_seen.fetch_or(1 << thread);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }
  EXPECT_EQ(threads_seen.load(), 3) << "the worker never took a part";
}

TEST(ThreadPool, PropagatesExceptionsAndStaysUsable) {
  ThreadPool pool(3);
  // The failing part is named by item, not by thread: which thread claims a part depends on scheduling.
  for (int64_t failing : {0, 150, 299}) {
    EXPECT_THROW(pool.run(300, 1,
                          [&](int64_t begin, int64_t end, int) {
                            if (begin <= failing && failing < end) throw std::runtime_error("part failed");
                            std::this_thread::sleep_for(std::chrono::microseconds(200));
                          }),
                 std::runtime_error);
  }
  expect_each_item_once(pool, 1000, 1);
  EXPECT_THROW(ThreadPool bad(0), Error);
}

// More threads than this machine has cores: results stay exact and runs keep finishing.
TEST(ThreadPool, OversubscribedThreadsStayCorrect) {
  const int threads = 4 * available_cpus();
  ThreadPool pool(threads);
  std::vector<double> sums(512);
  for (int run = 0; run < 300; ++run) {
    pool.run(static_cast<int64_t>(sums.size()), 4, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) {
        double s = 0;
        for (int k = 0; k < 200; ++k) s += static_cast<double>(i * k + run);
        sums[static_cast<size_t>(i)] = s;
      }
    });
    for (size_t i = 0; i < sums.size(); ++i) ASSERT_EQ(sums[i], 200.0 * run + 19900.0 * static_cast<double>(i)) << run;
  }
}

// A worker that stops (as a descheduled thread does) holds up its own part only: the caller does the
// rest, and the run takes about one stalled part, not the worker's whole share.
TEST(ThreadPool, AStalledWorkerHoldsUpOnlyItsPart) {
  constexpr auto kStall = std::chrono::milliseconds(150);
  ThreadPool pool(2);
  std::atomic<int> worker_parts{0}, caller_parts{0};
  const Clock::time_point start = Clock::now();
  pool.run(64, 1, [&](int64_t, int64_t, int thread) {
    if (thread == 0) {
      caller_parts.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      return;
    }
    worker_parts.fetch_add(1);
    std::this_thread::sleep_for(kStall);
  });
  const auto took = Clock::now() - start;
  EXPECT_LE(worker_parts.load(), 1);
  EXPECT_GE(caller_parts.load(), 1);
  EXPECT_LT(took, 3 * kStall);
}

TEST(ThreadPool, AvailableCpusIsPositive) { EXPECT_GE(available_cpus(), 1); }

}  // namespace
}  // namespace tabllm::cpu
