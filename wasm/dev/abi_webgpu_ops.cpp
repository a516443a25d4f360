// The WebGPU exports only tests use (tabllm_dev.h): the plan of one kernel, one kernel's WGSL and the RoPE
// table, for the per-op parity tests (tests/webgpu-cases/ops.mjs). Development module only.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abi_guard.h"
#include "backend/webgpu/kernels.h"
#include "backend/webgpu/plan.h"
#include "tabllm_dev.h"
#include "webgpu_plan_handle.h"

using tabllm::wasm::guarded;

namespace {
std::string kernel_text;  // the last tabllm_webgpu_kernel answer
}  // namespace

extern "C" {

tabllm_webgpu_plan* tabllm_webgpu_plan_op(const char* spec_json) {
  return guarded([&] { return new tabllm_webgpu_plan(tabllm::webgpu::build_op_plan(spec_json ? spec_json : "")); },
                 static_cast<tabllm_webgpu_plan*>(nullptr));
}

const char* tabllm_webgpu_kernel(const char* spec_json) {
  return guarded(
      [&]() -> const char* {
        const auto j = nlohmann::json::parse(spec_json ? spec_json : "");
        tabllm::webgpu::KernelSpec spec;
        spec.kernel = j.at("kernel").get<std::string>();
        spec.flags = j.value("flags", std::vector<std::string>{});
        for (const auto& t : j.value("weights", std::vector<std::string>{})) spec.weights.push_back(tabllm::parse_type_name(t));
        spec.constants = j.value("constants", std::map<std::string, int64_t>{});
        kernel_text = tabllm::webgpu::compose_kernel(spec);
        return kernel_text.c_str();
      },
      static_cast<const char*>(nullptr));
}

int tabllm_webgpu_rope_table(int positions, int rope_dims, float base, const float* factors, float linear_scale, float attn_factor,
                             float* out) {
  return guarded([&] {
    const std::vector<float> t = tabllm::webgpu::rope_table(positions, rope_dims, base, factors, linear_scale, attn_factor);
    std::copy(t.begin(), t.end(), out);
    return 0;
  });
}

}  // extern "C"
