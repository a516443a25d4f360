// Helpers shared by the native grammar benchmarks: files, timing, percentiles.
#pragma once
#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"

namespace tabllm::bench {

using Clock = std::chrono::steady_clock;

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Nearest-rank percentile, p in [0, 1].
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

inline double mean(const std::vector<double>& v) {
  double total = 0;
  for (double x : v) total += x;
  return v.empty() ? 0 : total / static_cast<double>(v.size());
}

inline double micros(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// The calling thread's CPU time in µs: unlike the wall clock, it leaves out the time the thread waits
// while other processes run, so figures taken on a busy machine stay comparable.
inline double thread_cpu_micros() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

// Times by the wall clock, or by the thread's CPU time (--cpu-time).
class Stopwatch {
 public:
  explicit Stopwatch(bool cpu_time) : cpu_time_(cpu_time) {}
  void start() {
    if (cpu_time_) cpu_start_ = thread_cpu_micros();
    else wall_start_ = Clock::now();
  }
  double elapsed_us() const { return cpu_time_ ? thread_cpu_micros() - cpu_start_ : micros(wall_start_, Clock::now()); }

 private:
  bool cpu_time_;
  double cpu_start_ = 0;
  Clock::time_point wall_start_;
};

}  // namespace tabllm::bench
