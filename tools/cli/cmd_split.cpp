// tabllm split: a GGUF file into parts named and tagged as llama.cpp's gguf-split names them; tabllm merge:
// such parts back into one file.
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/error.h"
#include "split/gguf_split.h"

namespace tabllm::cli {

int cmd_split(int argc, char** argv) {
  const Args args(argc, argv, {"parts", "o|out"}, {},
                  "usage: tabllm split IN.gguf --parts N [--out PREFIX]  (writes PREFIX-00001-of-0000N.gguf ...; "
                  "PREFIX defaults to IN without .gguf)");
  if (args.positional().size() != 1) throw Error(args.usage());
  const std::string input = args.positional()[0];
  std::string prefix = args.get("o").value_or(input);
  if (!args.get("o") && prefix.size() > 5 && prefix.compare(prefix.size() - 5, 5, ".gguf") == 0) prefix.resize(prefix.size() - 5);
  for (const std::string& path : tools::split_gguf(input, prefix, args.get_int("parts", 0))) std::printf("%s\n", path.c_str());
  return 0;
}

int cmd_merge(int argc, char** argv) {
  const Args args(argc, argv, {}, {}, "usage: tabllm merge FIRST-00001-of-0000N.gguf OUT.gguf  (the other parts are found from the first's name)");
  if (args.positional().size() != 2) throw Error(args.usage());
  tools::merge_gguf(args.positional()[0], args.positional()[1]);
  std::printf("%s\n", args.positional()[1].c_str());
  return 0;
}

}  // namespace tabllm::cli
