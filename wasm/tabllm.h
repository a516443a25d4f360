/* The C ABI of tabllm: the whole surface the package uses, for every host (Web Worker, Service Worker,
 * Node). Stepwise, so a host streams text and aborts between tokens without callbacks into JavaScript.
 * In JavaScript only js/src/core/wasm.mjs calls it. Tests and benchmarks load a development module with
 * more exports (wasm/dev/tabllm_dev.h), which the package does not ship.
 *
 * Errors: a function that fails returns 0 (handles), NULL (strings) or -1 (status); tabllm_last_error()
 * then says why, and tabllm_last_error_param() names the request parameter at fault when there is one.
 * Every call clears the previous error first. No C++ exception ever leaves these functions.
 *
 * Strings: the library owns every string it returns; read it before the next call with the same handle
 * (for tabllm_last_error: before the next call on the same thread). Strings passed in are UTF-8, NUL-ended,
 * and only read during the call. */
#ifndef TABLLM_H
#define TABLLM_H
#include <stddef.h>
#include <stdint.h>

#ifdef __EMSCRIPTEN__
#include <emscripten/em_macros.h>
#define TABLLM_API EMSCRIPTEN_KEEPALIVE
#else
#define TABLLM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tabllm_model tabllm_model;
typedef struct tabllm_session tabllm_session;
typedef struct tabllm_request tabllm_request;
typedef struct tabllm_loader tabllm_loader;

/* Why the last failing call on this thread failed ("" when it did not fail). */
TABLLM_API const char* tabllm_last_error(void);
/* The request parameter the last error is about, as OpenAI names it ("stop", "response_format.json_schema
 * .schema", "tools[0].function.parameters"), or "" when the error is not about one parameter; and what was
 * wrong with it: "invalid_type", "invalid_value" (OpenAI's error codes), or "". */
TABLLM_API const char* tabllm_last_error_param(void);
TABLLM_API const char* tabllm_last_error_code(void);
/* {"header_parses", "tokenizations", "format_parses"}: how often this module has parsed a GGUF header,
 * tokenized a text and read a response_format since it started. For tests: a load parses its header once,
 * a request tokenizes its prompt and reads its format once, however many choices it has. */
TABLLM_API const char* tabllm_debug_stats(void);
/* {"heap_bytes": the heap's size (it only grows, so this is its peak), "in_use_bytes": bytes allocated and
 * not freed}. For tests (a failed load gives back what it took) and benchmarks. */
TABLLM_API const char* tabllm_heap_stats(void);
/* {"simd": "wasm-simd128" or "scalar" (the Simd path's instruction set), "threads": built with threads}. */
TABLLM_API const char* tabllm_build_info(void);

/* Loading a whole GGUF model into the heap, its tensor data in pieces of bounded size rather than one
 * block, so that a model up to what the 4 GB heap holds loads (one block of 2 GB does not), and the bytes
 * go from the host's stream straight to their place:
 *   1. tabllm_loader_create: the first `size` bytes of the file at `bytes` (only read during the call) and
 *      the file's size. Once they hold the whole header it checks the model (config, tokenizer, tensors)
 *      and allocates its pieces; before that it returns NULL with no error: call again with more bytes.
 *      `max_piece_bytes` bounds a piece (a larger tensor gets one of its own); 0 for the default, 64 MB.
 *      On errors (not a GGUF, an unsupported model, out of memory) NULL with tabllm_last_error set.
 *   2. For each piece (index < tabllm_loader_pieces), tabllm_loader_piece returns where it is and sets
 *      *file_offset and *size to the bytes of the file that go there. Pieces lie in file order and hold
 *      whole tensors; the bytes between them (alignment padding) go nowhere.
 *   3. tabllm_loader_finish: the model, once the host has written every piece. It frees the loader.
 * tabllm_loader_free gives up instead and frees every piece (NULL is ignored). */
