#include "bench_schemas.h"

#include <filesystem>

#include "bench_util.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"

namespace tabllm::bench {

namespace {

std::vector<std::string> schema_names(const SchemaBenchOptions& options) {
  std::vector<std::string> all;
  for (const auto& entry : std::filesystem::directory_iterator(options.dir)) {
    const std::string file = entry.path().filename().string();
    if (file.ends_with(".json") && !file.ends_with(".tests.json")) all.push_back(file.substr(0, file.size() - 5));
  }
  std::sort(all.begin(), all.end());
  std::vector<std::string> picked;
  for (size_t i = 0; i < all.size(); i += static_cast<size_t>(std::max(1, options.every))) {
    if (options.limit > 0 && picked.size() >= static_cast<size_t>(options.limit)) break;
    picked.push_back(all[i]);
  }
  return picked;
}

std::shared_ptr<const grammar::CompiledGrammar> compile_schema(const std::string& schema_text,
                                                               const std::shared_ptr<const grammar::TokenVocabulary>& vocab,
                                                               grammar::CompileOptions options, bool any_property_order) {
  const grammar::SchemaGrammar converted = grammar::json_schema_text_to_gbnf(schema_text, {.any_property_order = any_property_order});
  return grammar::compile(grammar::parse_gbnf(converted.gbnf), vocab, options);
}

}  // namespace

nlohmann::ordered_json bench_schemas(const Tokenizer& tokenizer, std::shared_ptr<const grammar::TokenVocabulary> vocab,
                                     const SchemaBenchOptions& options) {
  using nlohmann::ordered_json;
  std::vector<double> compile_ms, mask_us;
  struct Slow {
    double us;
    std::string schema;
    size_t step;
    std::string before;  // the end of the text written before the mask
  };
  std::vector<Slow> slowest;
  Stopwatch watch(options.cpu_time);
  ordered_json failed = ordered_json::array();
  int schemas = 0, docs = 0, rejected = 0, tokens = 0;
  size_t top_states = 0, cached_states = 0;
  std::vector<uint32_t> words(vocab->mask_words());
  for (const std::string& name : schema_names(options)) {
    const std::string base = options.dir + "/" + name;
    const std::string schema_text = read_file(base + ".json");
    std::shared_ptr<const grammar::CompiledGrammar> compiled;
    std::vector<double> runs;
    try {
      for (int i = 0; i < options.compiles; ++i) {
        watch.start();
        compiled = compile_schema(schema_text, vocab, options.compile, options.any_property_order);
        runs.push_back(watch.elapsed_us() / 1000);
      }
    } catch (const std::exception& e) {
      failed.push_back({{"schema", name}, {"error", std::string(e.what()).substr(0, 200)}});
      continue;
    }
    ++schemas;
    compile_ms.push_back(percentile(runs, 0.5));

    const auto tests = nlohmann::ordered_json::parse(read_file(base + ".tests.json"));
    for (const auto& test : tests) {
      if (!test.value("valid", false)) continue;
      ++docs;
      grammar::Matcher m(compiled);
      bool ok = true;
      const std::vector<int32_t> ids = tokenizer.encode(test["data"].dump(), false, false);
      for (size_t step = 0; step < ids.size(); ++step) {
        const int32_t id = ids[step];
        watch.start();
        m.fill_next_token_bitmask(words);
        const double us = watch.elapsed_us();
        mask_us.push_back(us);
        ++tokens;
        if (options.slowest > 0 && (slowest.size() < static_cast<size_t>(options.slowest) || us > slowest.back().us)) {
          std::string before;
          for (size_t i = 0; i < step; ++i) before += vocab->bytes(ids[i]);
          if (before.size() > 48) before = "..." + before.substr(before.size() - 45);
          slowest.push_back({us, name, step, before});
          std::sort(slowest.begin(), slowest.end(), [](const Slow& a, const Slow& b) { return a.us > b.us; });
          if (slowest.size() > static_cast<size_t>(options.slowest)) slowest.pop_back();
        }
        if (!(words[id / 32] >> (id % 32) & 1) || !m.accept_token(id)) {
          ok = false;
          break;
        }
      }
      if (!ok || !m.can_terminate()) ++rejected;
    }
    const grammar::CompileStats stats = compiled->stats();
    top_states += stats.top_states;
    cached_states += stats.cached_states;
  }
  ordered_json slow = ordered_json::array();
  for (const Slow& s : slowest) slow.push_back({{"us", s.us}, {"schema", s.schema}, {"step", s.step}, {"before", s.before}});
  ordered_json report = {
      {"clock", options.cpu_time ? "thread-cpu" : "wall"},
      {"schemas", schemas},
      {"every", options.every},
      {"compile_ms", {{"median", percentile(compile_ms, 0.5)}, {"p95", percentile(compile_ms, 0.95)}, {"mean", mean(compile_ms)},
                      {"max", percentile(compile_ms, 1.0)}}},
      {"mask_us", {{"median", percentile(mask_us, 0.5)}, {"p99", percentile(mask_us, 0.99)}, {"mean", mean(mask_us)},
                   {"max", percentile(mask_us, 1.0)}}},
      {"docs", docs},
      {"docs_rejected", rejected},
      {"tokens", tokens},
      {"top_states", top_states},
      {"cached_states", cached_states},  // token classes computed by the end (all of them when eager)
      {"failed", failed},
  };
  if (options.slowest > 0) report["slowest"] = slow;
  return report;
}

}  // namespace tabllm::bench
