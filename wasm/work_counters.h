// How often the module did the work that a load or a request should do once: reported by
// tabllm_debug_stats() so that tests can prove it (one header parse per load, one tokenization and one
// format parse per request), counted where the ABI asks the core for that work.
#ifndef TABLLM_WASM_WORK_COUNTERS_H
#define TABLLM_WASM_WORK_COUNTERS_H

#include <atomic>
#include <cstdint>

namespace tabllm::wasm {

struct WorkCounters {
  std::atomic<uint64_t> header_parses{0};   // GGUF headers parsed (whole files and header-only loads)
  std::atomic<uint64_t> tokenizations{0};   // texts tokenized: prompts and tabllm_tokenize
  std::atomic<uint64_t> format_parses{0};   // response_format objects read (OutputFormat::from_json)
};

inline WorkCounters work_counters;

}  // namespace tabllm::wasm

#endif