TABLLM_API tabllm_loader* tabllm_loader_create(const uint8_t* bytes, size_t size, double file_size, double max_piece_bytes);
TABLLM_API int tabllm_loader_pieces(tabllm_loader* loader);
TABLLM_API uint8_t* tabllm_loader_piece(tabllm_loader* loader, int index, double* file_offset, double* size);
TABLLM_API tabllm_model* tabllm_loader_finish(tabllm_loader* loader);
TABLLM_API void tabllm_loader_free(tabllm_loader* loader);
/* A model from its header only — config and tokenizer, no weights — for hosts that run the forward pass
 * themselves (WebGPU streams the weights to the GPU, never into this heap). `bytes` are the first `size`
 * bytes of the file, only read during the call. The header is parsed once and kept, with the small
 * rope_freqs tensor when the model has one, for tabllm_webgpu_plan_model. When the bytes end too early it
 * returns NULL with *needed set to how many to pass (-1: the header's end is not known yet, pass more) and
 * no error; on errors NULL with *needed 0. Its sessions come from tabllm_session_create_external. */
TABLLM_API tabllm_model* tabllm_model_load_header(const uint8_t* bytes, size_t size, double* needed);
/* Releases the host's handle; the model lives on until its last session is freed. NULL is ignored. */
TABLLM_API void tabllm_model_free(tabllm_model* model);
/* JSON: name, arch, parameters, tensor_bytes, tensor_types, vocab, dim, layers, heads, kv_heads,
 * head_dim, ffn, context, tokenizer, bos, eos, eot (ids, -1: none), add_bos, bos_token, eos_token (their
 * text), chat_template ("" when the file has none), weights (false: header only). Valid as long as the
 * model handle. */
TABLLM_API const char* tabllm_model_info(tabllm_model* model);
/* JSON array of token ids for `text` (with BOS first when add_bos is non-zero and the vocabulary has one). */
TABLLM_API const char* tabllm_tokenize(tabllm_model* model, const char* text, int add_bos);

/* A conversation on the CPU: `threads` >= 1 (the caller included; 1 in single-threaded builds),
 * `kernels` "simd" or "scalar" (the reference path), `context_size` in tokens (0: the model's), `kv_type`
 * the KV cache's element type: "f16", "q8_0" or "f32". */
TABLLM_API tabllm_session* tabllm_session_create(tabllm_model* model, int threads, const char* kernels, int context_size,
                                                 const char* kv_type);
/* A CPU conversation under a KV budget (docs/long-context.md, "Paged KV"): the cache holds the window of
 * whole pages of 256 positions that `kv_budget` bytes hold (an error names the least budget that works),
 * the logical context is `context_size` (0: the model's); the rows a full window's shift drops go to the
 * host's page store, Module.tabllmKvPageStores.get(session) (synchronous put(name, bytes), get(name),
 * remove(name); what it throws is a warning and the shift a plain one), and up to `recall_positions`
 * positions of pages (-1: half the window) come back before a long prompt's last piece. tabllm_session_info's context_size is
 * the logical context, kv_window the window; tabllm_generate_result adds kv_pages ({pages_out, pages_in,
 * bytes_out, bytes_in, page_out_ms, rehydrate_ms, failures}) and warnings. */
TABLLM_API tabllm_session* tabllm_session_create_paged(tabllm_model* model, int threads, const char* kernels, int context_size,
                                                       const char* kv_type, double kv_budget, int recall_positions);
/* A conversation whose forward pass the host runs (see tabllm_generate_pending): `context_size` in tokens
 * (0: the model's). Works with either kind of model handle. */
TABLLM_API tabllm_session* tabllm_session_create_external(tabllm_model* model, int context_size);
/* A host-driven conversation whose cache the core knows the layout of (WebGPU's rows of `kv_type`,
 * core/backend/webgpu/plan.h), so that its rows cross as KV pages (tabllm_session_stage_rows,
 * tabllm_session_take_kv_write: a prefix cache). With `kv_budget` > 0 bytes the host's cache holds the
 * window the budget holds (tabllm_session_info's kv_window: plan the GPU's cache for it) of the logical
 * context `context_size` (0: the model's); when a shift drops rows, the host reads them back before it runs
 * the shift and hands them over with tabllm_generate_page_out, which writes them as KV pages to
 * Module.tabllmKvPageStores.get(session), as tabllm_session_create_paged does. */
