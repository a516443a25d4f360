#include "runtime/generation.h"

#include <algorithm>
#include <limits>

#include "common/error.h"
#include "runtime/prompt_lookup.h"
#include "sampling/logprobs.h"
#include "sampling/speculative_sampling.h"
#include "sampling/token_mask.h"

namespace tabllm {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The prompt's last tokens score the pages to recall: a question or instruction ends a prompt.
constexpr size_t kRecallQueryTokens = 128;

}  // namespace

Generation::Generation(const ModelConfig& config, const Tokenizer& tokenizer, Backend& backend, std::vector<int32_t>& cached,
                       GenerateRequest request, KvPager* pager, DraftModel* draft)
    : config_(config),
      tokenizer_(tokenizer),
      backend_(backend),
      cached_(cached),
      start_(std::chrono::steady_clock::now()),
      request_(std::move(request)),
      pager_(pager),
      pager_start_(pager ? pager->stats() : KvPagerStats{}),
      sampler_(request_.sampling, static_cast<int32_t>(config.n_vocab)),
      detokenizer_(tokenizer),
      stops_(request_.stop),
      logits_(static_cast<size_t>(config.n_vocab)),
      decode_start_(start_),
      draft_model_(draft),
      draft_length_(request_.speculative.k) {
  if (request_.prompt.empty()) throw Error("the prompt is empty: give some text to continue");
  if (request_.max_tokens < 0) throw Error("max_tokens must be >= 0, got " + std::to_string(request_.max_tokens));
  if (request_.logprobs < -1 || request_.logprobs > 20)
    throw Error("logprobs must be -1 (off) or a count of alternatives in [0, 20], got " + std::to_string(request_.logprobs));
  const SpeculativeParams& spec = request_.speculative;
  spec.validate();
  result_.speculative.method = spec.method;
  if (spec.method == SpeculativeMethod::Self) {
    const int64_t most = backend_.draft_layers_max();
    if (most < 1) throw Error("this backend cannot run its first layers as a draft: use speculative method \"prompt-lookup\"");
    draft_layers_ = spec.draft_layers > 0 ? spec.draft_layers : std::max<int64_t>(1, config_.n_layers / 2);
    if (draft_layers_ > most)
      throw Error("speculative.draft_layers must be in [1, " + std::to_string(most) + "] for this model, got " + std::to_string(draft_layers_));
  }
  // A host-driven backend's host may run the draft model itself (draft_pending's proposed tokens).
  if (spec.method == SpeculativeMethod::Draft && !draft_model_ && !dynamic_cast<HostDrivenBackend*>(&backend_))
    throw Error("speculative method \"draft\" needs a draft model loaded beside the model (tabllm generate --draft-model FILE)");
  if (spec.method == SpeculativeMethod::Self || spec.method == SpeculativeMethod::Draft) draft_logits_.resize(static_cast<size_t>(config_.n_vocab));
  if (spec.method != SpeculativeMethod::Off) verify_logits_.resize(static_cast<size_t>(spec.k + 1) * static_cast<size_t>(config_.n_vocab));
  history_ = request_.prompt_tokens.empty() ? tokenizer_.encode(request_.prompt, request_.add_bos) : request_.prompt_tokens;
  if (history_.empty()) throw Error("the prompt produced no tokens");
  const int64_t ctx = pager_ ? pager_->context() : backend_.context_size();
  if (static_cast<int64_t>(history_.size()) >= ctx) {
    if (!request_.truncate_prompt)
      throw Error("the prompt has " + std::to_string(history_.size()) + " tokens but the context holds " + std::to_string(ctx) +
                  " (shorten the prompt, use a larger context, or set truncation to \"auto\" to keep the prompt's end)");
    truncate_prompt(ctx);
  }
  result_.timings.prompt_tokens = static_cast<int64_t>(history_.size());
  // Reuse the cached prefix; at least one token must be processed to get logits.
  size_t reuse = 0;
  while (reuse < cached_.size() && reuse < history_.size() && cached_[reuse] == history_[reuse]) ++reuse;
  reuse = std::min(reuse, history_.size() - 1);
  result_.timings.prompt_tokens_reused = static_cast<int64_t>(reuse);
  cached_.resize(reuse);
  pending_.assign(history_.begin() + static_cast<std::ptrdiff_t>(reuse), history_.end());
  if (pager_) {
    // Pages of earlier requests hold text this prompt runs through the window again (a shifted cache is
    // reused only up to its kept rows).
    pager_->clear();
    if (static_cast<int64_t>(cached_.size()) >= backend_.context_size()) shift_context();
  }
}

