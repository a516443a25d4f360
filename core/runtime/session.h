// A conversation with one model on one backend: prompt in, streamed text out. Keeps the KV cache of the
// previous request so a prompt that extends it (chat turns) only processes the new tokens.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/model.h"
#include "backend/backend.h"
#include "runtime/context_shift.h"
#include "runtime/kv_pager.h"
#include "runtime/speculative.h"
#include "runtime/token_constraint.h"
#include "sampling/logprobs.h"
#include "sampling/sampler.h"

namespace tabllm {

struct GenerateRequest {
  std::string prompt;
  // The prompt's tokens when the host has them already (tokenized once for all of a request's choices);
  // empty: the generation tokenizes `prompt`.
  std::vector<int32_t> prompt_tokens;
  bool add_bos = true;       // prepend BOS when the vocabulary has one
  int max_tokens = 128;      // generated tokens at most; past the end of the context the context shifts
  SamplingParams sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false;   // benchmarks generate a fixed count
  int logprobs = -1;         // -1: none; 0..20: the chosen token's log-probability and that many alternatives
  // Structured output (JSON Schema, grammars): only tokens it allows are sampled, and the generation
  // stops once it is complete. Stateful: one constraint serves one generation.
  std::shared_ptr<TokenConstraint> constraint;
  // A prompt that does not fit the context: false refuses it; true keeps BOS and the prompt's newest tokens,
  // leaving room for max_tokens, at most a quarter of the context (OpenAI's truncation "auto").
  bool truncate_prompt = false;
  // Leading tokens a context shift keeps (the system prompt, or attention sinks); at most half the context.
  int64_t n_keep = kDefaultKeep;
  // Speculative decoding (runtime/speculative.h); off by default. Same output, fewer forward passes.
  SpeculativeParams speculative;
};

enum class FinishReason { Stop, Length, Aborted };
const char* finish_reason_name(FinishReason r);

struct Timings {
  int64_t prompt_tokens = 0;
  int64_t prompt_tokens_reused = 0;  // served from the previous request's KV cache
  int64_t generated_tokens = 0;
  double prefill_ms = 0;  // prompt processing and the first token's logits
  double decode_ms = 0;   // the remaining tokens
  double ttft_ms = 0;     // request start → first token sampled
  double prefill_tokens_per_s() const;
  double decode_tokens_per_s() const;
};

struct GenerateResult {
  std::string text;
  std::vector<int32_t> tokens;
  std::vector<TokenLogprob> logprobs;  // one per token when the request asked for them
  FinishReason finish = FinishReason::Length;
  Timings timings;
  int64_t truncated_prompt_tokens = 0;  // dropped from the front of the prompt (truncate_prompt)
  int64_t context_shifts = 0;           // times the context was full and its older half was dropped
  KvPagerStats kv_pages;                // this request's paging (a session with a KvPager)
  std::vector<std::string> warnings;    // what went wrong without failing the request (a KV page store)
  SpeculativeStats speculative;         // drafted and accepted tokens (a request with speculative decoding)
};

class Generation;

// A backend whose forward pass the host runs itself (WebGPU from JavaScript): the host reads
// Generation::pending(), runs the model and hands the logits (or its own greedy choice) to
// Generation::advance / advance_with_token. forward() must not be called. A context shift is recorded
// for the host, which runs it on its KV cache before the next pending tokens (take_shift).
//
// With the layout of the host's cache (`kv`: a paged session, a prefix cache), its rows cross as bytes in
// the layout read_kv gives (per layer, key rows then value rows): the host reads rows back from the GPU
// asynchronously and hands them over (stage_rows) before the core copies them (a KvPager's page-out, a
// page's export); rows the core writes (a page's import) wait for the host to take them (take_writes).
class HostDrivenBackend final : public Backend {
 public:
  explicit HostDrivenBackend(int64_t context_size, KvLayout kv = {});
  void forward(std::span<const int32_t> tokens, int64_t pos, Logits which, float* logits) override;
  void shift(const KvShift& shift) override;
  int64_t context_size() const override { return context_size_; }
  KvLayout kv_layout() const override { return kv_; }
  void read_kv(int64_t start, int64_t count, uint8_t* out) const override;
  bool kv_rows_on_host() const override { return true; }
  void write_kv(int64_t start, int64_t count, const uint8_t* in) override;
  void rotate_kv(int64_t, int64_t, int64_t) override;
  // The shift to run before the next pending tokens, handed out once; nullopt when there is none.
  std::optional<KvShift> take_shift();
  // Rows [start, start + count) as the host read them back (count * bytes_per_position bytes), which
  // read_kv serves until clear_staged.
  void stage_rows(int64_t start, int64_t count, std::span<const uint8_t> rows);
  void clear_staged();
  struct Write {
    int64_t start = 0, count = 0;
    std::vector<uint8_t> rows;  // read_kv's layout
  };
  // The next write to apply to the host's cache before the next pending tokens (in the order written),
  // handed out once; nullopt when there is none.
  std::optional<Write> take_write();

