// Persistent workers and work handed out in parts. run() publishes a ticket {generation, parts, next part}
// in one 64-bit atomic, and every thread, the caller included, claims parts from it by compare-and-swap
// until none is left. So the work goes to the threads that are actually running: on a busy machine a
// worker the system has not scheduled yet costs nothing, where a fixed share per thread would stall the
// whole product until it ran. The generation in the ticket keeps a worker that wakes late from claiming a
// part of a later run. Idle threads (workers between runs, the caller waiting for parts others hold) spin
// for a few microseconds, which covers the gaps inside a forward pass, then sleep on a futex: spinning or
// yielding any longer takes the cores that the threads holding the remaining parts need.
#include "backend/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "backend/cpu/futex.h"
#include "common/error.h"

#if defined(__linux__) && !defined(__EMSCRIPTEN__)
#include <sched.h>
#endif
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
constexpr auto kSpinTime = std::chrono::microseconds(50);

// More parts than threads let a thread that got less CPU time do less of the work; each part costs one
// compare-and-swap on a shared line.
constexpr int64_t kPartsPerThread = 8;

// Spins until done() holds or kSpinTime has passed; returns done().
template <class Done>
bool spin(Done done) {
  const Clock::time_point start = Clock::now();
  for (int spins = 1;; ++spins) {
    if (done()) return true;
    cpu_relax();
    if ((spins & 63) == 0 && Clock::now() - start > kSpinTime) return done();
  }
}

// The ticket: generation in the high 32 bits, part count and next part in 16 bits each.
constexpr int64_t kMaxParts = 0xffff;
uint64_t make_ticket(uint32_t generation, uint32_t parts) { return static_cast<uint64_t>(generation) << 32 | parts << 16; }
uint32_t generation_of(uint64_t ticket) { return static_cast<uint32_t>(ticket >> 32); }
uint32_t parts_of(uint64_t ticket) { return static_cast<uint32_t>(ticket >> 16) & 0xffff; }
uint32_t next_of(uint64_t ticket) { return static_cast<uint32_t>(ticket) & 0xffff; }

}  // namespace

struct ThreadPool::Impl {
  int n_threads = 1;
  std::vector<std::thread> workers;

  // The current run, written by the caller before it publishes the ticket; read by a thread only after
  // it has claimed a part, so while the run is still going.
  const Task* task = nullptr;
  int64_t n_items = 0, part_items = 0;

  std::atomic<uint64_t> ticket{0};
  std::atomic<uint32_t> generation{0};  // the ticket's generation; idle workers sleep on it
  std::atomic<uint32_t> idle_sleepers{0};
  std::atomic<uint32_t> done{0};  // parts finished in this run; the caller sleeps on it
  std::atomic<uint32_t> caller_sleeping{0};
  bool stopping = false;  // written before the generation bump that announces it

  std::mutex error_mutex;
  std::exception_ptr error;
  std::atomic<bool> failed{false};

  void worker_loop(int index) {
    uint32_t seen = 0;
    for (;;) {
      seen = wait_for_generation_change(seen);
      if (stopping) return;
      claim_parts(seen, index);
    }
  }

  uint32_t wait_for_generation_change(uint32_t seen) {
    uint32_t now = seen;
    if (spin([&] { return (now = generation.load(std::memory_order_acquire)) != seen; })) return now;
    // idle_sleepers and generation are both seq_cst: either publish() sees this sleeper and wakes it, or
    // this thread sees the new generation (and the futex returns at once if it changed in between).
    idle_sleepers.fetch_add(1);
    while ((now = generation.load()) == seen) futex_wait(generation, seen);
    idle_sleepers.fetch_sub(1);
    return now;
  }

  // Runs parts of run `gen` until none is left to claim.
  void claim_parts(uint32_t gen, int thread) {
    uint64_t t = ticket.load(std::memory_order_acquire);
    while (generation_of(t) == gen && next_of(t) < parts_of(t)) {
      if (!ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      run_part(next_of(t), parts_of(t), thread);
      t = ticket.load(std::memory_order_acquire);
    }
  }

  void run_part(uint32_t part, uint32_t parts, int thread) {
    if (!failed.load(std::memory_order_relaxed)) {
      const int64_t begin = part * part_items, end = std::min(n_items, begin + part_items);
      try {
        (*task)(begin, end, thread);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed.store(true, std::memory_order_relaxed);
      }
    }
    // seq_cst, paired with the caller's flag as for idle workers.
    if (done.fetch_add(1) + 1 == parts && caller_sleeping.load()) futex_wake_all(done);
  }

  void publish(uint32_t gen, uint32_t parts) {
    ticket.store(make_ticket(gen, parts), std::memory_order_release);
    generation.store(gen);
    if (idle_sleepers.load() > 0) futex_wake_all(generation);
  }

  void wait_for_parts(uint32_t parts) {
    if (spin([&] { return done.load(std::memory_order_acquire) == parts; })) return;
    caller_sleeping.store(1);
    for (uint32_t d; (d = done.load()) != parts;) futex_wait(done, d);
    caller_sleeping.store(0, std::memory_order_relaxed);
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
  impl_->publish(impl_->generation.load() + 1, 0);
  for (std::thread& t : impl_->workers) t.join();
}

int ThreadPool::size() const { return impl_->n_threads; }

void ThreadPool::run(int64_t n_items, int64_t grain, const Task& fn) {
  Impl& p = *impl_;
  if (n_items <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t pieces = (n_items + grain - 1) / grain;
  if (p.workers.empty() || pieces == 1) {
    fn(0, n_items, 0);
    return;
  }
  const int64_t wanted = std::min({pieces, p.n_threads * kPartsPerThread, kMaxParts});
  p.part_items = (pieces + wanted - 1) / wanted * grain;
  p.n_items = n_items;
  p.task = &fn;
  const auto parts = static_cast<uint32_t>((n_items + p.part_items - 1) / p.part_items);
  p.done.store(0, std::memory_order_relaxed);
  p.failed.store(false, std::memory_order_relaxed);
  const uint32_t gen = p.generation.load(std::memory_order_relaxed) + 1;
  p.publish(gen, parts);
  p.claim_parts(gen, 0);
  p.wait_for_parts(parts);
  if (p.error) {
    std::exception_ptr error = p.error;
    p.error = nullptr;
    std::rethrow_exception(error);
  }
}

int available_cpus() {
#if defined(__linux__) && !defined(__EMSCRIPTEN__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace tabllm::cpu
