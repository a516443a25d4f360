// The exported C functions (tabllm.h): handles, error capture and string ownership around the C++ core.
#include "tabllm.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abi_guard.h"
#include "cpu_options.h"
#include "common/error.h"
#include "gguf/gguf.h"
#include "backend/webgpu/plan.h"
#include "grammar/output_format.h"
#include "host_kv_store.h"
#include "model_handle.h"
#include "report_json.h"
#include "request_json.h"
#include "backend/cpu/forward.h"
#include "runtime/generation.h"
#include "runtime/session.h"
#include "work_counters.h"

#include <emscripten/heap.h>
#include <malloc.h>

using tabllm::Error;
using tabllm::wasm::deref;
using tabllm::wasm::guarded;
using tabllm::wasm::LoadedModel;
using tabllm::wasm::work_counters;

// A whole model on its way into the heap (tabllm_loader_create): the core model is made at once, over
// pieces whose bytes the host then writes.
struct tabllm_loader {
  std::unique_ptr<tabllm::Model> model;
  std::vector<tabllm::gguf::File::Piece> pieces;
};

// A request checked once for all of its starts (tabllm_request_create).
struct tabllm_request {
  std::shared_ptr<const LoadedModel> loaded;
  tabllm::GenerateRequest request;                        // prompt_tokens filled, no constraint yet
  std::optional<tabllm::grammar::OutputFormat> format;    // compiled already; each start gets a constraint
  std::string info_json;
  std::string tokens_json;  // tabllm_request_tokens, made on first call

  // What one start runs: this request with `params_json` applied over it.
  tabllm::GenerateRequest start(const char* params_json) const {
    tabllm::GenerateRequest r = request;
    std::optional<tabllm::grammar::OutputFormat> f = format;
    tabllm::wasm::apply_params_json(params_json ? params_json : "", loaded->config().n_vocab, r, f);
    if (r.add_bos != request.add_bos) throw tabllm::wasm::ParamError("add_bos", "add_bos is part of the prompt's tokens: give it when the request is created");
    if (f) r.constraint = loaded->formats().constraint(*f);
    return r;
  }
};

namespace {

// The bound on a piece of a model's tensor data: small beside the heap, so pieces pack it tightly, and
// large enough that a 3B model needs only a few dozen allocations.
constexpr uint64_t kPieceBytes = uint64_t{64} << 20;

std::string gigabytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GB", static_cast<double>(bytes) / 1e9);
  return text;
}

// Reads params_json, reads and compiles its response_format, tokenizes the prompt: once per request. The
// prompt itself (empty, too long) is checked when a generation starts.
tabllm_request* prepare_request(std::shared_ptr<const LoadedModel> loaded, const char* prompt, const char* params_json) {
  auto r = std::make_unique<tabllm_request>();
  r->loaded = std::move(loaded);
  r->request.prompt = prompt ? prompt : "";
  tabllm::wasm::apply_params_json(params_json ? params_json : "", r->loaded->config().n_vocab, r->request, r->format);
  // The one speculative field whose range is the model's: a draft runs fewer layers than the model.
  const tabllm::SpeculativeParams& spec = r->request.speculative;
  const int64_t n_layers = r->loaded->config().n_layers;
  if (spec.method == tabllm::SpeculativeMethod::Self && spec.draft_layers >= n_layers)
    throw tabllm::wasm::ParamError("speculative.draft_layers", "speculative.draft_layers must be below the model's " + std::to_string(n_layers) +
                                                                   " layers (0 = half of them), got " + std::to_string(spec.draft_layers));
  // A header-only model's host (WebGPU) may run a draft model of its own; a whole model's engine loads none.
  if (spec.method == tabllm::SpeculativeMethod::Draft && r->loaded->model)
    throw tabllm::wasm::ParamError("speculative.method", "speculative.method \"draft\" needs a draft model, which this engine does not load: use \"prompt-lookup\" or \"self\"");
  std::vector<std::string> warnings;
  if (r->format) {
    try {
      warnings = r->loaded->formats().compile(*r->format).warnings;
    } catch (const tabllm::grammar::FormatError& e) {
      throw tabllm::wasm::ParamError(e.param(), e.what());
    }
  }
  ++work_counters.tokenizations;
  r->request.prompt_tokens = r->loaded->tokenizer().encode(r->request.prompt, r->request.add_bos);
  r->info_json = nlohmann::ordered_json{{"prompt_tokens", r->request.prompt_tokens.size()},
                                        {"warnings", warnings},
                                        {"speculative", tabllm::speculative_method_name(spec.method)}}
                     .dump();
  return r.release();
}


