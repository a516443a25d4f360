// Native grammar benchmark. For a grammar (GBNF, EBNF or the built-in JSON one) and a vocabulary (GGUF or
// tokenizer.json) it times compile() (mask cache included) and, over each document of a text file
// tokenized with the vocabulary's tokenizer, fill_next_token_bitmask before every token; prints one JSON
// object.
//
//   tabllm_bench_grammar --vocab PATH [--gbnf FILE | --ebnf FILE | --json] --docs FILE [--compiles N]
//
// FILE of --docs: one document per line. In .jsonl files lines are JSON documents taken as they are;
// in other files the two characters \n stand for a line break.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "grammar/compiled_grammar.h"
#include "grammar/matcher.h"
#include "tokenizer/tokenizer.h"

using namespace tabllm;
using Clock = std::chrono::steady_clock;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

double micros(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::micro>(b - a).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::string vocab_path, grammar_path, docs_path, dialect = "json";
  int compiles = 5;
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
    else if (a == "--compiles") compiles = std::stoi(value());
    else {
      std::fprintf(stderr, "usage: %s --vocab PATH [--gbnf FILE | --ebnf FILE | --json] --docs FILE [--compiles N]\n", argv[0]);
      return 2;
    }
  }
  try {
    if (vocab_path.empty()) throw Error("--vocab is required");
    const Tokenizer tokenizer(Vocab::load(vocab_path));
    const auto vocab = grammar::TokenVocabulary::from_tokenizer(tokenizer);
    const std::string text = dialect == "json" ? grammar::json_gbnf() : read_file(grammar_path);

    std::vector<double> compile_ms;
    std::shared_ptr<const grammar::CompiledGrammar> compiled;
    for (int i = 0; i < compiles; ++i) {
      const auto t0 = Clock::now();
      const grammar::Grammar g = dialect == "ebnf" ? grammar::parse_ebnf(text) : grammar::parse_gbnf(text);
      compiled = grammar::compile(g, vocab);
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
    const auto& s = compiled->stats();
    std::printf(
        "{\"vocab\": \"%s\", \"vocab_size\": %zu, \"grammar\": \"%s\", \"compile_ms\": {\"median\": %.3f, \"p95\": %.3f}, "
        "\"mask_us\": {\"median\": %.2f, \"p99\": %.2f, \"mean\": %.2f, \"max\": %.2f}, \"docs\": %d, \"docs_rejected\": %d, \"tokens\": %d, "
        "\"cache\": {\"nfa_states\": %zu, \"cached_states\": %zu, \"accepted_lists\": %zu, \"not_accepted_lists\": %zu, "
        "\"bitsets\": %zu, \"uncertain_tokens\": %zu, \"bytes\": %zu}}\n",
        vocab_path.c_str(), vocab->size(), dialect == "json" ? "builtin-json" : grammar_path.c_str(), percentile(compile_ms, 0.5),
        percentile(compile_ms, 0.95), percentile(mask_us, 0.5), percentile(mask_us, 0.99),
        mask_us.empty() ? 0.0 : [&] { double t = 0; for (double x : mask_us) t += x; return t / mask_us.size(); }(), percentile(mask_us, 1.0),
        docs, rejected, tokens, s.nfa_states, s.cached_states, s.accepted_lists, s.not_accepted_lists, s.bitsets,
        s.uncertain_tokens, s.cache_bytes);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
