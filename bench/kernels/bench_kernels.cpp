// Matmul throughput on the shapes of TinyLlama-1.1B (dim 2048, ffn 5632, 22 layers, vocab 32000):
//   tabllm_bench_kernels [--types q4_0,q8_0,...] [--threads 1,2] [--prefill-tokens 64] [--seconds 0.3]
//                        [--path simd|scalar] [--simd LEVEL] [--cold-mb 512] [--json]
// --simd forces one SIMD level of this CPU or engine (avx2, avx512, wasm-simd128, wasm-relaxed-simd).
// Decode (1 token) streams weights from memory, as in a real forward pass: each shape rotates over enough
// copies of its matrix to exceed the last-level cache (--cold-mb 1 keeps them in cache instead: the
// kernels' compute bound). Prefill multiplies a batch of tokens. Prints GB/s
// of weights read, GMAC/s, and the tok/s a forward pass of these matmuls alone would reach. Each number
// is the best of several rounds, so other load on the machine disturbs it less. First, for each thread
// count, the rate at which a plain sum reads 512 MB: the memory's ceiling, which decode's GB/s (any
// engine's decode on this machine) can approach but not pass.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/simd_dispatch.h"
#include "common/error.h"
#include "quant/quantize.h"

using namespace tabllm;
using namespace tabllm::cpu;

namespace {

struct Shape {
  const char* name;
  int64_t rows, cols;
  int per_token;  // how many such matmuls one token runs through the whole model
};

constexpr int kLayers = 22;
const Shape kShapes[] = {
    {"attn_q/o 2048x2048", 2048, 2048, 2 * kLayers}, {"attn_k/v 256x2048", 256, 2048, 2 * kLayers},
    {"ffn_up/gate 5632x2048", 5632, 2048, 2 * kLayers}, {"ffn_down 2048x5632", 2048, 5632, kLayers},
    {"output 32000x2048", 32000, 2048, 1},
};

constexpr size_t kMemoryBytes = size_t{512} << 20;  // more than any last-level cache

struct Options {
  std::vector<TensorType> types{TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K, TensorType::F16};
  std::vector<int> threads{1, 2};
  int64_t prefill_tokens = 64;
  double seconds = 0.3;
  Path path = Path::Simd;
  size_t cold_bytes = kMemoryBytes;  // decode rotates over this much weight data
  bool json = false;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) parts.push_back(part);
  return parts;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--types") {
      o.types.clear();
      for (const std::string& t : split(value())) o.types.push_back(parse_type_name(t));
    } else if (arg == "--threads") {
      o.threads.clear();
      for (const std::string& t : split(value())) o.threads.push_back(std::stoi(t));
    } else if (arg == "--prefill-tokens") {
      o.prefill_tokens = std::stoll(value());
    } else if (arg == "--seconds") {
      o.seconds = std::stod(value());
    } else if (arg == "--path") {
      o.path = value() == "scalar" ? Path::Scalar : Path::Simd;
    } else if (arg == "--simd") {
      const std::string name = value();
      bool found = false;
      for (SimdLevel level : supported_simd_levels()) {
        if (name == simd_level_name(level)) {
          set_simd_level_for_testing(level);
          found = true;
        }
      }
      if (!found) throw Error("--simd " + name + ": not a SIMD level this CPU or engine runs");
    } else if (arg == "--cold-mb") {
      o.cold_bytes = static_cast<size_t>(std::stoll(value())) << 20;
    } else if (arg == "--json") {
      o.json = true;
    } else {
      throw Error("unknown option " + arg + " (see the comment at the top of bench_kernels.cpp)");
    }
  }
  return o;
}

// Random weights (normal, sigma 0.02) encoded by the type's own quantizer.
std::vector<uint8_t> random_matrix(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  const size_t row_bytes = type_row_bytes(type, cols);
  std::vector<uint8_t> w(row_bytes * rows);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = normal(rng);
    quantize_row(type, row.data(), &w[r * row_bytes], cols);
  }
  return w;
}

struct Result {
  double seconds_per_call, gbytes_per_s, gmacs_per_s;
};

