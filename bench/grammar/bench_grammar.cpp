// Native grammar benchmark. For a grammar (GBNF, EBNF or the built-in JSON one) and a vocabulary (GGUF or
// tokenizer.json) it times compile() and, over each document of a text file tokenized with the
// vocabulary's tokenizer, fill_next_token_bitmask before every token; prints one JSON object. With
// --schemas it does the same for each JSON Schema of a directory (see bench_schemas.h). A state's token
// classes are computed when a matcher first reaches it, so first masks include that work; --eager
// computes them all in compile() instead.
//
//   tabllm_bench_grammar --vocab PATH [--gbnf FILE | --ebnf FILE | --json] --docs FILE [--compiles N] [--eager]
//   tabllm_bench_grammar --vocab PATH --schemas DIR [--every K] [--limit N] [--compiles N] [--eager] [--any-order]
//                        [--cpu-time] [--slowest N]
//
// --cpu-time times schemas by the thread's CPU time (for a busy machine); --slowest N lists the N slowest
// masks with the schema and the end of the text written before each.
// FILE of --docs: one document per line. In .jsonl files lines are JSON documents taken as they are;
// in other files the two characters \n stand for a line break.
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "bench_schemas.h"
#include "bench_util.h"
#include "grammar/compiled_grammar.h"
#include "grammar/matcher.h"
#include "tokenizer/tokenizer.h"

using namespace tabllm;
using namespace tabllm::bench;

namespace {

constexpr const char* kUsage =
    "usage: %s --vocab PATH [--gbnf FILE | --ebnf FILE | --json] --docs FILE [--compiles N] [--eager]\n"
    "       %s --vocab PATH --schemas DIR [--every K] [--limit N] [--compiles N] [--eager] [--any-order]\n"
    "          [--cpu-time] [--slowest N]\n";

nlohmann::ordered_json cache_stats(const grammar::CompiledGrammar& compiled) {
  const grammar::CompileStats s = compiled.stats();
  return {{"nfa_states", s.nfa_states},         {"top_states", s.top_states},     {"cached_states", s.cached_states},
          {"accepted_lists", s.accepted_lists}, {"not_accepted_lists", s.not_accepted_lists},
          {"bitsets", s.bitsets},               {"uncertain_tokens", s.uncertain_tokens},
          {"bytes", s.cache_bytes},             {"automaton_configs", s.automaton_configs}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string vocab_path, grammar_path, docs_path, dialect = "json";
  int compiles = 5;
  SchemaBenchOptions schema_options;
  grammar::CompileOptions compile_options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--vocab") vocab_path = value();
    else if (a == "--gbnf") dialect = "gbnf", grammar_path = value();
    else if (a == "--ebnf") dialect = "ebnf", grammar_path = value();
    else if (a == "--json") dialect = "json";
    else if (a == "--docs") docs_path = value();
    else if (a == "--compiles") compiles = schema_options.compiles = std::stoi(value());
    else if (a == "--eager") compile_options.precompute_masks = schema_options.compile.precompute_masks = true;
    else if (a == "--schemas") schema_options.dir = value();
    else if (a == "--any-order") schema_options.any_property_order = true;
    else if (a == "--every") schema_options.every = std::stoi(value());
    else if (a == "--limit") schema_options.limit = std::stoi(value());
    else if (a == "--cpu-time") schema_options.cpu_time = true;
    else if (a == "--slowest") schema_options.slowest = std::stoi(value());
    else {
      std::fprintf(stderr, kUsage, argv[0], argv[0]);
      return 2;
    }
  }
  try {
    if (vocab_path.empty()) throw Error("--vocab is required");
    const Tokenizer tokenizer(Vocab::load(vocab_path));
    const auto vocab = grammar::TokenVocabulary::from_tokenizer(tokenizer);
    nlohmann::ordered_json report = {{"vocab", vocab_path}, {"vocab_size", vocab->size()}, {"eager", compile_options.precompute_masks}};
    if (!schema_options.dir.empty()) {
      report.update(bench_schemas(tokenizer, vocab, schema_options));
      std::printf("%s\n", report.dump().c_str());
      return 0;
    }
    const std::string text = dialect == "json" ? grammar::json_gbnf() : read_file(grammar_path);

    std::vector<double> compile_ms;
    std::shared_ptr<const grammar::CompiledGrammar> compiled;
    for (int i = 0; i < compiles; ++i) {
      const auto t0 = Clock::now();
      const grammar::Grammar g = dialect == "ebnf" ? grammar::parse_ebnf(text) : grammar::parse_gbnf(text);
      compiled = grammar::compile(g, vocab, compile_options);
      compile_ms.push_back(micros(t0, Clock::now()) / 1000);
    }

    std::vector<double> mask_us;
    int docs = 0, rejected = 0, tokens = 0;
    std::vector<uint32_t> words(vocab->mask_words());
    if (!docs_path.empty()) {
      std::istringstream lines(read_file(docs_path));
      std::string line;
      while (std::getline(lines, line)) {
        if (line.empty()) continue;
        if (!docs_path.ends_with(".jsonl"))
          for (size_t p = 0; (p = line.find("\\n", p)) != std::string::npos;) line.replace(p, 2, "\n");
        ++docs;
        grammar::Matcher m(compiled);
        const auto ids = tokenizer.encode(line, false, false);
        bool ok = true;
        for (int32_t id : ids) {
          const auto t0 = Clock::now();
          m.fill_next_token_bitmask(words);
          mask_us.push_back(micros(t0, Clock::now()));
          ++tokens;
          if (!(words[id / 32] >> (id % 32) & 1) || !m.accept_token(id)) {
            ok = false;
            break;
          }
        }
        if (!ok || !m.can_terminate()) ++rejected;
      }
    }
    report["grammar"] = dialect == "json" ? "builtin-json" : grammar_path;
    report["compile_ms"] = {{"median", percentile(compile_ms, 0.5)}, {"p95", percentile(compile_ms, 0.95)}};
    report["mask_us"] = {{"median", percentile(mask_us, 0.5)}, {"p99", percentile(mask_us, 0.99)}, {"mean", mean(mask_us)},
                         {"max", percentile(mask_us, 1.0)}};
    report["docs"] = docs;
    report["docs_rejected"] = rejected;
    report["tokens"] = tokens;
    report["cache"] = cache_stats(*compiled);
    std::printf("%s\n", report.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