std::unique_ptr<tabllm::Backend> cpu_backend(const tabllm::Model& model, int threads, const std::string& kernels, int context_size,
                                             const std::string& kv_type) {
  tabllm::CpuOptions options = tabllm::wasm::cpu_options(threads, kernels);
  if (context_size < 0) throw Error("context_size must be >= 0 (0: the model's), got " + std::to_string(context_size));
  options.context_size = context_size;
  options.kv_type = tabllm::kv_cache_type(kv_type);
  return std::make_unique<tabllm::CpuForward>(model, options);
}

}  // namespace

struct tabllm_session {
  tabllm_session(std::shared_ptr<const LoadedModel> loaded_model, std::unique_ptr<tabllm::Backend> backend)
      : loaded(std::move(loaded_model)), session(loaded->config(), loaded->tokenizer(), std::move(backend)) {
    tabllm::wasm::require_generative(loaded->config());
  }

  std::shared_ptr<const LoadedModel> loaded;
  tabllm::Session session;
  std::unique_ptr<tabllm::Generation> generation;  // the running or last request
  std::string chunk;        // the last tabllm_generate_next answer
  std::string result_json;  // the last tabllm_generate_result answer
  std::string tokens_json;  // the last tabllm_generate_last_tokens answer
  std::string info_json;    // the last tabllm_session_info answer
  std::vector<uint8_t> page;  // the last tabllm_session_export_page answer
  tabllm::HostDrivenBackend::Write kv_write;  // the last tabllm_session_take_kv_write answer

  tabllm::Generation& running() {
    if (!generation) throw Error("no generation is running: call tabllm_generate_begin first");
    return *generation;
  }
  // Runs one step of the generation; a step that failed half-way cannot be continued.
  template <class Step>
  const char* step(Step&& body) {
    tabllm::Generation& g = running();
    try {
      if (!body(g)) return nullptr;
    } catch (...) {
      generation.reset();
      throw;
    }
    return chunk.c_str();
  }
};

namespace {

tabllm::HostDrivenBackend& host_backend(tabllm_session& s) {
  auto* host = dynamic_cast<tabllm::HostDrivenBackend*>(&s.session.backend());
  if (!host) throw Error("this session's KV cache is the core's: only a session of tabllm_session_create_external* takes rows from its host");
  return *host;
}

}  // namespace

