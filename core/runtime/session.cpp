#include "runtime/session.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/error.h"
#include "runtime/generation.h"
#include "runtime/kv_pages.h"

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

HostDrivenBackend::HostDrivenBackend(int64_t context_size, KvLayout kv) : context_size_(context_size), kv_(kv) {
  if (context_size < 1) throw Error("the context size must be at least 1 token, got " + std::to_string(context_size));
}

void HostDrivenBackend::forward(std::span<const int32_t>, int64_t, Logits, float*) {
  throw Error("this session's forward pass runs on the host: run Generation::pending() and call advance() with the logits");
}

void HostDrivenBackend::shift(const KvShift& shift) {
  if (shift_) throw Error("the host has not run the previous context shift: take it (take_shift) before the pending tokens");
  shift_ = shift;
}

namespace {

void check_host_layout(const KvLayout& kv) {
  if (kv.n_layers == 0) throw Error("this session's KV cache is the host's (WebGPU) and its layout unknown: create the session with the cache's layout to copy rows");
}

// Copies positions [from, from + count) of every layer between two buffers in read_kv's layout (per layer
// key rows then value rows) holding `a_count` and `b_count` positions, from a's position a_at and b's b_at.
void copy_rows(const KvLayout& kv, const uint8_t* a, int64_t a_count, int64_t a_at, uint8_t* b, int64_t b_count, int64_t b_at, int64_t count) {
  const size_t rb = kv.row_bytes;
  for (int64_t l = 0; l < 2 * kv.n_layers; ++l)
    std::memcpy(b + (static_cast<size_t>(l * b_count + b_at)) * rb, a + (static_cast<size_t>(l * a_count + a_at)) * rb, static_cast<size_t>(count) * rb);
}

}  // namespace

void HostDrivenBackend::read_kv(int64_t start, int64_t count, uint8_t* out) const {
  check_host_layout(kv_);
  if (start < staged_start_ || start + count > staged_start_ + staged_count_)
    throw Error("the host has not read back the KV rows of positions [" + std::to_string(start) + ", " + std::to_string(start + count) +
                ") (it holds [" + std::to_string(staged_start_) + ", " + std::to_string(staged_start_ + staged_count_) + "))");
  copy_rows(kv_, staged_.data(), staged_count_, start - staged_start_, out, count, 0, count);
}

void HostDrivenBackend::write_kv(int64_t start, int64_t count, const uint8_t* in) {
  check_host_layout(kv_);
  if (start < 0 || count < 0 || start + count > context_size_)
    throw Error("KV rows [" + std::to_string(start) + ", " + std::to_string(start + count) + ") lie outside the cache of " + std::to_string(context_size_) + " positions");
  writes_.push_back({start, count, std::vector<uint8_t>(in, in + static_cast<size_t>(count) * kv_.bytes_per_position())});
}

void HostDrivenBackend::rotate_kv(int64_t, int64_t, int64_t) { throw Error("this session's KV cache is the host's (WebGPU): the host rotates it"); }

std::optional<KvShift> HostDrivenBackend::take_shift() { return std::exchange(shift_, std::nullopt); }

void HostDrivenBackend::stage_rows(int64_t start, int64_t count, std::span<const uint8_t> rows) {
  check_host_layout(kv_);
  if (start < 0 || count < 0 || start + count > context_size_)
    throw Error("KV rows [" + std::to_string(start) + ", " + std::to_string(start + count) + ") lie outside the cache of " + std::to_string(context_size_) + " positions");
  if (rows.size() != static_cast<size_t>(count) * kv_.bytes_per_position())
    throw Error("KV rows of " + std::to_string(count) + " positions take " + std::to_string(static_cast<size_t>(count) * kv_.bytes_per_position()) +
                " bytes, got " + std::to_string(rows.size()));
  staged_.assign(rows.begin(), rows.end());
  staged_start_ = start;
  staged_count_ = count;
}

std::optional<HostDrivenBackend::Write> HostDrivenBackend::take_write() {
  if (writes_.empty()) return std::nullopt;
  Write w = std::move(writes_.front());
  writes_.pop_front();
  return w;
}

void HostDrivenBackend::clear_staged() {
  staged_.clear();
  staged_.shrink_to_fit();
  staged_start_ = staged_count_ = 0;
}