void Generation::truncate_prompt(int64_t context) {
  const int64_t room = std::clamp<int64_t>(request_.max_tokens, 1, std::max<int64_t>(1, context / 4));
  const int64_t bos = request_.add_bos && history_.front() == tokenizer_.vocab().bos ? 1 : 0;
  const int64_t keep = context - room;
  if (keep <= bos) throw Error("a context of " + std::to_string(context) + " tokens is too small to hold any of the prompt: use a larger context");
  const int64_t dropped = static_cast<int64_t>(history_.size()) - keep;
  history_.erase(history_.begin() + bos, history_.begin() + bos + dropped);
  result_.truncated_prompt_tokens = dropped;
}

void Generation::shift_context() {
  const KvShift s = plan_context_shift(static_cast<int64_t>(cached_.size()), request_.n_keep, backend_.context_size());
  if (pager_) pager_->page_out(backend_, cached_, s);
  try {
    backend_.shift(s);
  } catch (...) {
    cached_.clear();  // the cache may be half moved: nothing in it is reusable
    throw;
  }
  cached_.erase(cached_.begin() + s.keep, cached_.begin() + s.keep + s.discard);
  exact_rows_ = std::min(exact_rows_, static_cast<size_t>(s.keep));
  result_.context_shifts++;
}

bool Generation::step(std::string& chunk) {
  if (finished_ || pending().empty()) return advance(logits_.data(), chunk);
  if (draft()) {
    backend_.forward(pending_, pending_pos(), Logits::All, verify_logits_.data());
    return advance_speculative(verify_logits_.data(), nullptr, chunk);
  }
  backend_.forward(pending(), pending_pos(), Logits::Last, logits_.data());
  return advance(logits_.data(), chunk);
}

int64_t Generation::draft_room(int64_t most) const {
  if (finished_ || request_.speculative.method == SpeculativeMethod::Off || pending_.size() != 1 || pending().size() != 1) return 0;
  // The k + 1 verified positions must lie in the context (no shift inside a step), and the k kept drafts
  // plus the model's token after them in max_tokens.
  return std::max<int64_t>(0, std::min<int64_t>({draft_length_.get(), most, backend_.context_size() - pending_pos() - 1,
                                                 request_.max_tokens - result_.timings.generated_tokens - 1}));
}

bool Generation::draft(int64_t most, std::span<const int32_t> proposed) {
  const SpeculativeParams& spec = request_.speculative;
  const int64_t k = draft_room(most);
  if (k < 1) return false;
  drafts_.clear();
  draft_q_.clear();
  if (spec.method == SpeculativeMethod::PromptLookup)
    prompt_lookup(history_, static_cast<size_t>(k), static_cast<size_t>(spec.ngram), drafts_);
  else if (spec.method == SpeculativeMethod::Self)
    draft_with_layers(k);
  else if (draft_model_)
    draft_with_model(k);
  else
    draft_from_host(k, proposed);
  if (drafts_.empty()) return false;
  result_.speculative.drafted += static_cast<int64_t>(drafts_.size());
  pending_.insert(pending_.end(), drafts_.begin(), drafts_.end());
  return true;
}

int32_t Generation::draft_token(const float* logits) {
  int32_t token;
  if (request_.sampling.temperature > 0) {
    sampler_.distribution(logits, history_, draft_q_.emplace_back());
    token = draw_from(draft_q_.back(), sampler_.uniform());
  } else {
    token = sampler_.sample(logits, history_);
  }
  drafts_.push_back(token);
  history_.push_back(token);  // taken back once the draft is done
  return token;
}

void Generation::draft_with_layers(int64_t k) {
  const size_t history = history_.size();
  int32_t token = pending_.front();
  for (int64_t i = 0; i < k; ++i) {
    backend_.forward_draft(std::span(&token, 1), pending_pos() + i, draft_layers_, draft_logits_.data());
    result_.speculative.draft_passes++;
    token = draft_token(draft_logits_.data());
    if (!request_.ignore_eos && tokenizer_.is_end_of_generation(token)) break;  // nothing follows an end
  }
  history_.resize(history);
}