TABLLM_API tabllm_session* tabllm_session_create_external_kv(tabllm_model* model, int context_size, const char* kv_type, double kv_budget);
TABLLM_API void tabllm_session_free(tabllm_session* session);
/* JSON: context_size, kv_window (positions the cache holds: context_size unless paged), kv_type ("f32", "f16",
 * "q8_0"; null when the host keeps the cache in a layout the core does not know), kv_bytes_per_token,
 * cached_tokens (the token ids whose keys and values the cache holds). Valid until the next call. */
TABLLM_API const char* tabllm_session_info(tabllm_session* session);
/* KV pages (docs/long-context.md): the cached positions [start, end) as a checksummed page of *size bytes,
 * valid until the next call on the session; NULL on errors. */
TABLLM_API const uint8_t* tabllm_session_export_page(tabllm_session* session, int start, int end, size_t* size);
/* Restores a page whose tokens are the request's prompt's at its positions (pages in order, the first at or
 * before the end of what the cache holds of the prompt); returns the prompt's positions now cached, or -1
 * (the page is refused: damaged, of another model or cache type, or of other tokens). */
TABLLM_API int tabllm_session_import_page(tabllm_session* session, tabllm_request* request, const uint8_t* page, size_t size);
/* A host-driven session's cache crosses as rows in the page layout (per layer, the key rows then the value
 * rows of the positions): tabllm_session_stage_rows hands the core the rows [start, start + count) the host
 * read back (what tabllm_session_export_page copies; rows NULL forgets them), and after
 * tabllm_session_import_page the host takes each write with tabllm_session_take_kv_write (rows of
 * *count positions from *start, *size bytes, valid until the next call; NULL when none is left) and writes
 * it to its cache before the next pending tokens. Both -1/NULL with tabllm_last_error on errors. */
TABLLM_API int tabllm_session_stage_rows(tabllm_session* session, int start, int count, const uint8_t* rows, size_t size);
TABLLM_API const uint8_t* tabllm_session_take_kv_write(tabllm_session* session, int* start, int* count, size_t* size);

/* A request checked once, to start any number of times (OpenAI's `n` choices): reads params_json, reads
 * and compiles its response_format, tokenizes the prompt. The sampling settings are checked with OpenAI's
 * ranges: temperature [0, 2], top_p (0, 1], top_k >= 0, min_p [0, 1], repeat_penalty (0, 10],
 * frequency_penalty and presence_penalty [-2, 2], stop: up to 4 non-empty strings, logit_bias: token ids
 * of the vocabulary with biases in [-100, 100]. params_json: an object with any of max_tokens,
 * temperature, top_k, top_p, min_p, seed, repeat_penalty, repeat_last_n, frequency_penalty,
 * presence_penalty, logit_bias ({"id": bias}), stop (string or array of strings), ignore_eos, add_bos,
 * logprobs (-1: off; 0..20: the chosen token's log-probability and that many alternatives),
 * response_format, truncation ("disabled", the default: a prompt that does not fit the session's context is
 * refused; "auto": BOS and the prompt's newest tokens are kept, leaving room for max_tokens, at most a
 * quarter of the context), n_keep (4: leading tokens a context shift keeps; at most half the context),
 * speculative ({"method": "prompt-lookup" | "self" | "off", "k": 1..32, "ngram": 1..8, "draft_layers":
 * below the model's layers}: speculative decoding, docs/speculative.md; a step may then take several tokens);
 * NULL or "" for the defaults. Unknown keys and wrong types are errors naming the key
 * (tabllm_last_error_param). Does not disturb a generation running on the model's sessions.
 *
 * response_format is compiled for this model's vocabulary (compiled formats are kept, so the next request
 * with the same format starts at once): {"type": "text" | "json_object"}, {"type": "json_schema",
 * "json_schema": {"name", "schema", "strict"}}, {"type": "grammar", "grammar", "syntax": "gbnf" | "ebnf"},
 * {"type": "regex", "pattern"}, and for hosts serving tools {"type": "tool_call", "schema", "prefix",
 * "suffix", "allow_text"} (a call to match `schema` between prefix and suffix, or with allow_text plain text
 * that does not start like one). An invalid format names its parameter ("response_format.json_schema.schema")
 * with the keyword, line or column at fault. */
