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
  std::unique_ptr<Session> session;
  int threads = 1;
  std::string kernels;  // "scalar" or the SIMD level in use
};

Engine open_engine(const Args& args);

}  // namespace tabllm::cli
