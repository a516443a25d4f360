// tabllm: the command-line host of the engine.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "common/error.h"

namespace {

constexpr const char* kUsage =
    "usage: tabllm COMMAND [options]\n"
    "commands:\n"
    "  generate         -m MODEL -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P] [--seed S]\n"
    "                   [--repeat-penalty R] [--threads N]\n"
    "  tokenize         -m MODEL_OR_VOCAB (-p TEXT | --file F)\n"
    "  embed            -m MODEL (-p TEXT | --file F) [--threads N] [--kernels K] [--repeat N]\n"
    "  convert-llama2c  CHECKPOINT TOKENIZER OUT.gguf [--type T]\n"
    "  synth            SHAPE OUT.gguf --type T --vocab VOCAB [--seed S] [--layers N]\n"
    "  bench            -m MODEL [--prompt-tokens 512] [--gen-tokens 128] [--threads N]\n"
    "  perplexity       -m MODEL -f TEXT [--ctx N] [--threads N]\n"
    "  info             -m MODEL\n"
    "  grammar-check    --schema FILE --tests FILE -m MODEL_OR_VOCAB [--any-order] [--strict]\n"
    "  split            IN.gguf --parts N [--out PREFIX]\n"
    "  merge            FIRST-00001-of-0000N.gguf OUT.gguf\n";

struct Command {
  const char* name;
  int (*run)(int, char**);
};

constexpr Command kCommands[] = {
    {"generate", tabllm::cli::cmd_generate},     {"tokenize", tabllm::cli::cmd_tokenize},
    {"embed", tabllm::cli::cmd_embed},
    {"convert-llama2c", tabllm::cli::cmd_convert_llama2c}, {"synth", tabllm::cli::cmd_synth},
    {"bench", tabllm::cli::cmd_bench},           {"perplexity", tabllm::cli::cmd_perplexity},
    {"info", tabllm::cli::cmd_info},             {"grammar-check", tabllm::cli::cmd_grammar_check},
    {"split", tabllm::cli::cmd_split},           {"merge", tabllm::cli::cmd_merge},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const tabllm::Error& e) {
      std::fprintf(stderr, "tabllm %s: error: %s\n", c.name, e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "tabllm %s: error: out of memory\n", c.name);
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "tabllm %s: internal error: %s\n", c.name, e.what());
      return 3;
    }
  }
  std::fprintf(stderr, "tabllm: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