TABLLM_API tabllm_request* tabllm_request_create(tabllm_model* model, const char* prompt, const char* params_json);
/* {"prompt_tokens": N, "warnings": ["POINTER: what the format does not enforce"], "speculative": "off" |
 * "prompt-lookup" | "self" (the method its steps draft with: a host-driven runner picks its step loop by it)}. */
TABLLM_API const char* tabllm_request_info(tabllm_request* request);
/* The request's prompt as a JSON array of token ids (before any truncation). */
TABLLM_API const char* tabllm_request_tokens(tabllm_request* request);
TABLLM_API void tabllm_request_free(tabllm_request* request);
/* Starts generating a prepared request on a session of the same model, with `params_json` (NULL or "")
 * applied over its parameters for this start only (a choice's seed or max_tokens); ends any generation
 * still running on the session. The KV cache of the previous request is reused for the prompt's common
 * prefix. A generation that fills the context goes on: the context shifts (the first n_keep tokens stay,
 * the older half of the rest is dropped, the kept keys are re-rotated), so only max_tokens ends it with
 * "length". Returns 0, or -1 on error (the prompt is empty, or does not fit the session's context and
 * truncation is not "auto"). */
TABLLM_API int tabllm_generate_start(tabllm_session* session, tabllm_request* request, const char* params_json);
/* tabllm_request_create, tabllm_generate_start and tabllm_request_free in one call. */
TABLLM_API int tabllm_generate_begin(tabllm_session* session, const char* prompt, const char* params_json);
/* Generates the next token: returns the text now safe to show (possibly "": a partial UTF-8 character or
 * a possible stop string is held back), or NULL once the generation has finished (or on error: then
 * tabllm_last_error() is not empty). Concatenating every chunk gives the whole text. */
TABLLM_API const char* tabllm_generate_next(tabllm_session* session);
/* The host-driven step, for sessions whose forward pass the host runs (any session may use it):
 * tabllm_generate_pending returns how many tokens the next forward pass must process, points *tokens at
 * them (valid until the next call on the session) and sets *pos to the first one's position; 0 when the
 * next advance needs no logits (the generation finishes), -1 on error. The host runs the model over them
 * and calls tabllm_generate_advance with the last token's logits (vocab floats; NULL when pending was 0),
 * which samples and returns what tabllm_generate_next would. When tabllm_generate_host_can_sample says 1
 * (greedy, no penalties, bias or logprobs; 0 otherwise, -1 on error) the host may instead take the argmax
 * itself (ties to the lowest id) and call tabllm_generate_advance_token; under a response_format, the argmax
 * over the tokens tabllm_generate_allowed_tokens lets through.
 *
 * Before running the pending tokens the host asks tabllm_generate_pending_shift whether the context shifted:
 * 1 (handed out once) when it must first shift its KV cache: drop the rows of positions [keep, keep +
 * discard), move those of [keep + discard, end) down by discard and rotate their keys by -discard (RoPE;
 * the WebGPU plan's `shift` dispatch list does it); 0 when there is nothing to shift, -1 on error. A session
 * of tabllm_session_create shifts its own cache and reports nothing here. */
