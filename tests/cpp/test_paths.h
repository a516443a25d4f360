// Where tests find shared data (../shared beside the repository, or $TABLLM_SHARED) and the build's
// generated files (models converted at test time live in build/models).
#pragma once
#include <cstdlib>
#include <string>

namespace tabllm::test {

inline std::string shared_dir() {
  if (const char* env = std::getenv("TABLLM_SHARED")) return env;
  return std::string(TABLLM_SOURCE_DIR) + "/../shared";
}

inline std::string build_dir() { return TABLLM_BINARY_DIR; }

inline std::string source_dir() { return TABLLM_SOURCE_DIR; }

}  // namespace tabllm::test
