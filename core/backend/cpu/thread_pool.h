// A fixed set of worker threads for data-parallel loops in the forward pass. The calling thread takes
// part, so ThreadPool(1) runs everything inline. run() returns when every task is done.
#pragma once
#include <functional>
#include <memory>

namespace tabllm::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads >= 1, including the caller
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // Calls fn(thread_index, n_threads) once on each thread (thread_index 0 is the caller).
  // The function splits its own work; no allocation happens per call.
  void run(const std::function<void(int thread_index, int n_threads)>& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tabllm::cpu