TABLLM_API int tabllm_generate_pending(tabllm_session* session, const int32_t** tokens, int* pos);
TABLLM_API int tabllm_generate_pending_shift(tabllm_session* session, int32_t* keep, int32_t* discard, int32_t* end);
/* A session of tabllm_session_create_external_kv with a kv_budget, after a shift and before the host runs it: the rows of
 * [keep, keep + discard) as read back (in the page layout, tabllm_session_stage_rows), written as KV pages;
 * or, with `failure` (rows NULL), why they could not be read: they are dropped with a warning, as a plain
 * shift drops them. 0 (also when nothing waits), -1 on errors. */
TABLLM_API int tabllm_generate_page_out(tabllm_session* session, const uint8_t* rows, size_t size, const char* failure);
TABLLM_API int tabllm_generate_host_can_sample(tabllm_session* session);
TABLLM_API const char* tabllm_generate_advance(tabllm_session* session, const float* logits);
TABLLM_API const char* tabllm_generate_advance_token(tabllm_session* session, int32_t id);
/* Speculative decoding in the host-driven step (docs/speculative.md): before running the pending tokens, a
 * host that can verify several positions in one forward call asks tabllm_generate_draft to draft at most
 * `most` tokens after the pending one with the request's method (prompt-lookup; "self" needs a backend that
 * runs its first layers, and is refused when the generation starts; "draft", on a session of
 * tabllm_session_create_external, takes the n `proposed` tokens of the host's own draft model, at most
 * tabllm_generate_draft_room of them: the step's adaptive length, 0 for a plain step). 1: tabllm_generate_pending now gives
 * the pending token and its drafts; the host runs them in one forward call and hands every position's result
 * over: tabllm_generate_advance_verified with their logits (n rows of vocab floats, row i after the first i
 * pending tokens), or, when host_can_sample says 1 and there is no response_format,
 * tabllm_generate_advance_verified_tokens with each row's argmax (ties to the lowest id). Both return what
 * tabllm_generate_next would, the step taking the kept drafts and the model's token after them. 0: a plain
 * step (off, nothing drafted, no room); -1 on error. */
TABLLM_API int tabllm_generate_draft(tabllm_session* session, int most, const int32_t* proposed, int n);
TABLLM_API int tabllm_generate_draft_room(tabllm_session* session, int most);
TABLLM_API const char* tabllm_generate_advance_verified(tabllm_session* session, const float* rows);
TABLLM_API const char* tabllm_generate_advance_verified_tokens(tabllm_session* session, const int32_t* ids, int n);
/* Under a response_format: writes the tokens allowed at the next step as a bitset (bit id % 32 of
 * words[id / 32]; n_words >= (vocab + 31) / 32) and returns 1; 0 when the request has no format, -1 on
 * error (also when no token can continue the format). */
TABLLM_API int tabllm_generate_allowed_tokens(tabllm_session* session, uint32_t* words, int n_words);
/* The tokens the last step took (zero or one; up to k + 1 with speculative decoding), as JSON:
 * [{"id", "bytes": [...]}], with "logprob" and "top_logprobs": [{"id", "bytes", "logprob"}] when the
 * request asked for logprobs. */
TABLLM_API const char* tabllm_generate_last_tokens(tabllm_session* session);
/* Ends the running generation now (finish_reason "abort"). The session stays usable. */
TABLLM_API void tabllm_generate_abort(tabllm_session* session);
/* After tabllm_generate_next returned NULL or after an abort: JSON with text, finish_reason ("stop",
 * "length": max_tokens reached, "abort"), prompt_tokens (after truncation), prompt_tokens_reused,
 * generated_tokens, ttft_ms, prefill_ms, decode_ms, prefill_tokens_per_s, decode_tokens_per_s,
 * truncated_prompt_tokens (dropped from the prompt's front by truncation "auto"), context_shifts, tokens (as
 * tabllm_generate_last_tokens, all), and with speculative decoding speculative ({method, drafted, accepted,
 * acceptance_rate, forward_passes, draft_passes}). */
