// Persistent workers woken through a generation counter. A run() costs a few microseconds because idle
// workers first spin on the counter, then poll it between sched yields (still microseconds to wake, and a
// core shared with other threads is handed over), and only after long idleness sleep on a condition
// variable. The caller works as thread 0, then waits for the workers the same way.
#include "backend/cpu/thread_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tabllm::cpu {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

using Clock = std::chrono::steady_clock;
// Forward passes call run() every few tens of microseconds. Pure spinning covers the usual gap; polling
// between yields covers longer ones (attention, sampling, host work) without starving other threads when
// there are more threads than cores.
constexpr auto kSpinTime = std::chrono::microseconds(50);
constexpr auto kYieldTime = std::chrono::milliseconds(20);

// Waits until done() holds: spinning, then yielding. Returns false if that took longer than kYieldTime.
template <class Done>
bool spin_then_yield(Done done) {
  const Clock::time_point start = Clock::now();
  for (int spins = 1;; ++spins) {
    if (done()) return true;
    cpu_relax();
    if ((spins & 63) == 0 && Clock::now() - start > kSpinTime) break;
  }
  while (!done()) {
    std::this_thread::yield();
    if (Clock::now() - start > kYieldTime) return done();
  }
  return true;
}

}  // namespace

struct ThreadPool::Impl {
  int n_threads = 1;
  std::vector<std::thread> workers;

  const std::function<void(int, int)>* job = nullptr;
  std::atomic<uint32_t> generation{0};
  std::atomic<int> pending{0};  // workers that have not finished the current job
  bool stopping = false;        // written before the generation bump that announces it

  std::mutex sleep_mutex;
  std::condition_variable wake;
  std::atomic<int> sleepers{0};

  std::mutex error_mutex;
  std::exception_ptr error;

  void worker_loop(int index) {
    uint32_t seen = 0;
    for (;;) {
      seen = wait_for_generation_change(seen);
      if (stopping) return;
      try {
        (*job)(index, n_threads);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  uint32_t wait_for_generation_change(uint32_t seen) {
    uint32_t now = seen;
    if (spin_then_yield([&] { return (now = generation.load(std::memory_order_acquire)) != seen; })) return now;
    // Sleep. sleepers and generation are both seq_cst, so either run() sees this sleeper and notifies,
    // or this thread sees the new generation before waiting.
    std::unique_lock<std::mutex> lock(sleep_mutex);
    sleepers.fetch_add(1);
    while ((now = generation.load()) == seen) wake.wait(lock);
    sleepers.fetch_sub(1);
    return now;
  }

  void publish() {
    generation.fetch_add(1);
    if (sleepers.load() > 0) {
      std::lock_guard<std::mutex> lock(sleep_mutex);  // pairs with the sleeper's check under the lock
      wake.notify_all();
    }
  }
};

ThreadPool::ThreadPool(int n_threads) : impl_(std::make_unique<Impl>()) {
  if (n_threads < 1) throw Error("thread count must be at least 1, got " + std::to_string(n_threads));
  impl_->n_threads = n_threads;
  impl_->workers.reserve(static_cast<size_t>(n_threads - 1));
  for (int i = 1; i < n_threads; ++i) impl_->workers.emplace_back([impl = impl_.get(), i] { impl->worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  if (impl_->workers.empty()) return;
  impl_->stopping = true;
  impl_->publish();
  for (std::thread& t : impl_->workers) t.join();
}

int ThreadPool::size() const { return impl_->n_threads; }

void ThreadPool::run(const std::function<void(int thread_index, int n_threads)>& fn) {
  Impl& p = *impl_;
  if (p.workers.empty()) {
    fn(0, 1);
    return;
  }
  p.job = &fn;
  p.pending.store(p.n_threads - 1, std::memory_order_relaxed);
  p.publish();

  std::exception_ptr caller_error;
  try {
    fn(0, p.n_threads);
  } catch (...) {
    caller_error = std::current_exception();
  }
  while (!spin_then_yield([&p] { return p.pending.load(std::memory_order_acquire) == 0; })) {
  }
  if (caller_error) std::rethrow_exception(caller_error);
  if (p.error) {
    std::exception_ptr worker_error = p.error;
    p.error = nullptr;
    std::rethrow_exception(worker_error);
  }
}

}  // namespace tabllm::cpu
