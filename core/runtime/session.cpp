#include "runtime/session.h"

#include <algorithm>
#include <utility>

#include "common/error.h"
#include "runtime/generation.h"

namespace tabllm {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Aborted: return "abort";
  }
  return "unknown";
}

double Timings::prefill_tokens_per_s() const {
  const int64_t n = prompt_tokens - prompt_tokens_reused;
  return prefill_ms > 0 ? 1000.0 * static_cast<double>(n) / prefill_ms : 0.0;
}

double Timings::decode_tokens_per_s() const {
  return decode_ms > 0 && generated_tokens > 1 ? 1000.0 * static_cast<double>(generated_tokens - 1) / decode_ms : 0.0;
}

HostDrivenBackend::HostDrivenBackend(int64_t context_size) : context_size_(context_size) {
  if (context_size < 1) throw Error("the context size must be at least 1 token, got " + std::to_string(context_size));
}

void HostDrivenBackend::forward(std::span<const int32_t>, int64_t, Logits, float*) {
  throw Error("this session's forward pass runs on the host: run Generation::pending() and call advance() with the logits");
}

void HostDrivenBackend::shift(const KvShift& shift) {
  if (shift_) throw Error("the host has not run the previous context shift: take it (take_shift) before the pending tokens");
  shift_ = shift;
}

std::optional<KvShift> HostDrivenBackend::take_shift() { return std::exchange(shift_, std::nullopt); }

Session::Session(const Model& model, std::unique_ptr<Backend> backend)
    : Session(model.config(), model.tokenizer(), std::move(backend)) {}

Session::Session(const ModelConfig& config, const Tokenizer& tokenizer, std::unique_ptr<Backend> backend)
    : config_(config), tokenizer_(tokenizer), backend_(std::move(backend)) {}

Session::~Session() = default;

std::unique_ptr<Generation> Session::start(GenerateRequest request) {
  return std::make_unique<Generation>(config_, tokenizer_, *backend_, cached_, std::move(request));
}

GenerateResult Session::generate(const GenerateRequest& request, const std::function<bool(std::string_view)>& on_text) {
  const auto generation = start(request);
  std::string chunk;
  while (generation->step(chunk)) {
    if (!chunk.empty() && on_text && !on_text(chunk)) {
      generation->abort();
      break;
    }
  }
  return generation->result();
}

std::vector<float> Session::logits_all(const std::vector<int32_t>& tokens) {
  if (tokens.empty()) throw Error("no tokens to evaluate");
  if (static_cast<int64_t>(tokens.size()) > backend_->context_size())
    throw Error(std::to_string(tokens.size()) + " tokens do not fit in the context of " + std::to_string(backend_->context_size()));
  std::vector<float> out(tokens.size() * static_cast<size_t>(config_.n_vocab));
  cached_.clear();  // the cache is overwritten from position 0: if forward fails half-way, nothing is reusable
  backend_->forward(tokens, 0, Logits::All, out.data());
  cached_ = tokens;
  return out;
}

}  // namespace tabllm
