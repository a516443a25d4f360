#include "runtime/session.h"

#include <algorithm>
#include <chrono>

#include "common/error.h"
#include "runtime/stop_matcher.h"

namespace tabllm {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

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

Session::Session(const Model& model, std::unique_ptr<Backend> backend)
    : model_(model), backend_(std::move(backend)), logits_(static_cast<size_t>(model.config().n_vocab)) {}

GenerateResult Session::generate(const GenerateRequest& req, const std::function<bool(std::string_view)>& on_text) {
  const auto t0 = std::chrono::steady_clock::now();
  const Tokenizer& tok = model_.tokenizer();
  if (req.prompt.empty()) throw Error("the prompt is empty: give some text to continue");
  if (req.max_tokens < 0) throw Error("max_tokens must be >= 0, got " + std::to_string(req.max_tokens));
  std::vector<int32_t> history = tok.encode(req.prompt, req.add_bos);
  if (history.empty()) throw Error("the prompt produced no tokens");
  const int64_t ctx = backend_->context_size();
  if (static_cast<int64_t>(history.size()) >= ctx)
    throw Error("the prompt has " + std::to_string(history.size()) + " tokens but the context holds " + std::to_string(ctx) +
                " (shorten the prompt or use a larger context)");
  Sampler sampler(req.sampling, static_cast<int32_t>(model_.config().n_vocab));

  GenerateResult result;
  result.timings.prompt_tokens = static_cast<int64_t>(history.size());
  // Reuse the cached prefix; at least one token must be processed to get logits.
  size_t reuse = 0;
  while (reuse < cached_.size() && reuse < history.size() && cached_[reuse] == history[reuse]) ++reuse;
  reuse = std::min(reuse, history.size() - 1);
  result.timings.prompt_tokens_reused = static_cast<int64_t>(reuse);
  cached_.resize(reuse);

  StreamingDetokenizer detok(tok);
  StopMatcher stops(req.stop);
  auto emit = [&](const std::string& text) {
    if (text.empty()) return true;
    result.text += text;
    return on_text ? on_text(text) : true;
  };

  std::vector<int32_t> pending(history.begin() + static_cast<std::ptrdiff_t>(reuse), history.end());
  auto t_decode = t0;
  result.finish = FinishReason::Length;
  for (int i = 0; i < req.max_tokens; ++i) {
    if (static_cast<int64_t>(cached_.size() + pending.size()) > ctx) break;  // context full → "length"
    backend_->forward(pending, static_cast<int64_t>(cached_.size()), Logits::Last, logits_.data());
    cached_.insert(cached_.end(), pending.begin(), pending.end());
    const int32_t next = sampler.sample(logits_.data(), history);
    if (i == 0) {
      result.timings.prefill_ms = result.timings.ttft_ms = ms_since(t0);
      t_decode = std::chrono::steady_clock::now();
    }
    result.timings.generated_tokens++;
    if (!req.ignore_eos && tok.is_end_of_generation(next)) {
      result.finish = FinishReason::Stop;
      break;
    }
    history.push_back(next);
    result.tokens.push_back(next);
    pending.assign(1, next);
    if (!emit(stops.push(detok.push(next)))) {
      result.finish = FinishReason::Aborted;
      break;
    }
    if (stops.stopped()) {
      result.finish = FinishReason::Stop;
      break;
    }
  }
  if (result.finish != FinishReason::Aborted && !stops.stopped()) emit(stops.push(detok.finish()) + stops.flush());
  if (result.timings.generated_tokens > 0) result.timings.decode_ms = ms_since(t_decode);
  return result;
}

std::vector<float> Session::logits_all(const std::vector<int32_t>& tokens) {
  if (tokens.empty()) throw Error("no tokens to evaluate");
  if (static_cast<int64_t>(tokens.size()) > backend_->context_size())
    throw Error(std::to_string(tokens.size()) + " tokens do not fit in the context of " + std::to_string(backend_->context_size()));
  std::vector<float> out(tokens.size() * static_cast<size_t>(model_.config().n_vocab));
  backend_->forward(tokens, 0, Logits::All, out.data());
  cached_ = tokens;
  return out;
}

}  // namespace tabllm
