// Sleeping on a 32-bit atomic word until another thread changes it: the Linux futex, Emscripten's futex
// (Atomics.wait / Atomics.notify under WebAssembly threads), or C++20 atomic wait elsewhere.
#pragma once
#include <atomic>
#include <cstdint>

namespace tabllm::cpu {

// Sleeps while `word` holds `expected`. May return early (spuriously): callers re-check in a loop.
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected);
// Wakes every thread sleeping in futex_wait on `word`.
void futex_wake_all(std::atomic<uint32_t>& word);

}  // namespace tabllm::cpu
