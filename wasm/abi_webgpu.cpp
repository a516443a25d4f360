// The WebGPU plan, exported to JavaScript (core/backend/webgpu/plan.h): the core decides buffers,
// kernels and dispatches; the host's executor (js/src/gpu/executor.mjs) only carries them out.
//
//   tabllm_webgpu_prefix_needed(bytes, size)   leading file bytes the planner needs; -1: pass more
//   tabllm_webgpu_plan_model(bytes, size, opts) plan of a model from a prefix of its GGUF file
//   tabllm_webgpu_plan_op(spec)                 plan of one kernel (parity tests)
//   tabllm_webgpu_plan_json / _blob / _blob_size / _free
//   tabllm_webgpu_kernel(spec)                  the WGSL of one kernel variant
//   tabllm_webgpu_rope_table(...)               the RoPE table the plans upload (tests)
// Failures return NULL / -2 and tabllm_webgpu_last_error() says why.
#include <algorithm>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "backend/webgpu/kernels.h"
#include "backend/webgpu/plan.h"
#include "tabllm.h"

namespace {

std::string gpu_error;

struct PlanHandle {
  tabllm::webgpu::Plan plan;
  std::string json;
};

template <class Body, class Result>
Result guarded(Body&& body, Result failed) noexcept {
  gpu_error.clear();
  try {
    return body();
  } catch (const std::bad_alloc&) {
    gpu_error = "out of memory while planning";
  } catch (const std::exception& e) {
    gpu_error = e.what();
  } catch (...) {
    gpu_error = "unknown internal error";
  }
  return failed;
}

PlanHandle* wrap(tabllm::webgpu::Plan plan) {
  auto h = std::make_unique<PlanHandle>();
  h->plan = std::move(plan);
  h->json = h->plan.to_json();
  return h.release();
}

std::string kernel_text;

}  // namespace

extern "C" {

TABLLM_API const char* tabllm_webgpu_last_error(void) { return gpu_error.c_str(); }

// A double so that JavaScript gets sizes above 2 GB without BigInt.
TABLLM_API double tabllm_webgpu_prefix_needed(const uint8_t* bytes, size_t size) {
  return guarded([&]() -> double {
    const auto n = tabllm::webgpu::prefix_bytes_needed(bytes, size);
    return n ? static_cast<double>(*n) : -1.0;
  }, -2.0);
}

TABLLM_API void* tabllm_webgpu_plan_model(const uint8_t* bytes, size_t size, const char* options_json) {
  return guarded([&]() -> void* {
    return wrap(tabllm::webgpu::build_model_plan(bytes, size, tabllm::webgpu::parse_plan_options(options_json ? options_json : "")));
  }, static_cast<void*>(nullptr));
}

TABLLM_API void* tabllm_webgpu_plan_op(const char* spec_json) {
  return guarded([&]() -> void* { return wrap(tabllm::webgpu::build_op_plan(spec_json ? spec_json : "")); }, static_cast<void*>(nullptr));
}

TABLLM_API const char* tabllm_webgpu_plan_json(void* plan) { return plan ? static_cast<PlanHandle*>(plan)->json.c_str() : ""; }
TABLLM_API const uint8_t* tabllm_webgpu_plan_blob(void* plan) { return plan ? static_cast<PlanHandle*>(plan)->plan.blob.data() : nullptr; }
TABLLM_API size_t tabllm_webgpu_plan_blob_size(void* plan) { return plan ? static_cast<PlanHandle*>(plan)->plan.blob.size() : 0; }
TABLLM_API void tabllm_webgpu_plan_free(void* plan) { delete static_cast<PlanHandle*>(plan); }

// {"kernel": "matmul", "flags": [...], "weights": ["q4_0"], "constants": {"WG": 64, "TOK": 1}} → WGSL.
TABLLM_API const char* tabllm_webgpu_kernel(const char* spec_json) {
  return guarded([&]() -> const char* {
    const auto j = nlohmann::json::parse(spec_json ? spec_json : "");
    tabllm::webgpu::KernelSpec spec;
    spec.kernel = j.at("kernel").get<std::string>();
    spec.flags = j.value("flags", std::vector<std::string>{});
    for (const auto& t : j.value("weights", std::vector<std::string>{})) spec.weights.push_back(tabllm::parse_type_name(t));
    spec.constants = j.value("constants", std::map<std::string, int64_t>{});
    kernel_text = tabllm::webgpu::compose_kernel(spec);
    return kernel_text.c_str();
  }, static_cast<const char*>(nullptr));
}

// out[positions * rope_dims] = (cos, sin) per position and pair (plan.h rope_table); factors may be NULL.
TABLLM_API int tabllm_webgpu_rope_table(int positions, int rope_dims, float base, const float* factors, float linear_scale, float* out) {
  return guarded([&] {
    const std::vector<float> t = tabllm::webgpu::rope_table(positions, rope_dims, base, factors, linear_scale);
    std::copy(t.begin(), t.end(), out);
    return 0;
  }, -1);
}

}  // extern "C"
