#include "cli/engine_setup.h"

#include "common/error.h"
#include "backend/cpu/forward.h"
#include "backend/cpu/thread_pool.h"
#include "split/gguf_split.h"

namespace tabllm::cli {

const std::vector<std::string> kEngineOptions = {"m|model", "threads|t", "ctx|c", "kernels", "kv-type"};
const char* const kEngineUsage =
    "  -m, --model FILE     GGUF model\n"
    "  -t, --threads N      CPU threads (default: the CPUs this process may use)\n"
    "  -c, --ctx N          context size in tokens (default: the model's)\n"
    "  --kernels K          simd (default) or scalar (the reference path)\n"
    "  --kv-type T          KV cache type: f16 (default), q8_0 or f32\n";

std::unique_ptr<Model> load_model(const std::string& path) {
  // A part alone would fail later, on a missing tensor.
  if (const auto part = tools::split_part_of(path); part && part->count > 1) {
    throw Error(path + " is part " + std::to_string(part->index + 1) + " of a model split in " + std::to_string(part->count) +
                ": join the parts first (tabllm merge " + tools::split_part_path(part->prefix, 0, part->count) +
                " OUT.gguf), or load it in JavaScript, which reads split models");
  }
  return Model::load(path);
}

Engine open_engine(const Args& args) {
  Engine e;
  e.model = load_model(args.require("m"));
  CpuOptions options;
  options.n_threads = args.get_int("threads", cpu::available_cpus());
  if (options.n_threads < 1 || options.n_threads > 512) throw Error("--threads must be between 1 and 512");
  options.context_size = args.get_int("ctx", 0);
  if (options.context_size < 0) throw Error("--ctx must be positive");
  const std::string kernels = args.get("kernels").value_or("simd");
  if (kernels == "scalar") options.path = cpu::Path::Scalar;
  else if (kernels != "simd") throw Error("--kernels must be simd or scalar, got '" + kernels + "'");
  options.kv_type = kv_cache_type(args.get("kv-type").value_or("f16"));
  e.threads = options.n_threads;
  e.kernels = options.path == cpu::Path::Scalar ? "scalar" : cpu::simd_level();
  e.session = std::make_unique<Session>(*e.model, std::make_unique<CpuForward>(*e.model, options));
  if (const auto draft = args.get("draft-model")) {
    e.draft = load_model(*draft);
    e.session->set_draft_model(e.draft->config(), std::make_unique<CpuForward>(*e.draft, options));
  }
  return e;
}

}  // namespace tabllm::cli
