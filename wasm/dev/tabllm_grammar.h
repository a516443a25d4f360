/* The grammar engine's C ABI (core/grammar): token vocabularies, compiled grammars and matchers, for the
 * grammar benchmarks (bench/grammar); development module only (build-wasm/tabllm-dev.mjs). Conventions
 * as in tabllm.h: handles are NULL and statuses -1 on failure, tabllm_last_error() then says why (grammar
 * syntax errors read "line L, column C: ..."); no C++ exception leaves these functions.
 *
 * A compiled grammar may be shared by any number of matchers. Handles may be freed in any order: matchers
 * and compiled grammars keep what they use alive. */
#ifndef TABLLM_GRAMMAR_H
#define TABLLM_GRAMMAR_H
#include <stddef.h>
#include <stdint.h>

#include "tabllm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tabllm_grammar_vocab tabllm_grammar_vocab;
typedef struct tabllm_grammar_compiled tabllm_grammar_compiled;
typedef struct tabllm_grammar_matcher tabllm_grammar_matcher;

/* A vocabulary from the bytes of a GGUF file (model or vocab-only) or of a tokenizer.json, read only
 * during the call. */
TABLLM_API tabllm_grammar_vocab* tabllm_grammar_vocab_load(const uint8_t* bytes, size_t size);
/* A vocabulary from raw token bytes: token i is lengths[i] bytes of `data`, one after the other; the
 * `n_end` ids of `end_ids` end a generation. */
TABLLM_API tabllm_grammar_vocab* tabllm_grammar_vocab_from_bytes(const uint8_t* data, const uint32_t* lengths,
                                                                  int n_tokens, const int32_t* end_ids, int n_end);
TABLLM_API int tabllm_grammar_vocab_size(const tabllm_grammar_vocab* vocab);
/* 32-bit words of a token bitmask for this vocabulary. */
TABLLM_API int tabllm_grammar_vocab_mask_words(const tabllm_grammar_vocab* vocab);
TABLLM_API void tabllm_grammar_vocab_free(tabllm_grammar_vocab* vocab);

/* The text of a built-in grammar: "json" (any JSON value) or "json_object"; NULL for other names. */
TABLLM_API const char* tabllm_grammar_builtin(const char* name);
/* dialect: "gbnf", "ebnf" or "json" (the built-in JSON grammar; `text` is then ignored and may be NULL).
 * root: the start rule, NULL for "root". */
TABLLM_API tabllm_grammar_compiled* tabllm_grammar_compile(const tabllm_grammar_vocab* vocab, const char* text,
                                                            const char* dialect, const char* root);
/* A JSON Schema (its text) converted to a grammar (core/grammar/json_schema.h) and compiled. options: NULL
 * or a JSON object with any of "any_property_order" (false), "strict" (false: keywords a grammar cannot
 * enforce are warnings; true: errors), "max_indent" (40), "max_repeat" (64). The warnings are listed in
 * the compiled grammar's stats. */
TABLLM_API tabllm_grammar_compiled* tabllm_grammar_compile_json_schema(const tabllm_grammar_vocab* vocab, const char* schema,
                                                                        const char* options);
/* {"nfa_states", "top_states", "cached_states", "uncertain_tokens", "cache_bytes", ...} as JSON, owned by
 * the compiled grammar until the next call. A state's token classes are computed when a matcher first
 * reaches it (those of the grammar's start when it is compiled): "cached_states" of "top_states" so far.
 * "warnings" (an array of "POINTER: what is not enforced") for grammars made from a JSON Schema. */
TABLLM_API const char* tabllm_grammar_compiled_stats(tabllm_grammar_compiled* compiled);
TABLLM_API void tabllm_grammar_compiled_free(tabllm_grammar_compiled* compiled);

TABLLM_API tabllm_grammar_matcher* tabllm_grammar_matcher_create(const tabllm_grammar_compiled* compiled);
TABLLM_API tabllm_grammar_matcher* tabllm_grammar_matcher_fork(const tabllm_grammar_matcher* matcher);
TABLLM_API void tabllm_grammar_matcher_free(tabllm_grammar_matcher* matcher);
/* 1 accepted, 0 not allowed (state unchanged), -1 error. */
TABLLM_API int tabllm_grammar_matcher_accept_token(tabllm_grammar_matcher* matcher, int32_t token);
TABLLM_API int tabllm_grammar_matcher_accept_bytes(tabllm_grammar_matcher* matcher, const uint8_t* bytes, size_t size);
/* Writes the allowed-token bitmask into `words` (n_words ≥ tabllm_grammar_vocab_mask_words). 0 or -1. */
TABLLM_API int tabllm_grammar_matcher_fill_mask(tabllm_grammar_matcher* matcher, uint32_t* words, int n_words);
TABLLM_API int tabllm_grammar_matcher_rollback(tabllm_grammar_matcher* matcher, int tokens);
TABLLM_API int tabllm_grammar_matcher_can_terminate(const tabllm_grammar_matcher* matcher);
TABLLM_API int tabllm_grammar_matcher_is_terminated(const tabllm_grammar_matcher* matcher);
/* Bytes that must come next (may be ""); owned by the matcher until its next call. */
TABLLM_API const char* tabllm_grammar_matcher_jump_forward(tabllm_grammar_matcher* matcher);

#ifdef __cplusplus
}
#endif
#endif
