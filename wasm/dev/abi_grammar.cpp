// tabllm_grammar.h over core/grammar: development module only (build-wasm/tabllm-dev.mjs), for the grammar
// benchmarks; the package reaches grammars through tabllm_format_check and response_format (tabllm.h).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "grammar/compiled_grammar.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "abi_guard.h"
#include "tabllm_grammar.h"

struct tabllm_grammar_vocab {
  std::shared_ptr<const tabllm::grammar::TokenVocabulary> vocab;
};
struct tabllm_grammar_compiled {
  std::shared_ptr<const tabllm::grammar::CompiledGrammar> compiled;
  std::vector<std::string> warnings;
  std::string stats;  // the last tabllm_grammar_compiled_stats answer
};
struct tabllm_grammar_matcher {
  tabllm::grammar::Matcher matcher;
  std::string jump_forward;
};

namespace {

using tabllm::wasm::guarded;

tabllm_grammar_compiled* compiled_handle(std::shared_ptr<const tabllm::grammar::CompiledGrammar> compiled,
                                         std::vector<std::string> warnings) {
  return new tabllm_grammar_compiled{std::move(compiled), std::move(warnings), {}};
}

tabllm::grammar::SchemaOptions parse_schema_options(const char* text) {
  tabllm::grammar::SchemaOptions options;
  if (!text || !*text) return options;
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) throw tabllm::Error("JSON Schema options must be a JSON object");
  for (const auto& [key, value] : json.items()) {
    if (key == "any_property_order" && value.is_boolean()) options.any_property_order = value.get<bool>();
    else if (key == "strict" && value.is_boolean()) options.strict = value.get<bool>();
    else if (key == "max_indent" && value.is_number_integer()) options.max_indent = value.get<int>();
    else if (key == "max_repeat" && value.is_number_integer()) options.max_repeat = value.get<int>();
    else throw tabllm::Error("unknown or mistyped JSON Schema option '" + key + "'");
  }
  return options;
}

}  // namespace

extern "C" {

TABLLM_API tabllm_grammar_vocab* tabllm_grammar_vocab_load(const uint8_t* bytes, size_t size) {
  return guarded([&] {
    // The core's loaders read files: go through Emscripten's in-memory file system.
    const std::string path = "/tmp/tabllm-grammar-vocab";
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(bytes, 1, size, f) != size) {
      if (f) std::fclose(f);
      throw tabllm::Error("cannot stage the vocabulary in memory");
    }
    std::fclose(f);
    auto vocab = tabllm::grammar::TokenVocabulary::load(path);
    std::remove(path.c_str());
    return new tabllm_grammar_vocab{std::move(vocab)};
  }, static_cast<tabllm_grammar_vocab*>(nullptr));
}

TABLLM_API tabllm_grammar_vocab* tabllm_grammar_vocab_from_bytes(const uint8_t* data, const uint32_t* lengths,
                                                                  int n_tokens, const int32_t* end_ids, int n_end) {
  return guarded([&] {
    std::vector<std::string> tokens(static_cast<size_t>(n_tokens));
    size_t offset = 0;
    for (int i = 0; i < n_tokens; ++i) {
      tokens[i].assign(reinterpret_cast<const char*>(data) + offset, lengths[i]);
      offset += lengths[i];
    }
    std::vector<int32_t> ends(end_ids, end_ids + n_end);
    for (int32_t id : ends)
      if (id >= 0 && id < n_tokens) tokens[id].clear();
    return new tabllm_grammar_vocab{std::make_shared<const tabllm::grammar::TokenVocabulary>(std::move(tokens), std::move(ends))};
  }, static_cast<tabllm_grammar_vocab*>(nullptr));
}

TABLLM_API int tabllm_grammar_vocab_size(const tabllm_grammar_vocab* vocab) { return static_cast<int>(vocab->vocab->size()); }
TABLLM_API int tabllm_grammar_vocab_mask_words(const tabllm_grammar_vocab* vocab) {
  return static_cast<int>(vocab->vocab->mask_words());
}
TABLLM_API void tabllm_grammar_vocab_free(tabllm_grammar_vocab* vocab) { delete vocab; }

TABLLM_API const char* tabllm_grammar_builtin(const char* name) {
  return guarded([&]() -> const char* {
    const std::string n = name ? name : "";
    if (n == "json") return tabllm::grammar::json_gbnf().c_str();
    if (n == "json_object") return tabllm::grammar::json_object_gbnf().c_str();
    throw tabllm::Error("unknown built-in grammar '" + n + "': use \"json\" or \"json_object\"");
  }, static_cast<const char*>(nullptr));
}