void Generation::draft_with_model(int64_t k) {
  // The draft's cache runs over the whole history from position 0 (it does not shift): past its context,
  // steps are plain.
  DraftModel& d = *draft_model_;
  const size_t history = history_.size();
  if (static_cast<int64_t>(history) + k > d.backend->context_size()) return;
  // What the draft's cache lacks of the history (the prompt at first, then the tokens kept since), as
  // prompt reuse does; the rows of rejected drafts are overwritten.
  size_t reuse = 0;
  while (reuse < d.cached.size() && reuse + 1 < history && d.cached[reuse] == history_[reuse]) ++reuse;
  d.cached.resize(reuse);
  std::span<const int32_t> run = std::span(history_).subspan(reuse);
  for (int64_t i = 0; i < k; ++i) {
    d.backend->forward(run, static_cast<int64_t>(d.cached.size()), Logits::Last, draft_logits_.data());
    d.cached.insert(d.cached.end(), run.begin(), run.end());
    result_.speculative.draft_passes++;
    const int32_t token = draft_token(draft_logits_.data());
    if (!request_.ignore_eos && tokenizer_.is_end_of_generation(token)) break;
    run = std::span(history_).last(1);
  }
  history_.resize(history);
}

bool Generation::draft_pending(int64_t most, std::span<const int32_t> proposed) {
  if (finished_) return false;
  if (!drafts_.empty()) return true;  // drafted already, not verified yet
  return draft(most, proposed);
}

bool Generation::advance_verified(const float* rows, std::string& chunk) {
  if (!rows) throw Error("advance_verified needs the logits of every pending position");
  return advance_speculative(rows, nullptr, chunk);
}

bool Generation::advance_verified_tokens(std::span<const int32_t> ids, std::string& chunk) {
  if (!host_can_sample() || request_.constraint)
    throw Error("this request needs the logits of the verified positions (sampling, penalties, bias, logprobs or a response_format): call advance_verified");
  if (ids.size() != pending_.size())
    throw Error("advance_verified_tokens needs a token per pending position: " + std::to_string(pending_.size()) + " expected, got " + std::to_string(ids.size()));
  for (const int32_t id : ids)
    if (id < 0 || id >= config_.n_vocab)
      throw Error("token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(config_.n_vocab) + ")");
  return advance_speculative(nullptr, ids.data(), chunk);
}

void Generation::draft_from_host(int64_t k, std::span<const int32_t> proposed) {
  result_.speculative.draft_passes += static_cast<int64_t>(proposed.size());  // the host's model ran a pass a token
  for (const int32_t token : proposed.first(std::min(proposed.size(), static_cast<size_t>(k)))) {
    if (token < 0 || token >= config_.n_vocab)
      throw Error("drafted token " + std::to_string(token) + " is outside the vocabulary [0, " + std::to_string(config_.n_vocab) + ")");
    drafts_.push_back(token);
    if (!request_.ignore_eos && tokenizer_.is_end_of_generation(token)) break;  // nothing follows an end
  }
}

bool Generation::advance_speculative(const float* rows, const int32_t* ids, std::string& chunk) {
  if (finished_) {
    chunk.clear();
    return false;
  }
  if (drafts_.empty() || pending_.size() != drafts_.size() + 1)
    throw Error("no drafts are pending: verify after draft_pending returned true, otherwise advance as a plain step");
  if (begin_advance(chunk)) return true;
  const size_t kept_before = cached_.size() - drafts_.size();  // rows up to the last token taken
  const auto n_vocab = static_cast<size_t>(config_.n_vocab);
  size_t kept = 0;
  int32_t next = -1;
  for (size_t i = 0;; ++i) {
    const float* row = rows ? constrained(rows + i * n_vocab) : nullptr;
    const bool drafted = i < drafts_.size();
    if (ids) {
      next = ids[i];  // the host's argmax of the row (advance_verified_tokens)
    } else if (drafted && request_.sampling.temperature > 0) {
      sampler_.distribution(row, history_, target_p_);
      const std::span<const TokenProb> q = draft_q_.empty() ? std::span<const TokenProb>() : std::span<const TokenProb>(draft_q_[i]);
      const double accept_u = sampler_.uniform();
      next = verify_drafted(target_p_, q, drafts_[i], accept_u, sampler_.uniform()).token;
    } else {
      next = sampler_.sample(row, history_);  // greedy: the plain decoding's token
    }
    const bool hit = drafted && next == drafts_[i];
    take(next, row, chunk);
    if (hit) ++kept;  // its row is valid: the pass computed it
    if (!hit || finished_) break;
  }
  result_.speculative.accepted += static_cast<int64_t>(kept);
  draft_length_.observe(static_cast<int64_t>(drafts_.size()), static_cast<int64_t>(kept));
  drafts_.clear();
  // The rejected drafts' rows stay in the backend, to be overwritten: only the list of cached tokens shrinks.
  cached_.resize(std::min(cached_.size(), kept_before + kept));
  if (!finished_) continue_with(next);
  return true;
}

