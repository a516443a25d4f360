// One exception type for everything the core reports to its hosts: a message that says what was wrong
// and, where possible, how to fix it. Hosts print it as one line (CLI) or map it to an API error (JS).
#pragma once
#include <stdexcept>
#include <string>

namespace tabllm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace tabllm
