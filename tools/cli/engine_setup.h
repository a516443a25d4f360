// Options every model-running subcommand shares (-m, --threads, --ctx, --kernels) and the session they
// describe.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "model/model.h"
#include "runtime/session.h"

namespace tabllm::cli {

// Option specs to append to a subcommand's list, and the usage text describing them.
extern const std::vector<std::string> kEngineOptions;
extern const char* const kEngineUsage;

struct Engine {
  std::unique_ptr<Model> model;
  std::unique_ptr<Model> draft;  // --draft-model (generate): speculative method "draft"
  std::unique_ptr<Session> session;
  int threads = 1;
  std::string kernels;  // "scalar" or the SIMD level in use
};

// With --draft-model (a subcommand that takes it), the draft model runs beside the model on the same settings.
Engine open_engine(const Args& args);

// The model at `path`; a part of a split model is refused with how to join it (the native reader takes one file).
std::unique_ptr<Model> load_model(const std::string& path);

}  // namespace tabllm::cli