Result measure(TensorType type, const Shape& shape, int64_t n_tokens, ThreadPool& pool, const Options& o,
               std::mt19937& rng) {
  const size_t bytes = type_row_bytes(type, shape.cols) * shape.rows;
  // Decode reads cold weights: enough distinct copies to overflow the caches. Prefill reuses one copy.
  const size_t copies = n_tokens == 1 ? std::max<size_t>(1, (o.cold_bytes + bytes - 1) / bytes) : 1;
  const std::vector<uint8_t> first = random_matrix(type, shape.rows, shape.cols, rng);
  std::vector<uint8_t> all(bytes * copies);
  for (size_t c = 0; c < copies; ++c) std::memcpy(&all[c * bytes], first.data(), bytes);
  std::vector<float> x(shape.cols * n_tokens), y(shape.rows * n_tokens);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  Scratch scratch;

  auto call = [&](size_t c) {
    matmul(type, &all[(c % copies) * bytes], shape.rows, shape.cols, x.data(), n_tokens, y.data(), pool, scratch, o.path);
  };
  for (size_t c = 0; c < std::min<size_t>(copies, 4); ++c) call(c);  // warm up (scratch, pool, clocks)
  // The best of several short rounds: other processes on a shared machine only ever slow a round down.
  using Clock = std::chrono::steady_clock;
  constexpr int kRounds = 7;
  double per_call = 1e30;
  size_t calls = 0;
  for (int round = 0; round < kRounds; ++round) {
    const Clock::time_point start = Clock::now();
    size_t round_calls = 0;
    double elapsed = 0.0;
    do {
      call(calls++);
      ++round_calls;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < o.seconds / kRounds || round_calls < 2);
    per_call = std::min(per_call, elapsed / static_cast<double>(round_calls));
  }
  const double macs = static_cast<double>(shape.rows) * shape.cols * n_tokens;
  return {per_call, static_cast<double>(bytes) / per_call / 1e9, macs / per_call / 1e9};
}

// GB/s of a plain sum over kMemoryBytes split among the pool's threads, best of several rounds. Eight
// independent 64-bit sums keep enough loads in flight for the memory, not the adds, to bound it.
double memory_read_gbps(ThreadPool& pool) {
  std::vector<uint64_t> data(kMemoryBytes / sizeof(uint64_t), 1);
  std::vector<uint64_t> sums(static_cast<size_t>(pool.size()) * 8, 0);
  double best = 0.0;
  for (int round = 0; round < 8; ++round) {
    const auto start = std::chrono::steady_clock::now();
    pool.run(static_cast<int64_t>(data.size() / 8), 4096, [&](int64_t begin, int64_t end, int thread) {
      uint64_t s[8] = {};
      for (int64_t i = begin * 8; i < end * 8; i += 8) {
        for (int j = 0; j < 8; ++j) s[j] += data[static_cast<size_t>(i + j)];
      }
      for (int j = 0; j < 8; ++j) sums[static_cast<size_t>(thread) * 8 + j] += s[j];
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (round > 0) best = std::max(best, static_cast<double>(kMemoryBytes) / seconds / 1e9);  // round 0 faults pages in
  }
  if (sums[0] == 0 && data.size() > 8) std::printf(" ");  // keeps the sums observable
  return best;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  std::mt19937 rng(42);
  std::printf("simd level: %s (path %s)\n", simd_level().c_str(), o.path == Path::Simd ? "simd" : "scalar");
  for (int threads : o.threads) {
    ThreadPool pool(threads);
    const double gbps = memory_read_gbps(pool);
    std::printf("memory read, %d thread%s: %.2f GB/s\n", threads, threads == 1 ? "" : "s", gbps);
    if (o.json) std::printf("{\"memory_read\":true,\"threads\":%d,\"gbps\":%.3f}\n", threads, gbps);
  }
  std::printf("%-6s %-3s %-8s %-24s %10s %9s %9s\n", "type", "thr", "mode", "shape", "us/call", "GB/s", "GMAC/s");
  for (TensorType type : o.types) {
    for (int threads : o.threads) {
      ThreadPool pool(threads);
      for (int64_t n_tokens : {int64_t{1}, o.prefill_tokens}) {
        const char* mode = n_tokens == 1 ? "decode" : "prefill";
        double token_seconds = 0.0;
        for (const Shape& shape : kShapes) {
          const Result r = measure(type, shape, n_tokens, pool, o, rng);
          token_seconds += r.seconds_per_call * shape.per_token / static_cast<double>(n_tokens);
          std::printf("%-6s %-3d %-8s %-24s %10.1f %9.2f %9.2f\n", type_traits(type).name, threads, mode, shape.name,
                      r.seconds_per_call * 1e6, r.gbytes_per_s, r.gmacs_per_s);
          if (o.json) {
            std::printf("{\"type\":\"%s\",\"threads\":%d,\"tokens\":%lld,\"rows\":%lld,\"cols\":%lld,\"us\":%.2f,"
                        "\"gbps\":%.3f,\"gmacs\":%.3f}\n",
                        type_traits(type).name, threads, static_cast<long long>(n_tokens),
                        static_cast<long long>(shape.rows), static_cast<long long>(shape.cols),
                        r.seconds_per_call * 1e6, r.gbytes_per_s, r.gmacs_per_s);
          }
        }
        std::printf("%-6s %-3d %-8s %-24s %10.1f  => %.1f tok/s (matmuls only)\n", type_traits(type).name, threads, mode,
                    "model per token", token_seconds * 1e6, 1.0 / token_seconds);
        if (o.json) {
          std::printf("{\"type\":\"%s\",\"threads\":%d,\"tokens\":%lld,\"model_us_per_token\":%.1f,\"model_tokens_per_s\":%.2f}\n",
                      type_traits(type).name, threads, static_cast<long long>(n_tokens), token_seconds * 1e6, 1.0 / token_seconds);
        }
      }
    }
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
