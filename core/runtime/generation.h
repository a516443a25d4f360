// One request's generation, driven a token at a time: each step() runs the model once, samples a token
// and hands back the text that is now safe to show. Hosts that cannot take callbacks (the WebAssembly
// C ABI) stream and abort between any two steps; Session::generate is a loop over it.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/backend.h"
#include "runtime/session.h"
#include "runtime/stop_matcher.h"
#include "sampling/sampler.h"

namespace tabllm {

class Generation {
 public:
  // `cached` lists the tokens whose keys and values the backend holds from earlier requests; the prompt's
  // common prefix with it is reused, and it is kept up to date as tokens are processed. All three must
  // outlive the Generation. Throws Error for an invalid request (empty prompt, too long, bad sampling).
  Generation(const Model& model, Backend& backend, std::vector<int32_t>& cached, GenerateRequest request);
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  // Generates one token, or finishes. Sets `chunk` to the text now safe to emit — possibly empty: a
  // partial UTF-8 character or a possible stop string is held back — and returns true; the step that
  // finishes also hands over whatever was held back. Called after the finish: returns false, chunk empty.
  bool step(std::string& chunk);
  // Ends an unfinished generation now (finish reason Aborted); text held back is dropped.
  void abort();
  bool finished() const { return finished_; }
  // The text, tokens and timings so far; complete once finished().
  const GenerateResult& result() const { return result_; }

 private:
  bool out_of_room() const;  // token budget spent or context full
  // Marks the generation finished; returns the text still held back, unless aborted or stopped.
  std::string finish(FinishReason reason);

  const Model& model_;
  Backend& backend_;
  std::vector<int32_t>& cached_;
  const std::chrono::steady_clock::time_point start_;  // the request's arrival: TTFT counts from here
  const GenerateRequest request_;
  Sampler sampler_;
  StreamingDetokenizer detokenizer_;
  StopMatcher stops_;
  std::vector<int32_t> history_;  // prompt and generated tokens: what the penalties look at
  std::vector<int32_t> pending_;  // tokens to run through the model at the next step
  std::vector<float> logits_;
  std::chrono::steady_clock::time_point decode_start_;
  GenerateResult result_;
  bool finished_ = false;
};

}  // namespace tabllm