std::span<const int32_t> Generation::pending() const {
  if (finished_ || out_of_room()) return {};
  const auto room = static_cast<size_t>(std::max<int64_t>(0, backend_.context_size() - pending_pos()));
  return std::span(pending_).first(std::min(pending_.size(), room));
}

void Generation::after_prompt_piece(size_t piece) {
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(piece));
  const int64_t window = backend_.context_size();
  if (static_cast<int64_t>(cached_.size()) >= window) shift_context();
  const auto rest = static_cast<int64_t>(pending_.size());
  if (static_cast<int64_t>(cached_.size()) + rest > window || pager_->pages().empty()) return;
  // The last piece: shifts make room for the recall (older rows of the window give way to the recalled
  // pages), then the pages the prompt's end names come back.
  std::span<const int32_t> query(history_);
  query = query.last(std::min(query.size(), kRecallQueryTokens));
  const int64_t wanted = std::min(pager_->recall_positions(), window - rest - 1);
  const int64_t keep = std::min(request_.n_keep, window / 2);
  while (window - static_cast<int64_t>(cached_.size()) - rest < wanted && static_cast<int64_t>(cached_.size()) > keep) shift_context();
  if (pager_->recall_for(query, backend_, cached_, window - static_cast<int64_t>(cached_.size()) - rest, keep) > 0)
    exact_rows_ = std::min(exact_rows_, static_cast<size_t>(keep));
}

bool Generation::host_can_sample() const {
  const SamplingParams& s = request_.sampling;
  return s.temperature == 0 && s.repeat_penalty == 1.0f && s.frequency_penalty == 0 && s.presence_penalty == 0 &&
         s.logit_bias.empty() && request_.logprobs < 0;
}

bool Generation::allowed_tokens(std::span<uint32_t> words) {
  if (!request_.constraint) return false;
  const size_t n_words = (static_cast<size_t>(config_.n_vocab) + 31) / 32;
  if (words.size() < n_words) throw Error("the allowed-token bitset needs " + std::to_string(n_words) + " words");
  std::fill(words.begin(), words.end(), 0u);
  request_.constraint->allowed_tokens(words.first(n_words));
  // A vocabulary may lack the bytes the format needs next: say so rather than sample from nothing.
  if (std::all_of(words.begin(), words.end(), [](uint32_t w) { return w == 0; }))
    throw Error("no token of the vocabulary can continue the output in the requested format");
  return true;
}

bool Generation::begin_advance(std::string& chunk) {
  chunk.clear();
  last_step_tokens_ = 0;
  if (finished_) return true;
  if (out_of_room()) {  // max_tokens 0
    chunk = finish(FinishReason::Length);
    return true;
  }
  if (result_.timings.generated_tokens > 0) result_.speculative.forward_passes++;  // a decode pass, on any backend
  const size_t piece = pending().size();
  cached_.insert(cached_.end(), pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(piece));
  if (piece < pending_.size()) {  // a piece of a prompt longer than the window: no token yet
    after_prompt_piece(piece);
    return true;
  }
  pending_.clear();  // a failure from here on leaves nothing to rerun
  return false;
}

