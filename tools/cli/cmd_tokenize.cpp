// `tabllm tokenize`: text → token ids, for a model, a vocab-only GGUF or a tokenizer.json.
//   -p TEXT   one line of ids, with BOS when the model adds it and special tokens parsed
//   --file F  a llama.cpp vocab test input (cases separated by __ggml_vocab_test__ lines): one line per
//             case in the .out format (" id id ..."), without BOS and with special tokens taken as text
#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output_format_options.h"
#include "common/error.h"
#include "tokenizer/tokenizer.h"

namespace tabllm::cli {
namespace {

constexpr const char* kUsage = "usage: tabllm tokenize -m MODEL_OR_VOCAB (-p TEXT | --file F)";
constexpr std::string_view kCaseSeparator = "\n__ggml_vocab_test__\n";

// Every case is followed by the separator line, the last one included.
std::vector<std::string_view> split_cases(std::string_view content, const std::string& path) {
  std::vector<std::string_view> cases;
  size_t start = 0;
  for (size_t sep; (sep = content.find(kCaseSeparator, start)) != std::string_view::npos;) {
    cases.push_back(content.substr(start, sep - start));
    start = sep + kCaseSeparator.size();
  }
  if (start != content.size()) {
    throw Error(path + " does not end with a __ggml_vocab_test__ line after its last case; is it a vocab test .inp?");
  }
  return cases;
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  const Args args(argc, argv, {"m|model", "p|prompt", "f|file"}, {}, kUsage);
  const std::string model_path = args.require("m");
  const auto prompt = args.get("p");
  const auto file = args.get("f");
  if (prompt.has_value() == file.has_value()) throw Error(std::string("give exactly one of -p TEXT and --file F\n") + kUsage);
  if (!args.positional().empty()) throw Error("unexpected argument " + args.positional().front() + "\n" + kUsage);

  const Tokenizer tokenizer(Vocab::load(model_path));
  std::string out;
  if (prompt) {
    const std::vector<int32_t> ids = tokenizer.encode(*prompt, tokenizer.vocab().add_bos, /*parse_special=*/true);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ' ';
      out += std::to_string(ids[i]);
    }
    out += '\n';
  } else {
    const std::string content = read_text_file(*file);
    for (std::string_view text : split_cases(content, *file)) {
      for (int32_t id : tokenizer.encode(text, /*add_bos=*/false, /*parse_special=*/false)) {
        out += ' ';
        out += std::to_string(id);
      }
      out += '\n';
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace tabllm::cli
