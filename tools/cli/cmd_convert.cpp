// tabllm convert-llama2c CHECKPOINT TOKENIZER OUT.gguf [--type T] [--context N] [--threads N]
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/error.h"
#include "convert/llama2c_convert.h"
#include "convert/row_encoding.h"

namespace tabllm::cli {

int cmd_convert_llama2c(int argc, char** argv) {
  const Args args(argc, argv, {"type", "context", "threads"}, {},
                  "usage: tabllm convert-llama2c CHECKPOINT TOKENIZER OUT.gguf [--type T] [--context N] [--threads N]\n"
                  "  CHECKPOINT: llama2.c model (legacy or version 1 .bin); TOKENIZER: llama2.c tokenizer.bin\n"
                  "  T: " + supported_type_names() + " (default f32)\n"
                  "  N (--context): positions the model declares, instead of the checkpoint's seq_len");
  if (args.positional().size() != 3) throw Error("expected 3 arguments, got " + std::to_string(args.positional().size()) + "\n" + args.usage());
  const std::string& checkpoint = args.positional()[0];
  const std::string& tokenizer = args.positional()[1];
  const std::string& out = args.positional()[2];
  const TensorType type = parse_type_name(args.get("type").value_or("f32"));
  const int threads = args.get_int("threads", tools::default_thread_count());
  if (threads < 1) throw Error("--threads must be at least 1");
  const int64_t context = args.get_int("context", 0);
  if (context < 0) throw Error("--context must be positive");

  const tools::ModelSpec spec = tools::convert_llama2c(checkpoint, tokenizer, out, type, threads, context);
  std::printf("wrote %s: %s, %lld layers, dim %lld, %lld/%lld heads, ffn %lld, vocab %lld, context %lld, %s\n",
              out.c_str(), spec.name.c_str(), static_cast<long long>(spec.n_layers), static_cast<long long>(spec.dim),
              static_cast<long long>(spec.n_heads), static_cast<long long>(spec.n_kv_heads),
              static_cast<long long>(spec.ffn_dim), static_cast<long long>(spec.vocab_size),
              static_cast<long long>(spec.context_length), type_traits(type).name);
  return 0;
}

}  // namespace tabllm::cli
