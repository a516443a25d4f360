// The WebGPU plan exports of tabllm.h (core/backend/webgpu/plan.h): the core decides buffers, kernels
// and dispatches; the host's executor (js/src/gpu/executor.mjs) only carries them out. A model is planned
// from the header its handle holds, so a load parses the header once.
#include <memory>
#include <string>

#include "abi_guard.h"
#include "backend/webgpu/plan.h"
#include "model_handle.h"
#include "tabllm.h"
#include "webgpu_plan_handle.h"

using tabllm::wasm::deref;
using tabllm::wasm::guarded;

extern "C" {

tabllm_webgpu_plan* tabllm_webgpu_plan_model(tabllm_model* model, const char* options_json) {
  return guarded(
      [&] {
        // An encoder gets its own plan (backend/webgpu/encoder_plan.h): embeddings on the GPU.
        const tabllm::wasm::LoadedModel& m = *deref(model, "model").loaded;
        const auto options = tabllm::webgpu::parse_plan_options(options_json ? options_json : "");
        if (m.model) return new tabllm_webgpu_plan(tabllm::webgpu::build_model_plan(*m.model, options));
        return new tabllm_webgpu_plan(tabllm::webgpu::build_model_plan(*m.header, m.prefix.data(), m.prefix.size(), options));
      },
      static_cast<tabllm_webgpu_plan*>(nullptr));
}

const char* tabllm_webgpu_plan_json(tabllm_webgpu_plan* plan) { return plan ? plan->json.c_str() : ""; }
const uint8_t* tabllm_webgpu_plan_blob(tabllm_webgpu_plan* plan) { return plan ? plan->plan.blob.data() : nullptr; }
size_t tabllm_webgpu_plan_blob_size(tabllm_webgpu_plan* plan) { return plan ? plan->plan.blob.size() : 0; }
void tabllm_webgpu_plan_free(tabllm_webgpu_plan* plan) { delete plan; }

}  // extern "C"
