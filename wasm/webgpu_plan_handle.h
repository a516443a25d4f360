// The handle behind tabllm_webgpu_plan (tabllm.h), shared by the package's plan exports (abi_webgpu.cpp)
// and the development module's per-kernel plans (dev/abi_webgpu_ops.cpp).
#ifndef TABLLM_WASM_WEBGPU_PLAN_HANDLE_H
#define TABLLM_WASM_WEBGPU_PLAN_HANDLE_H

#include <string>
#include <utility>

#include "backend/webgpu/plan.h"
#include "tabllm.h"

struct tabllm_webgpu_plan {
  explicit tabllm_webgpu_plan(tabllm::webgpu::Plan p) : plan(std::move(p)), json(plan.to_json()) {}
  tabllm::webgpu::Plan plan;
  std::string json;
};

#endif