bool Generation::advance(const float* logits, std::string& chunk) {
  if (finished_) {
    chunk.clear();
    return false;
  }
  if (!logits && !pending().empty()) throw Error("advance needs the logits of the pending tokens");
  if (!drafts_.empty()) throw Error("the pending tokens hold drafts: hand every position's logits to advance_verified");
  if (begin_advance(chunk)) return true;
  int32_t next;
  const float* choose_from = logits;
  if (request_.constraint && request_.logprobs < 0) {  // nothing reads masked logits: choose among the allowed
    next = sampler_.sample_allowed(logits, refresh_allowed(), history_);
  } else {
    choose_from = constrained(logits);
    next = sampler_.sample(choose_from, history_);
  }
  take(next, choose_from, chunk);
  if (!finished_) continue_with(next);
  return true;
}

const float* Generation::constrained(const float* logits) {
  if (!request_.constraint) return logits;
  // Disallowed tokens become -inf, so neither the sampler nor the logprobs see them.
  masked_.resize(static_cast<size_t>(config_.n_vocab));
  mask_logits(logits, refresh_allowed(), config_.n_vocab, masked_.data());
  return masked_.data();
}

std::span<const uint32_t> Generation::refresh_allowed() {
  allowed_.resize((static_cast<size_t>(config_.n_vocab) + 31) / 32);
  allowed_tokens(allowed_);
  return allowed_;
}

bool Generation::advance_with_token(int32_t id, std::string& chunk) {
  if (!host_can_sample())
    throw Error("this request needs the logits (sampling temperature, penalties, bias or logprobs): call advance(logits)");
  if (id < 0 || id >= config_.n_vocab)
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(config_.n_vocab) + ")");
  if (finished_) {
    chunk.clear();
    return false;
  }
  if (!drafts_.empty()) throw Error("the pending tokens hold drafts: hand every position's argmax to advance_verified_tokens");
  if (begin_advance(chunk)) return true;
  take(id, nullptr, chunk);
  if (!finished_) continue_with(id);
  return true;
}

void Generation::take(int32_t next, const float* logits, std::string& chunk) {
  if (result_.timings.generated_tokens == 0) {
    result_.timings.prefill_ms = result_.timings.ttft_ms = ms_since(start_);
    decode_start_ = std::chrono::steady_clock::now();
  }
  result_.timings.generated_tokens++;
  if (!request_.ignore_eos && tokenizer_.is_end_of_generation(next)) {
    chunk += finish(FinishReason::Stop);
    return;
  }
  if (request_.constraint && !request_.constraint->accept(next))
    throw Error("token " + std::to_string(next) + " breaks the requested output format (the host must choose among allowed_tokens)");
  history_.push_back(next);
  result_.tokens.push_back(next);
  if (request_.logprobs >= 0 && logits)
    result_.logprobs.push_back(token_logprob(logits, static_cast<int32_t>(config_.n_vocab), next, request_.logprobs));
  ++last_step_tokens_;
  const std::string text = stops_.push(detokenizer_.push(next));
  chunk += text;
  result_.text += text;
  if (stops_.stopped()) finish(FinishReason::Stop);  // the stop string itself is never shown
  else if (request_.constraint && request_.constraint->is_complete()) chunk += finish(FinishReason::Stop);
  else if (out_of_room()) chunk += finish(FinishReason::Length);
}

void Generation::continue_with(int32_t next) {
  pending_.assign(1, next);
  if (static_cast<int64_t>(cached_.size() + pending_.size()) > backend_.context_size()) shift_context();
}

bool Generation::out_of_room() const { return result_.timings.generated_tokens >= request_.max_tokens; }

void Generation::abort() {
  if (!finished_) finish(FinishReason::Aborted);
}

std::string Generation::finish(FinishReason reason) {
  finished_ = true;
  pending_.clear();
  result_.finish = reason;
  cached_.resize(std::min(cached_.size(), exact_rows_));
  if (result_.timings.generated_tokens > 0) result_.timings.decode_ms = ms_since(decode_start_);
  if (pager_) {
    result_.kv_pages = pager_->stats() - pager_start_;
    result_.warnings = pager_->take_warnings();
  }
  if (reason == FinishReason::Aborted || stops_.stopped()) return {};
  std::string tail = stops_.push(detokenizer_.finish()) + stops_.flush();
  result_.text += tail;
  return tail;
}

}  // namespace tabllm