 private:
  int64_t context_size_;
  KvLayout kv_;
  std::optional<KvShift> shift_;
  int64_t staged_start_ = 0, staged_count_ = 0;
  std::vector<uint8_t> staged_;
  std::deque<Write> writes_;
};

class Session {
 public:
  Session(const Model& model, std::unique_ptr<Backend> backend);
  // A model known by its config and tokenizer only (weights elsewhere, e.g. on a GPU the host drives).
  Session(const ModelConfig& config, const Tokenizer& tokenizer, std::unique_ptr<Backend> backend);
  ~Session();
  // Begins a request driven one token at a time (hosts that stream and abort between steps). The
  // Generation must end before the session's next request.
  std::unique_ptr<Generation> start(GenerateRequest request);
  // The whole request: streams text through on_text (which returns false to abort); never splits a
  // UTF-8 character and never emits any part of a stop string.
  GenerateResult generate(const GenerateRequest& request,
                          const std::function<bool(std::string_view)>& on_text = nullptr);
  // Logits for every position of `tokens` processed from position 0 (perplexity, parity tests).
  std::vector<float> logits_all(const std::vector<int32_t>& tokens);
  // The tokens whose keys and values the cache holds, from position 0.
  const std::vector<int32_t>& cached_tokens() const { return cached_; }
  // KV pages (runtime/kv_pages.h) of the cached positions [start, end).
  std::vector<uint8_t> export_kv_page(int64_t start, int64_t end) const;
  // Restores the positions of a page whose tokens `prompt` shares from the page's start (all of them, or
  // the first ones), for a page that starts at or before the end of what the cache already holds of
  // `prompt`; returns the positions of `prompt` now cached. Throws Error (the cache unchanged) for a page
  // of another layout, damaged, out of order, or whose first token is not the prompt's.
  int64_t import_kv_page(std::span<const uint8_t> page, std::span<const int32_t> prompt);
  // Pages the rows a context shift drops to a store, and lets prompts and replies reach the pager's context
  // beyond the backend's window (runtime/kv_pager.h); null turns paging off.
  void set_kv_pager(std::unique_ptr<KvPager> pager) { pager_ = std::move(pager); }
  // The draft model of speculative method "draft" (runtime/speculative.h): a smaller model with this one's
  // vocabulary, on its own backend. Throws Error for another vocabulary size; null removes it.
  void set_draft_model(const ModelConfig& draft_config, std::unique_ptr<Backend> backend);
  KvPager* kv_pager() { return pager_.get(); }
  Backend& backend() { return *backend_; }
  const ModelConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }

 private:
  const ModelConfig& config_;
  const Tokenizer& tokenizer_;
  std::unique_ptr<Backend> backend_;
  std::vector<int32_t> cached_;  // tokens whose keys and values are in the backend's cache
  std::unique_ptr<KvPager> pager_;
  std::unique_ptr<DraftModel> draft_;
};

}  // namespace tabllm
