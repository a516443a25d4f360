// A fixed set of worker threads for data-parallel loops in the forward pass. The calling thread takes
// part, so ThreadPool(1) runs everything inline. run() returns when every part of the work is done.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

namespace tabllm::cpu {

class ThreadPool {
 public:
  // fn(begin, end, thread): items [begin, end), on thread `thread` in [0, size()) (0 is the caller), so
  // that per-thread scratch can be indexed by it.
  using Task = std::function<void(int64_t begin, int64_t end, int thread)>;

  explicit ThreadPool(int n_threads);  // n_threads >= 1, including the caller
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // Splits [0, n_items) into a few parts per thread, each a whole multiple of `grain` items (the last may
  // be shorter), and hands them out one at a time to whichever thread asks next: a thread that the
  // system deschedules holds up at most the part it has, and one that wakes late finds the work done.
  // No allocation happens per call. The first exception thrown by fn is rethrown here once every part
  // has finished (parts not yet started are skipped).
  void run(int64_t n_items, int64_t grain, const Task& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The CPUs this process may run on (its affinity mask where the system has one), at least 1: the
// default thread count of the command-line tools.
int available_cpus();

}  // namespace tabllm::cpu