TABLLM_API tabllm_grammar_compiled* tabllm_grammar_compile(const tabllm_grammar_vocab* vocab, const char* text,
                                                            const char* dialect, const char* root) {
  return guarded([&] {
    namespace g = tabllm::grammar;
    const std::string kind = dialect ? dialect : "gbnf";
    const std::string start = root ? root : "root";
    g::Grammar grammar;
    if (kind == "json") grammar = g::parse_gbnf(g::json_gbnf());
    else if (kind == "gbnf") grammar = g::parse_gbnf(text ? text : "", start);
    else if (kind == "ebnf") grammar = g::parse_ebnf(text ? text : "", start);
    else throw tabllm::Error("unknown grammar dialect '" + kind + "': use \"gbnf\", \"ebnf\" or \"json\"");
    return compiled_handle(g::compile(grammar, vocab->vocab), {});
  }, static_cast<tabllm_grammar_compiled*>(nullptr));
}

TABLLM_API tabllm_grammar_compiled* tabllm_grammar_compile_json_schema(const tabllm_grammar_vocab* vocab, const char* schema,
                                                                        const char* options) {
  return guarded([&] {
    namespace g = tabllm::grammar;
    const g::SchemaOptions schema_options = parse_schema_options(options);
    g::SchemaGrammar converted = g::json_schema_text_to_gbnf(schema ? schema : "", schema_options);
    return compiled_handle(g::compile(g::parse_gbnf(converted.gbnf), vocab->vocab), std::move(converted.warnings));
  }, static_cast<tabllm_grammar_compiled*>(nullptr));
}

TABLLM_API const char* tabllm_grammar_compiled_stats(tabllm_grammar_compiled* compiled) {
  return guarded([&] {
    const auto s = compiled->compiled->stats();
    nlohmann::ordered_json stats = {
        {"nfa_states", s.nfa_states},         {"top_states", s.top_states},
        {"cached_states", s.cached_states},   {"accepted_lists", s.accepted_lists},
        {"not_accepted_lists", s.not_accepted_lists}, {"bitsets", s.bitsets},
        {"uncertain_tokens", s.uncertain_tokens}, {"cache_bytes", s.cache_bytes}};
    if (!compiled->warnings.empty()) stats["warnings"] = compiled->warnings;
    compiled->stats = stats.dump();
    return compiled->stats.c_str();
  }, static_cast<const char*>(nullptr));
}
TABLLM_API void tabllm_grammar_compiled_free(tabllm_grammar_compiled* compiled) { delete compiled; }

TABLLM_API tabllm_grammar_matcher* tabllm_grammar_matcher_create(const tabllm_grammar_compiled* compiled) {
  return guarded([&] { return new tabllm_grammar_matcher{tabllm::grammar::Matcher(compiled->compiled), {}}; },
                 static_cast<tabllm_grammar_matcher*>(nullptr));
}
TABLLM_API tabllm_grammar_matcher* tabllm_grammar_matcher_fork(const tabllm_grammar_matcher* matcher) {
  return guarded([&] { return new tabllm_grammar_matcher{matcher->matcher.fork(), {}}; },
                 static_cast<tabllm_grammar_matcher*>(nullptr));
}
TABLLM_API void tabllm_grammar_matcher_free(tabllm_grammar_matcher* matcher) { delete matcher; }

TABLLM_API int tabllm_grammar_matcher_accept_token(tabllm_grammar_matcher* matcher, int32_t token) {
  return guarded([&] { return matcher->matcher.accept_token(token) ? 1 : 0; }, -1);
}
TABLLM_API int tabllm_grammar_matcher_accept_bytes(tabllm_grammar_matcher* matcher, const uint8_t* bytes, size_t size) {
  return guarded([&] { return matcher->matcher.accept_bytes({reinterpret_cast<const char*>(bytes), size}) ? 1 : 0; }, -1);
}
TABLLM_API int tabllm_grammar_matcher_fill_mask(tabllm_grammar_matcher* matcher, uint32_t* words, int n_words) {
  return guarded([&] {
    matcher->matcher.fill_next_token_bitmask({words, static_cast<size_t>(n_words)});
    return 0;
  }, -1);
}
TABLLM_API int tabllm_grammar_matcher_rollback(tabllm_grammar_matcher* matcher, int tokens) {
  return guarded([&] {
    matcher->matcher.rollback(tokens);
    return 0;
  }, -1);
}
TABLLM_API int tabllm_grammar_matcher_can_terminate(const tabllm_grammar_matcher* matcher) {
  return matcher->matcher.can_terminate() ? 1 : 0;
}
TABLLM_API int tabllm_grammar_matcher_is_terminated(const tabllm_grammar_matcher* matcher) {
  return matcher->matcher.is_terminated() ? 1 : 0;
}
TABLLM_API const char* tabllm_grammar_matcher_jump_forward(tabllm_grammar_matcher* matcher) {
  return guarded([&] {
    matcher->jump_forward = matcher->matcher.find_jump_forward_string();
    return matcher->jump_forward.c_str();
  }, static_cast<const char*>(nullptr));
}

}  // extern "C"
