#include "runtime/generation.h"

#include <algorithm>

#include "common/error.h"

namespace tabllm {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Generation::Generation(const Model& model, Backend& backend, std::vector<int32_t>& cached, GenerateRequest request)
    : model_(model),
      backend_(backend),
      cached_(cached),
      start_(std::chrono::steady_clock::now()),
      request_(std::move(request)),
      sampler_(request_.sampling, static_cast<int32_t>(model.config().n_vocab)),
      detokenizer_(model.tokenizer()),
      stops_(request_.stop),
      logits_(static_cast<size_t>(model.config().n_vocab)),
      decode_start_(start_) {
  if (request_.prompt.empty()) throw Error("the prompt is empty: give some text to continue");
  if (request_.max_tokens < 0) throw Error("max_tokens must be >= 0, got " + std::to_string(request_.max_tokens));
  history_ = model_.tokenizer().encode(request_.prompt, request_.add_bos);
  if (history_.empty()) throw Error("the prompt produced no tokens");
  const int64_t ctx = backend_.context_size();
  if (static_cast<int64_t>(history_.size()) >= ctx)
    throw Error("the prompt has " + std::to_string(history_.size()) + " tokens but the context holds " + std::to_string(ctx) +
                " (shorten the prompt or use a larger context)");
  result_.timings.prompt_tokens = static_cast<int64_t>(history_.size());
  // Reuse the cached prefix; at least one token must be processed to get logits.
  size_t reuse = 0;
  while (reuse < cached_.size() && reuse < history_.size() && cached_[reuse] == history_[reuse]) ++reuse;
  reuse = std::min(reuse, history_.size() - 1);
  result_.timings.prompt_tokens_reused = static_cast<int64_t>(reuse);
  cached_.resize(reuse);
  pending_.assign(history_.begin() + static_cast<std::ptrdiff_t>(reuse), history_.end());
}

bool Generation::step(std::string& chunk) {
  chunk.clear();
  if (finished_) return false;
  if (out_of_room()) {  // max_tokens 0
    chunk = finish(FinishReason::Length);
    return true;
  }
  backend_.forward(pending_, static_cast<int64_t>(cached_.size()), Logits::Last, logits_.data());
  cached_.insert(cached_.end(), pending_.begin(), pending_.end());
  const int32_t next = sampler_.sample(logits_.data(), history_);
  if (result_.timings.generated_tokens == 0) {
    result_.timings.prefill_ms = result_.timings.ttft_ms = ms_since(start_);
    decode_start_ = std::chrono::steady_clock::now();
  }
  result_.timings.generated_tokens++;
  if (!request_.ignore_eos && model_.tokenizer().is_end_of_generation(next)) {
    chunk = finish(FinishReason::Stop);
    return true;
  }
  history_.push_back(next);
  result_.tokens.push_back(next);
  pending_.assign(1, next);
  chunk = stops_.push(detokenizer_.push(next));
  result_.text += chunk;
  if (stops_.stopped()) finish(FinishReason::Stop);  // the stop string itself is never shown
  else if (out_of_room()) chunk += finish(FinishReason::Length);
  return true;
}

bool Generation::out_of_room() const {
  return result_.timings.generated_tokens >= request_.max_tokens ||
         static_cast<int64_t>(cached_.size() + pending_.size()) > backend_.context_size();
}

void Generation::abort() {
  if (!finished_) finish(FinishReason::Aborted);
}

std::string Generation::finish(FinishReason reason) {
  finished_ = true;
  result_.finish = reason;
  if (result_.timings.generated_tokens > 0) result_.timings.decode_ms = ms_since(decode_start_);
  if (reason == FinishReason::Aborted || stops_.stopped()) return {};
  std::string tail = stops_.push(detokenizer_.finish()) + stops_.flush();
  result_.text += tail;
  return tail;
}

}  // namespace tabllm
