// The system call behind each platform's futex_wait. std::atomic::wait would do on Linux too, but
// Emscripten 3.1.6's libc++ implements it by polling with timed sleeps, so both platforms call their
// futex directly.
#include "backend/cpu/futex.h"

#include <climits>

#if defined(__EMSCRIPTEN__)
#include <emscripten/threading.h>

#include <cmath>
#elif defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace tabllm::cpu {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) && std::atomic<uint32_t>::is_always_lock_free,
              "the futex word is the atomic's own storage");

void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
#if defined(__EMSCRIPTEN__)
  emscripten_futex_wait(&word, expected, INFINITY);
#elif defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
#else
  word.wait(expected);
#endif
}

void futex_wake_all(std::atomic<uint32_t>& word) {
#if defined(__EMSCRIPTEN__)
  emscripten_futex_wake(&word, INT_MAX);
#elif defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
#else
  word.notify_all();
#endif
}

}  // namespace tabllm::cpu