extern "C" {

const char* tabllm_last_error(void) { return tabllm::wasm::last_error.c_str(); }
const char* tabllm_last_error_param(void) { return tabllm::wasm::last_error_param.c_str(); }
const char* tabllm_last_error_code(void) { return tabllm::wasm::last_error_code.c_str(); }

const char* tabllm_debug_stats(void) {
  thread_local std::string stats;
  stats = nlohmann::ordered_json{{"header_parses", work_counters.header_parses.load()},
                                 {"tokenizations", work_counters.tokenizations.load()},
                                 {"format_parses", work_counters.format_parses.load()}}.dump();
  return stats.c_str();
}

const char* tabllm_build_info(void) {
  static const std::string info = tabllm::wasm::build_info_json();
  return info.c_str();
}

const char* tabllm_heap_stats(void) {
  thread_local char stats[64];  // not a std::string: reading the stats must not allocate
  const struct mallinfo m = mallinfo();
  std::snprintf(stats, sizeof stats, "{\"heap_bytes\":%zu,\"in_use_bytes\":%u}", emscripten_get_heap_size(),
                static_cast<unsigned>(m.uordblks));  // dlmalloc's int field holds the size mod 2^32
  return stats;
}

tabllm_loader* tabllm_loader_create(const uint8_t* bytes, size_t size, double file_size, double max_piece_bytes) {
  return guarded(
      [&]() -> tabllm_loader* {
        if (!bytes || size == 0) throw Error("no model bytes were given");
        if (!(file_size >= static_cast<double>(size)) || !(max_piece_bytes >= 0))
          throw Error("the file size must cover the bytes given and the piece size must be >= 0");
        const auto total = static_cast<uint64_t>(file_size);
        auto header = tabllm::gguf::parse_header_prefix(bytes, size, total);
        if (!header) return nullptr;  // no error: the header goes on past these bytes
        ++work_counters.header_parses;
        const uint64_t data_bytes = total - header->data_offset;
        std::unique_ptr<tabllm::gguf::File> file;
        try {
          file = tabllm::gguf::File::with_pieces(std::move(*header), total, max_piece_bytes > 0 ? static_cast<uint64_t>(max_piece_bytes) : kPieceBytes);
        } catch (const std::bad_alloc&) {
          throw Error("out of memory: the model's " + gigabytes(data_bytes) +
                      " of weights do not fit in the WebAssembly heap (4 GB at most, which also holds the KV cache and working memory): choose a smaller model or quantization");
        }
        auto loader = std::make_unique<tabllm_loader>();
        loader->pieces = file->pieces();
        loader->model = tabllm::Model::from_file(std::move(file));
        return loader.release();
      },
      static_cast<tabllm_loader*>(nullptr));
}

int tabllm_loader_pieces(tabllm_loader* loader) {
  return guarded([&] { return static_cast<int>(deref(loader, "loader").pieces.size()); }, -1);
}

uint8_t* tabllm_loader_piece(tabllm_loader* loader, int index, double* file_offset, double* size) {
  return guarded(
      [&] {
        const auto& pieces = deref(loader, "loader").pieces;
        if (index < 0 || static_cast<size_t>(index) >= pieces.size())
          throw Error("piece " + std::to_string(index) + " does not exist: the loader has " + std::to_string(pieces.size()));
        const tabllm::gguf::File::Piece& p = pieces[static_cast<size_t>(index)];
        if (file_offset) *file_offset = static_cast<double>(p.file_offset);
        if (size) *size = static_cast<double>(p.size);
        return p.data;
      },
      static_cast<uint8_t*>(nullptr));
}

tabllm_model* tabllm_loader_finish(tabllm_loader* loader) {
  const std::unique_ptr<tabllm_loader> owned(loader);
  return guarded(
      [&] {
        tabllm_loader& l = deref(loader, "loader");
        auto loaded = std::make_shared<LoadedModel>();
        loaded->model = std::move(l.model);
        const tabllm::Model& m = *loaded->model;
        loaded->info_json = tabllm::wasm::model_info_json(m.file().header(), m.config(), m.tokenizer(), true);
        return new tabllm_model{.loaded = std::move(loaded)};
      },
      static_cast<tabllm_model*>(nullptr));
}

void tabllm_loader_free(tabllm_loader* loader) { delete loader; }

tabllm_model* tabllm_model_load_header(const uint8_t* bytes, size_t size, double* needed) {
  if (needed) *needed = 0;
  return guarded(
      [&]() -> tabllm_model* {
        if (!bytes || size == 0) throw Error("no header bytes were given");
        auto header = tabllm::gguf::parse_header_prefix(bytes, size);
        if (!header) {
          if (needed) *needed = -1;  // the header's end is not known yet
          return nullptr;
        }
        ++work_counters.header_parses;
        const uint64_t prefix_size = tabllm::webgpu::prefix_bytes_needed(*header);
        if (prefix_size > size) {
          if (needed) *needed = static_cast<double>(prefix_size);
          return nullptr;
        }
        auto loaded = std::make_shared<LoadedModel>();
        loaded->header_config = std::make_unique<tabllm::ModelConfig>(tabllm::read_config(*header));
        tabllm::Vocab vocab = tabllm::Vocab::from_gguf(*header);
        const auto n_vocab = static_cast<size_t>(loaded->header_config->n_vocab);
        if (vocab.size() > n_vocab)
          throw Error("tokenizer has " + std::to_string(vocab.size()) + " tokens but the model's embedding has only " + std::to_string(n_vocab) + " rows");
        vocab.pad_to(n_vocab);
        loaded->header_tokenizer = std::make_unique<tabllm::Tokenizer>(std::move(vocab));
        loaded->info_json = tabllm::wasm::model_info_json(*header, *loaded->header_config, *loaded->header_tokenizer, false);
        loaded->prefix.assign(bytes, bytes + prefix_size);
        loaded->header = std::make_unique<tabllm::gguf::Header>(std::move(*header));
        return new tabllm_model{.loaded = std::move(loaded)};
      },
      static_cast<tabllm_model*>(nullptr));
}

void tabllm_model_free(tabllm_model* model) { delete model; }

const char* tabllm_model_info(tabllm_model* model) {
  return guarded([&] { return deref(model, "model").loaded->info_json.c_str(); }, static_cast<const char*>(nullptr));
}

const char* tabllm_tokenize(tabllm_model* model, const char* text, int add_bos) {
  return guarded(
      [&] {
        tabllm_model& m = deref(model, "model");
        ++work_counters.tokenizations;
        const auto ids = m.loaded->tokenizer().encode(text ? text : "", add_bos != 0);
        m.tokens_json = tabllm::wasm::token_ids_json(ids);
        return m.tokens_json.c_str();
      },
      static_cast<const char*>(nullptr));
}

tabllm_session* tabllm_session_create(tabllm_model* model, int threads, const char* kernels, int context_size, const char* kv_type) {
  return guarded(
      [&] {
        const auto& loaded = deref(model, "model").loaded;
        if (!loaded->model)
          throw Error("this model was opened from its header only (no weights): create its session with tabllm_session_create_external, or load the whole model with tabllm_loader_create");
        return new tabllm_session(loaded, cpu_backend(*loaded->model, threads, kernels ? kernels : "", context_size, kv_type ? kv_type : ""));
      },
      static_cast<tabllm_session*>(nullptr));
}

tabllm_session* tabllm_session_create_paged(tabllm_model* model, int threads, const char* kernels, int context_size, const char* kv_type,
                                           double kv_budget, int recall_positions) {
  return guarded(
      [&] {
        const auto& loaded = deref(model, "model").loaded;
        if (!loaded->model) throw Error("this model was opened from its header only (no weights): a kvBudget pages a CPU session's cache");
        if (!(kv_budget > 0)) throw Error("kv_budget must be a number of bytes > 0");
        if (context_size < 0) throw Error("context_size must be >= 0 (0: the model's), got " + std::to_string(context_size));
        const tabllm::ModelConfig& c = loaded->config();
        const int64_t context = context_size > 0 ? context_size : c.context_length;
        const std::string type = kv_type ? kv_type : "";
        const size_t per_position = 2 * static_cast<size_t>(c.n_layers) * tabllm::type_row_bytes(tabllm::kv_cache_type(type), static_cast<uint64_t>(c.kv_dim()));
        const int64_t window = tabllm::kv_budget_window(static_cast<size_t>(std::min(kv_budget, 1e18)), per_position, context);
        auto s = std::make_unique<tabllm_session>(loaded, cpu_backend(*loaded->model, threads, kernels ? kernels : "", static_cast<int>(window), type));
        const int64_t recall = recall_positions < 0 ? window / 2 : recall_positions;
        s->session.set_kv_pager(std::make_unique<tabllm::KvPager>(std::make_unique<tabllm::wasm::HostKvPageStore>(s.get()),
                                                                  tabllm::KvPagerOptions{context, recall}));
        return s.release();
      },
      static_cast<tabllm_session*>(nullptr));
}

tabllm_session* tabllm_session_create_external(tabllm_model* model, int context_size) {
  return guarded(
      [&] {
        const auto& loaded = deref(model, "model").loaded;
        if (context_size < 0) throw Error("context_size must be >= 0 (0: the model's), got " + std::to_string(context_size));
        const int64_t ctx = context_size > 0 ? context_size : loaded->config().context_length;
        return new tabllm_session(loaded, std::make_unique<tabllm::HostDrivenBackend>(ctx));
      },
      static_cast<tabllm_session*>(nullptr));
}

tabllm_session* tabllm_session_create_external_kv(tabllm_model* model, int context_size, const char* kv_type, double kv_budget) {
  return guarded(
      [&] {
        const auto& loaded = deref(model, "model").loaded;
        if (!(kv_budget >= 0)) throw Error("kv_budget must be a number of bytes >= 0 (0: no budget)");
        if (context_size < 0) throw Error("context_size must be >= 0 (0: the model's), got " + std::to_string(context_size));
        const tabllm::ModelConfig& c = loaded->config();
        const int64_t context = context_size > 0 ? context_size : c.context_length;
        const std::string type = kv_type ? kv_type : "f16";
        const tabllm::KvLayout kv{tabllm::kv_cache_type(type), c.n_layers, static_cast<size_t>(tabllm::webgpu::kv_row_bytes(type, c.kv_dim()))};
        const int64_t window = kv_budget > 0 ? tabllm::kv_budget_window(static_cast<size_t>(std::min(kv_budget, 1e18)), kv.bytes_per_position(), context) : context;
        auto s = std::make_unique<tabllm_session>(loaded, std::make_unique<tabllm::HostDrivenBackend>(window, kv));
        if (kv_budget > 0)
          s->session.set_kv_pager(std::make_unique<tabllm::KvPager>(std::make_unique<tabllm::wasm::HostKvPageStore>(s.get()),
                                                                    tabllm::KvPagerOptions{context, 0}));
        return s.release();
      },
      static_cast<tabllm_session*>(nullptr));
}

void tabllm_session_free(tabllm_session* session) { delete session; }

const char* tabllm_session_info(tabllm_session* session) {
  return guarded(
      [&] {
        tabllm_session& s = deref(session, "session");
        const tabllm::KvLayout kv = s.session.backend().kv_layout();
        tabllm::KvPager* pager = s.session.kv_pager();
        nlohmann::json j = {{"context_size", pager ? pager->context() : s.session.backend().context_size()},
                            {"kv_window", s.session.backend().context_size()},
                            {"kv_type", kv.n_layers ? nlohmann::json(tabllm::type_traits(kv.type).name) : nlohmann::json()},
                            {"kv_bytes_per_token", kv.bytes_per_position()},
                            {"cached_tokens", s.session.cached_tokens()}};
        s.info_json = j.dump();
        return s.info_json.c_str();
      },
      static_cast<const char*>(nullptr));
}

const uint8_t* tabllm_session_export_page(tabllm_session* session, int start, int end, size_t* size) {
  if (size) *size = 0;
  return guarded(
      [&] {
        tabllm_session& s = deref(session, "session");
        s.page = s.session.export_kv_page(start, end);
        if (size) *size = s.page.size();
        return static_cast<const uint8_t*>(s.page.data());
      },
      static_cast<const uint8_t*>(nullptr));
}

int tabllm_session_import_page(tabllm_session* session, tabllm_request* request, const uint8_t* page, size_t size) {
  return guarded(
      [&] {
        tabllm_session& s = deref(session, "session");
        const tabllm_request& r = deref(request, "request");
        if (r.loaded != s.loaded) throw Error("the request was made for another model than the session's: create it from the session's model");
        if (!page) throw Error("page is NULL");
        s.generation.reset();  // a generation reads the cached tokens: it cannot outlive a restore
        return static_cast<int>(s.session.import_kv_page({page, size}, r.request.prompt_tokens));
      },
      -1);
}

tabllm_request* tabllm_request_create(tabllm_model* model, const char* prompt, const char* params_json) {
  return guarded([&] { return prepare_request(deref(model, "model").loaded, prompt, params_json); },
                 static_cast<tabllm_request*>(nullptr));
}

const char* tabllm_request_info(tabllm_request* request) {
  return guarded([&] { return deref(request, "request").info_json.c_str(); }, static_cast<const char*>(nullptr));
}

const char* tabllm_request_tokens(tabllm_request* request) {
  return guarded(
      [&] {
        tabllm_request& r = deref(request, "request");
        if (r.tokens_json.empty()) r.tokens_json = tabllm::wasm::token_ids_json(r.request.prompt_tokens);
        return r.tokens_json.c_str();
      },
      static_cast<const char*>(nullptr));
}

void tabllm_request_free(tabllm_request* request) { delete request; }

int tabllm_generate_start(tabllm_session* session, tabllm_request* request, const char* params_json) {
  return guarded([&] {
    tabllm_session& s = deref(session, "session");
    const tabllm_request& r = deref(request, "request");
    if (r.loaded != s.loaded) throw Error("the request was made for another model than the session's: create it from the session's model");
    s.generation.reset();
    s.generation = s.session.start(r.start(params_json));
    return 0;
  });
}

int tabllm_generate_begin(tabllm_session* session, const char* prompt, const char* params_json) {
  return guarded([&] {
    tabllm_session& s = deref(session, "session");
    const std::unique_ptr<tabllm_request> r(prepare_request(s.loaded, prompt, params_json));
    s.generation.reset();
    s.generation = s.session.start(r->start(nullptr));
    return 0;
  });
}

const char* tabllm_generate_next(tabllm_session* session) {
  return guarded(
      [&]() -> const char* {
        tabllm_session& s = deref(session, "session");
        return s.step([&](tabllm::Generation& g) { return g.step(s.chunk); });
      },
      static_cast<const char*>(nullptr));
}

int tabllm_generate_pending(tabllm_session* session, const int32_t** tokens, int* pos) {
  return guarded(
      [&] {
        tabllm::Generation& g = deref(session, "session").running();
        const auto pending = g.pending();
        if (tokens) *tokens = pending.data();
        if (pos) *pos = static_cast<int>(g.pending_pos());
        return static_cast<int>(pending.size());
      },
      -1);
}

int tabllm_generate_pending_shift(tabllm_session* session, int32_t* keep, int32_t* discard, int32_t* end) {
  return guarded(
      [&] {
        tabllm_session& s = deref(session, "session");
        s.running();
        auto* host = dynamic_cast<tabllm::HostDrivenBackend*>(&s.session.backend());
        const std::optional<tabllm::KvShift> shift = host ? host->take_shift() : std::nullopt;
        if (!shift) return 0;
        if (keep) *keep = static_cast<int32_t>(shift->keep);
        if (discard) *discard = static_cast<int32_t>(shift->discard);
        if (end) *end = static_cast<int32_t>(shift->end);
        return 1;
      },
      -1);
}

int tabllm_generate_page_out(tabllm_session* session, const uint8_t* rows, size_t size, const char* failure) {
  return guarded([&] {
    tabllm_session& s = deref(session, "session");
    s.running();
    tabllm::HostDrivenBackend& host = host_backend(s);
    tabllm::KvPager* pager = s.session.kv_pager();
    if (!pager || pager->awaiting().count == 0) return 0;
    const tabllm::KvPager::Awaiting& a = pager->awaiting();
    if (failure && *failure) {
      pager->complete_page_out(host, failure);
      return 0;
    }
    if (!rows) throw Error("rows is NULL: give the rows read back, or a failure");
    host.stage_rows(a.start, a.count, {rows, size});
    pager->complete_page_out(host);
    host.clear_staged();
    return 0;
  });
}

int tabllm_session_stage_rows(tabllm_session* session, int start, int count, const uint8_t* rows, size_t size) {
  return guarded([&] {
    tabllm::HostDrivenBackend& host = host_backend(deref(session, "session"));
    if (rows) host.stage_rows(start, count, {rows, size});
    else host.clear_staged();
    return 0;
  });
}

const uint8_t* tabllm_session_take_kv_write(tabllm_session* session, int* start, int* count, size_t* size) {
  if (size) *size = 0;
  return guarded(
      [&]() -> const uint8_t* {
        tabllm_session& s = deref(session, "session");
        std::optional<tabllm::HostDrivenBackend::Write> next = host_backend(s).take_write();
        if (!next) return nullptr;
        const auto& w = s.kv_write = std::move(*next);
        if (start) *start = static_cast<int>(w.start);
        if (count) *count = static_cast<int>(w.count);
        if (size) *size = w.rows.size();
        return w.rows.data();
      },
      static_cast<const uint8_t*>(nullptr));
}

int tabllm_generate_allowed_tokens(tabllm_session* session, uint32_t* words, int n_words) {
  return guarded(
      [&] {
        if (n_words < 0) throw Error("n_words must be >= 0");
        return deref(session, "session").running().allowed_tokens({words, static_cast<size_t>(n_words)}) ? 1 : 0;
      },
      -1);
}

int tabllm_generate_host_can_sample(tabllm_session* session) {
  return guarded([&] { return deref(session, "session").running().host_can_sample() ? 1 : 0; }, -1);
}

const char* tabllm_generate_advance(tabllm_session* session, const float* logits) {
  return guarded(
      [&]() -> const char* {
        tabllm_session& s = deref(session, "session");
        return s.step([&](tabllm::Generation& g) { return g.advance(logits, s.chunk); });
      },
      static_cast<const char*>(nullptr));
}

const char* tabllm_generate_advance_token(tabllm_session* session, int32_t id) {
  return guarded(
      [&]() -> const char* {
        tabllm_session& s = deref(session, "session");
        return s.step([&](tabllm::Generation& g) { return g.advance_with_token(id, s.chunk); });
      },
      static_cast<const char*>(nullptr));
}

int tabllm_generate_draft(tabllm_session* session, int most, const int32_t* proposed, int n) {
  return guarded(
      [&] {
        if (most < 1) throw Error("most must be >= 1 (the drafts a verification call takes beside the pending token), got " + std::to_string(most));
        if (n < 0 || (n > 0 && !proposed)) throw Error("proposed must hold n >= 0 token ids");
        return deref(session, "session").running().draft_pending(most, {proposed, static_cast<size_t>(n)}) ? 1 : 0;
      },
      -1);
}

int tabllm_generate_draft_room(tabllm_session* session, int most) {
  return guarded([&] { return static_cast<int>(deref(session, "session").running().draft_room(most)); }, -1);
}

const char* tabllm_generate_advance_verified(tabllm_session* session, const float* rows) {
  return guarded(
      [&]() -> const char* {
        tabllm_session& s = deref(session, "session");
        return s.step([&](tabllm::Generation& g) { return g.advance_verified(rows, s.chunk); });
      },
      static_cast<const char*>(nullptr));
}

const char* tabllm_generate_advance_verified_tokens(tabllm_session* session, const int32_t* ids, int n) {
  return guarded(
      [&]() -> const char* {
        tabllm_session& s = deref(session, "session");
        if (!ids || n < 1) throw Error("advance_verified_tokens needs the argmax of every pending position (ids, n >= 1)");
        return s.step([&](tabllm::Generation& g) { return g.advance_verified_tokens({ids, static_cast<size_t>(n)}, s.chunk); });
      },
      static_cast<const char*>(nullptr));
}

const char* tabllm_generate_last_tokens(tabllm_session* session) {
  return guarded(
      [&] {
        tabllm_session& s = deref(session, "session");
        const tabllm::Generation& g = s.running();
        s.tokens_json = tabllm::wasm::last_tokens_json(g.result(), g.last_step_tokens(), s.loaded->tokenizer());
        return s.tokens_json.c_str();
      },
      static_cast<const char*>(nullptr));
}

void tabllm_generate_abort(tabllm_session* session) {
  guarded(
      [&] {
        tabllm_session& s = deref(session, "session");
        if (s.generation) s.generation->abort();
        return 0;
      },
      -1);
}

const char* tabllm_generate_result(tabllm_session* session) {
  return guarded(
      [&] {
        tabllm_session& s = deref(session, "session");
        if (!s.generation) throw Error("no generation to report on: call tabllm_generate_begin first");
        if (!s.generation->finished())
          throw Error("the generation is still running: call tabllm_generate_next until it returns NULL, or tabllm_generate_abort");
        s.result_json = tabllm::wasm::result_json(s.generation->result(), s.loaded->tokenizer(), s.session.kv_pager() != nullptr);
        return s.result_json.c_str();
      },
      static_cast<const char*>(nullptr));
}

int tabllm_logits(tabllm_session* session, const int32_t* ids, int n, float* out) {
  return guarded(
      [&] {
        tabllm_session& s = deref(session, "session");
        s.generation.reset();
        if (!ids || !out || n <= 0) throw Error("tabllm_logits needs token ids (n >= 1) and an output buffer");
        const std::vector<int32_t> tokens(ids, ids + n);
        const int64_t n_vocab = s.loaded->config().n_vocab;
        for (const int32_t id : tokens)
          if (id < 0 || id >= n_vocab) throw Error("token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(n_vocab) + ")");
        const std::vector<float> logits = s.session.logits_all(tokens);
        std::copy(logits.begin(), logits.end(), out);
        return 0;
      },
      -1);
}

}  // extern "C"
