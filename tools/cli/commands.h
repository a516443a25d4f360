// The `tabllm` subcommands. Each returns the process exit code; errors are thrown as tabllm::Error
// and printed by main() as one line on stderr.
#pragma once

namespace tabllm::cli {

int cmd_generate(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_embed(int argc, char** argv);
int cmd_convert_llama2c(int argc, char** argv);
int cmd_synth(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);
int cmd_info(int argc, char** argv);
int cmd_grammar_check(int argc, char** argv);
int cmd_split(int argc, char** argv);
int cmd_merge(int argc, char** argv);

}  // namespace tabllm::cli