TABLLM_API const char* tabllm_generate_result(tabllm_session* session);

/* Logits of every position of the `n` token ids at `ids`, processed from position 0 (parity tests,
 * perplexity): writes n * vocab floats to `out`. Ends any running generation. Returns 0, or -1. */
TABLLM_API int tabllm_logits(tabllm_session* session, const int32_t* ids, int n, float* out);

/* ---- Embeddings (docs/embeddings.md) ----
 * An embedding model is an encoder (bert, nomic-bert) or a decoder whose GGUF names its pooling
 * (Qwen3-Embedding: last); tabllm_model_info says "kind": "embedding" and its "pooling". Sessions refuse
 * encoders; chat models refuse embedders. */
typedef struct tabllm_embedder tabllm_embedder;
/* An embedder on the CPU: `threads` and `kernels` as tabllm_session_create. */
TABLLM_API tabllm_embedder* tabllm_embedder_create(tabllm_model* model, int threads, const char* kernels);
TABLLM_API void tabllm_embedder_free(tabllm_embedder* embedder);
/* JSON array of the token ids of one input `text`, with the special tokens the model puts around an input
 * (WordPiece: [CLS] ... [SEP]; otherwise BOS and EOS as the vocabulary adds them). Valid until the next call
 * with the same model. */
TABLLM_API const char* tabllm_embed_tokenize(tabllm_model* model, const char* text);
/* Embeds `n_inputs` inputs in one call: input i is the lengths[i] token ids that follow input i - 1 at `ids`.
 * The inputs run together in one forward pass, each attending only to itself (decoders: as many as fit the
 * context a pass). Writes n_inputs * dim floats to `out`, each input's pooled, unit-length embedding.
 * Returns 0, or -1 (an input is empty, longer than the model's context, or holds an id outside the
 * vocabulary: the error names it). */
TABLLM_API int tabllm_embed(tabllm_embedder* embedder, const int32_t* ids, const int32_t* lengths, int n_inputs, float* out);
/* Texts as a JSON array of strings: each tokenized as tabllm_embed_tokenize, then embedded as tabllm_embed. */
TABLLM_API int tabllm_embed_texts(tabllm_embedder* embedder, const char* texts_json, float* out);

/* ---- WebGPU: the plan a host's executor carries out (js/src/gpu/executor.mjs) ----
 * The core decides every buffer, kernel (WGSL) and dispatch of a model on WebGPU; the host creates them
 * and streams the weights from the file into the buffers the plan names (docs/webgpu.md). */
typedef struct tabllm_webgpu_plan tabllm_webgpu_plan;

/* The plan of a model (header-only or whole) from the header its handle keeps. options_json: the
 * device's limits and the plan's choices ({"limits": {...}, "context_size", "max_batch", "top_k", ...};
 * core/backend/webgpu/plan.h PlanOptions). A model that cannot fit the limits is an error that says which
 * buffer needs how many bytes. An encoder (bert, nomic-bert) gets its embedding pass instead
 * (core/backend/webgpu/encoder_plan.h: kind "encoder"). */
TABLLM_API tabllm_webgpu_plan* tabllm_webgpu_plan_model(tabllm_model* model, const char* options_json);
/* The plan as JSON (buffers with their uploads and fills, pipelines with their WGSL, the decode and
 * prefill dispatch lists) and its binary blob (the fills' bytes: RoPE table, constants). Both valid until
 * tabllm_webgpu_plan_free. */
TABLLM_API const char* tabllm_webgpu_plan_json(tabllm_webgpu_plan* plan);
TABLLM_API const uint8_t* tabllm_webgpu_plan_blob(tabllm_webgpu_plan* plan);
TABLLM_API size_t tabllm_webgpu_plan_blob_size(tabllm_webgpu_plan* plan);
TABLLM_API void tabllm_webgpu_plan_free(tabllm_webgpu_plan* plan);

#ifdef __cplusplus
}
#endif
#endif
