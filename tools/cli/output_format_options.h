// Options that ask a model-running subcommand for structured output (--json, --json-schema, --grammar,
// --regex), the same formats a request's response_format names.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cli/args.h"
#include "grammar/output_format.h"

namespace tabllm::cli {

extern const std::vector<std::string> kOutputFormatOptions;  // take a value
extern const std::vector<std::string> kOutputFormatFlags;
extern const char* const kOutputFormatUsage;

// The format the options ask for; nullopt when none. Throws Error for two formats at once or a file that
// cannot be read.
std::optional<grammar::OutputFormat> output_format(const Args& args);

// A whole file as bytes; Error naming the path when it cannot be read.
std::string read_text_file(const std::string& path);

}  // namespace tabllm::cli
