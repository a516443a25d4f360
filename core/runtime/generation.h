// One request's generation, driven a token at a time: each step() runs the model once, samples a token
// and hands back the text that is now safe to show. Hosts that cannot take callbacks (the WebAssembly
// C ABI) stream and abort between any two steps; Session::generate is a loop over it.
//
// A host that runs the forward pass itself (WebGPU from JavaScript) splits a step in two: it runs the
// model over pending() and hands the result to advance(logits) — the core samples, with penalties,
// logprobs and constraints — or, when host_can_sample() says the request needs nothing more than the
// argmax, to advance_with_token(id) with the token it chose on the GPU.
//
// When the context is full and the token budget is not spent, the generation shifts the context
// (runtime/context_shift.h) and goes on; a host-driven backend is told to move its cache (HostDrivenBackend).
// With a KvPager the backend's context is a window of the pager's larger one: a prompt longer than the
// window runs in pieces that fit, each full window shifting (its dropped rows paged out), and before the
// prompt's last piece the pager recalls the pages its last tokens name (runtime/kv_pager.h).
#pragma once
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/model.h"
#include "backend/backend.h"
#include "runtime/session.h"
#include "runtime/stop_matcher.h"
#include "sampling/sampler.h"

namespace tabllm {

class Generation {
 public:
  // `cached` lists the tokens whose keys and values the backend holds from earlier requests; the prompt's
  // common prefix with it is reused, and it is kept up to date as tokens are processed. All of them must
  // outlive the Generation. Throws Error for an invalid request (empty prompt, too long without
  // truncate_prompt, bad sampling).
  Generation(const ModelConfig& config, const Tokenizer& tokenizer, Backend& backend, std::vector<int32_t>& cached,
             GenerateRequest request, KvPager* pager = nullptr, DraftModel* draft = nullptr);
  Generation(const Model& model, Backend& backend, std::vector<int32_t>& cached, GenerateRequest request)
      : Generation(model.config(), model.tokenizer(), backend, cached, std::move(request)) {}
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;
  ~Generation() { abort(); }  // an unfinished generation ends as aborted (see finish)

  // Generates one token, or finishes: the backend's forward pass, then advance(). With speculative
  // decoding (request.speculative) a step drafts tokens, verifies them in one forward pass and may take
  // several (last_step_tokens()). Sets `chunk` to the text
  // now safe to emit — possibly empty: a partial UTF-8 character or a possible stop string is held back —
  // and returns true; the step that finishes also hands over whatever was held back. Called after the
  // finish: returns false, chunk empty.
  bool step(std::string& chunk);

  // The host-driven step. The tokens the next forward pass must process, at positions starting from
  // pending_pos(); empty when the next advance() needs no logits (finished, or max_tokens 0). A piece of a
  // prompt longer than the window (a KvPager) is not the last: its advance() samples nothing.
  std::span<const int32_t> pending() const;
  int64_t pending_pos() const { return static_cast<int64_t>(cached_.size()); }
  // Takes the logits (n_vocab floats) of the last pending token and does the rest of step(); `logits` may
  // be null only when pending() is empty.
  bool advance(const float* logits, std::string& chunk);
  // True when the request samples greedily with nothing that needs the logits (no penalties, bias or
  // logprobs): a host may then take the argmax itself and call advance_with_token. Under a constraint the
  // argmax must be taken over the tokens allowed_tokens() lets through.
  bool host_can_sample() const;
  // Whether the request has a constraint; when it does, writes the tokens allowed at the next step as a
  // bitset ((n_vocab + 31) / 32 words, bit id % 32 of word id / 32). Throws Error when no token is allowed.
  bool allowed_tokens(std::span<uint32_t> words);
  // Like advance(), with the token the host chose (ties of the argmax must go to the lowest id).
  // Throws Error unless host_can_sample().
  bool advance_with_token(int32_t id, std::string& chunk);

  // Host-driven speculative decoding (docs/speculative.md). Before a step's forward pass, drafts at most
  // `most` tokens after the pending one (the host's verification takes most + 1 positions) with the
  // request's method; true when pending() now holds the pending token and its drafts, to be run in one
  // forward call and handed over, every position's result, to advance_verified(_tokens). False: a plain
  // step (off, the method drafts nothing here, no room). Method "draft" on a host-driven backend without
  // a draft model of the core's: `proposed` are the drafts, the greedy tokens of the host's own draft model
  // after the pending token (at most draft_room(most) of them are taken). Self-speculation is the
  // backend's (draft_layers_max), so a host that cannot run it is refused when the generation starts.
  bool draft_pending(int64_t most, std::span<const int32_t> proposed = {});
  // How many tokens the next step may draft (0: a plain step): the adaptive length, cut to `most`, to the
  // context and to max_tokens — what a host's draft model proposes.
  int64_t draft_room(int64_t most) const;
  // Takes the verification's logits: pending().size() rows of n_vocab floats, row i the model's after the
  // pending token and the first i drafts; keeps the drafts the model agrees with and its token after them.
  bool advance_verified(const float* rows, std::string& chunk);
  // The same with the argmax of each row (ties to the lowest id), when host_can_sample() and the request
  // has no constraint. Throws Error otherwise, or when `ids` does not hold a token per pending position.
  bool advance_verified_tokens(std::span<const int32_t> ids, std::string& chunk);

