// Stop strings in streamed text: text that could still become a stop string is held back until it
// either completes one (generation ends, the stop string is not emitted) or can no longer match.
#pragma once
#include <string>
#include <vector>

namespace tabllm {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  // Adds generated text; returns the text now safe to emit. After a match, `stopped()` is true and
  // the returned text ends right before the stop string.
  std::string push(const std::string& text);
  std::string flush();  // end of generation: releases what was held back
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace tabllm