Session::Session(const Model& model, std::unique_ptr<Backend> backend)
    : Session(model.config(), model.tokenizer(), std::move(backend)) {}

Session::Session(const ModelConfig& config, const Tokenizer& tokenizer, std::unique_ptr<Backend> backend)
    : config_(config), tokenizer_(tokenizer), backend_(std::move(backend)) {}

Session::~Session() = default;

std::unique_ptr<Generation> Session::start(GenerateRequest request) {
  return std::make_unique<Generation>(config_, tokenizer_, *backend_, cached_, std::move(request), pager_.get(), draft_.get());
}

void Session::set_draft_model(const ModelConfig& draft_config, std::unique_ptr<Backend> backend) {
  if (!backend) {
    draft_.reset();
    return;
  }
  if (draft_config.n_vocab != config_.n_vocab)
    throw Error("the draft model's vocabulary has " + std::to_string(draft_config.n_vocab) + " tokens, the model's " +
                std::to_string(config_.n_vocab) + ": a draft must share the model's vocabulary");
  draft_ = std::make_unique<DraftModel>(DraftModel{std::move(backend), {}});
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

std::vector<uint8_t> Session::export_kv_page(int64_t start, int64_t end) const {
  if (start < 0 || end <= start || end > static_cast<int64_t>(cached_.size()))
    throw Error("KV page [" + std::to_string(start) + ", " + std::to_string(end) + ") is outside the " + std::to_string(cached_.size()) +
                " cached positions");
  const KvLayout layout = backend_->kv_layout();
  std::vector<uint8_t> rows(layout.bytes_per_position() * static_cast<size_t>(end - start));
  backend_->read_kv(start, end - start, rows.data());
  return encode_kv_page(layout, start, std::span(cached_).subspan(static_cast<size_t>(start), static_cast<size_t>(end - start)), rows);
}

int64_t Session::import_kv_page(std::span<const uint8_t> bytes, std::span<const int32_t> prompt) {
  const KvPage page = decode_kv_page(bytes);
  if (!(page.layout == backend_->kv_layout()))
    throw Error(std::string("a KV page of another model or cache type (") + type_traits(page.layout.type).name + ", " +
                std::to_string(page.layout.n_layers) + " layers, rows of " + std::to_string(page.layout.row_bytes) + " bytes)");
  // The rows of the tokens the page shares with the prompt from its start: a position's keys and values
  // depend only on the tokens up to it.
  int64_t shared = 0;
  const auto count = static_cast<int64_t>(page.tokens.size());
  while (shared < count && page.start + shared < static_cast<int64_t>(prompt.size()) &&
         page.tokens[static_cast<size_t>(shared)] == prompt[static_cast<size_t>(page.start + shared)])
    ++shared;
  const int64_t end = page.start + shared;
  if (shared == 0 || end > backend_->context_size())
    throw Error("a KV page of other tokens than the prompt's at positions [" + std::to_string(page.start) + ", " +
                std::to_string(page.start + count) + ")");
  size_t held = 0;
  while (held < cached_.size() && held < prompt.size() && cached_[held] == prompt[held]) ++held;
  if (page.start > static_cast<int64_t>(held))
    throw Error("a KV page from position " + std::to_string(page.start) + ", but the cache holds the prompt's first " + std::to_string(held) +
                " positions only: restore pages in order");
  cached_.resize(held);  // rows past `held` are about to change: until the copy is done, they count for nothing
  if (shared == count) {
    backend_->write_kv(page.start, shared, page.rows.data());
  } else {  // each layer's key rows, then its value rows, of the first `shared` positions
    const size_t row = page.layout.row_bytes;
    std::vector<uint8_t> rows(page.layout.bytes_per_position() * static_cast<size_t>(shared));
    for (size_t block = 0; block < static_cast<size_t>(2 * page.layout.n_layers); ++block)
      std::copy_n(page.rows.data() + block * static_cast<size_t>(count) * row, static_cast<size_t>(shared) * row,
                  rows.data() + block * static_cast<size_t>(shared) * row);
    backend_->write_kv(page.start, shared, rows.data());
  }
  cached_.assign(prompt.begin(), prompt.begin() + std::max<int64_t>(end, static_cast<int64_t>(held)));
  return static_cast<int64_t>(cached_.size());
}

}  // namespace tabllm