  // Ends an unfinished generation now (finish reason Aborted); text held back is dropped.
  void abort();
  bool finished() const { return finished_; }
  // The text, tokens and timings so far; complete once finished().
  const GenerateResult& result() const { return result_; }
  // Tokens taken by the last step (0 or 1; up to k + 1 with speculative decoding) and their log-probabilities when the request asked for them:
  // the tail of result().tokens / result().logprobs.
  size_t last_step_tokens() const { return last_step_tokens_; }

 private:
  bool out_of_room() const;  // token budget spent
  void truncate_prompt(int64_t context);
  void shift_context();
  // A piece of the prompt has run (a KvPager's window): shift when full, recall before the last piece.
  void after_prompt_piece(size_t piece);
  // The pending tokens have been processed; returns true when the step must end here (see advance).
  bool begin_advance(std::string& chunk);
  // Takes one sampled token (appending its text to chunk); then, unless that finished the generation,
  // continue_with(next) makes it the next pending token.
  void take(int32_t next, const float* logits, std::string& chunk);
  void continue_with(int32_t next);
  // The logits with the constraint's disallowed tokens at -inf (or `logits` itself, unconstrained).
  const float* constrained(const float* logits);
  // allowed_ as the constraint has it for the next token (a constraint must be set).
  std::span<const uint32_t> refresh_allowed();
  // Speculative decoding: drafts at most `most` tokens after the pending one into pending_; false when
  // there are none to verify (off, no room, nothing found), and the step is a plain one.
  bool draft(int64_t most = SpeculativeParams::kMaxDraft, std::span<const int32_t> proposed = {});
  void draft_with_layers(int64_t k);
  void draft_with_model(int64_t k);
  void draft_from_host(int64_t k, std::span<const int32_t> proposed);
  // Chooses a drafted token from the draft's logits as the request samples (penalties see the drafts
  // before it); a sampled draft keeps its distribution for the verification.
  int32_t draft_token(const float* logits);
  // Verifies the drafts against `rows` (logits, one row per pending token) or `ids` (each row's argmax:
  // greedy, unconstrained), takes the kept ones and the model's token after them, and cuts the cache back
  // to the rows of the kept tokens.
  bool advance_speculative(const float* rows, const int32_t* ids, std::string& chunk);
  // Marks the generation finished; returns the text still held back, unless aborted or stopped. After a
  // context shift only the kept rows stay reusable by the next request: the rows after them were computed
  // with the dropped tokens in view, which a fresh prefill of the next prompt would not have.
  std::string finish(FinishReason reason);

  const ModelConfig& config_;
  const Tokenizer& tokenizer_;
  Backend& backend_;
  std::vector<int32_t>& cached_;
  const std::chrono::steady_clock::time_point start_;  // the request's arrival: TTFT counts from here
  const GenerateRequest request_;
  KvPager* const pager_;
  const KvPagerStats pager_start_;  // the pager's counts when the request began: the result shows the difference
  Sampler sampler_;
  StreamingDetokenizer detokenizer_;
  StopMatcher stops_;
  std::vector<int32_t> history_;  // prompt and generated tokens: what the penalties look at
  std::vector<int32_t> pending_;  // tokens to run through the model at the next step
  std::vector<float> logits_;
  std::vector<float> masked_;      // logits with the constraint's disallowed tokens at -inf
  std::vector<uint32_t> allowed_;  // the constraint's bitset
  std::chrono::steady_clock::time_point decode_start_;
  GenerateResult result_;
  size_t last_step_tokens_ = 0;
  size_t exact_rows_ = SIZE_MAX;  // leading cached rows equal to a fresh prefill's (less after a shift)
  bool finished_ = false;
  // Speculative decoding.
  int64_t draft_layers_ = 0;  // self-speculation: layers the draft runs
  DraftModel* const draft_model_;
  DraftLength draft_length_;
  std::vector<int32_t> drafts_;                 // this step's drafted tokens
  std::vector<std::vector<TokenProb>> draft_q_; // their draft distributions (self-speculation, sampled)
  std::vector<TokenProb> target_p_;
  std::vector<float> draft_logits_, verify_logits_;
};

}  // namespace tabllm
