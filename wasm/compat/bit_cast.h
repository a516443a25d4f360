// Force-included into every WebAssembly compile: Emscripten 3.1.6 ships libc++ 13, which lacks C++20's
// std::bit_cast (libc++ 14 has it). Clang's builtin does the same job.
#pragma once
#include <bit>

#if defined(_LIBCPP_VERSION) && _LIBCPP_VERSION < 14000
namespace std {
template <class To, class From>
constexpr To bit_cast(const From& from) noexcept {
  static_assert(sizeof(To) == sizeof(From), "bit_cast needs types of the same size");
  return __builtin_bit_cast(To, from);
}
}  // namespace std
#endif
