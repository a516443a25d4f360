// The embedding exports of tabllm.h: an Embedder (core/runtime/embedder.h) behind a handle.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abi_guard.h"
#include "cpu_options.h"
#include "model_handle.h"
#include "report_json.h"
#include "runtime/embedder.h"
#include "tabllm.h"
#include "work_counters.h"

using tabllm::Error;
using tabllm::wasm::deref;
using tabllm::wasm::guarded;

struct tabllm_embedder {
  std::shared_ptr<const tabllm::wasm::LoadedModel> loaded;  // keeps the model alive while the embedder is
  tabllm::Embedder embedder;
};

namespace {

int embed_inputs(tabllm_embedder& e, const std::vector<std::vector<int32_t>>& inputs, float* out) {
  if (!out) throw Error("out must point at room for n_inputs * dim floats");
  e.embedder.embed(inputs, out);
  return 0;
}

}  // namespace

extern "C" {

tabllm_embedder* tabllm_embedder_create(tabllm_model* model, int threads, const char* kernels) {
  return guarded(
      [&] {
        const auto& loaded = deref(model, "model").loaded;
        if (!loaded->model) throw Error("this model was opened from its header only (no weights): load the whole model with tabllm_loader_create to embed");
        tabllm::CpuOptions cpu = tabllm::wasm::cpu_options(threads, kernels ? kernels : "");
        return new tabllm_embedder{loaded, tabllm::Embedder(*loaded->model, {cpu.n_threads, cpu.path})};
      },
      static_cast<tabllm_embedder*>(nullptr));
}

void tabllm_embedder_free(tabllm_embedder* embedder) { delete embedder; }

const char* tabllm_embed_tokenize(tabllm_model* model, const char* text) {
  return guarded(
      [&] {
        tabllm_model& m = deref(model, "model");
        ++tabllm::wasm::work_counters.tokenizations;
        m.tokens_json = tabllm::wasm::token_ids_json(m.loaded->tokenizer().encode_input(text ? text : ""));
        return m.tokens_json.c_str();
      },
      static_cast<const char*>(nullptr));
}

int tabllm_embed(tabllm_embedder* embedder, const int32_t* ids, const int32_t* lengths, int n_inputs, float* out) {
  return guarded(
      [&] {
        tabllm_embedder& e = deref(embedder, "embedder");
        if (n_inputs < 1) throw Error("n_inputs must be at least 1, got " + std::to_string(n_inputs));
        if (!lengths || !ids) throw Error("ids and lengths must not be NULL");
        std::vector<std::vector<int32_t>> inputs(static_cast<size_t>(n_inputs));
        const int32_t* next = ids;
        for (int i = 0; i < n_inputs; ++i) {
          if (lengths[i] < 0) throw Error("lengths[" + std::to_string(i) + "] is negative");
          inputs[static_cast<size_t>(i)].assign(next, next + lengths[i]);
          next += lengths[i];
        }
        return embed_inputs(e, inputs, out);
      },
      -1);
}

int tabllm_embed_texts(tabllm_embedder* embedder, const char* texts_json, float* out) {
  return guarded(
      [&] {
        tabllm_embedder& e = deref(embedder, "embedder");
        const auto texts = nlohmann::json::parse(texts_json ? texts_json : "", nullptr, /*allow_exceptions=*/false);
        if (!texts.is_array() || texts.empty()) throw Error("texts_json must be a non-empty JSON array of strings");
        std::vector<std::vector<int32_t>> inputs;
        for (const auto& text : texts) {
          if (!text.is_string()) throw Error("texts_json must hold only strings");
          ++tabllm::wasm::work_counters.tokenizations;
          inputs.push_back(e.loaded->tokenizer().encode_input(text.get<std::string>()));
        }
        return embed_inputs(e, inputs, out);
      },
      -1);
}

}  // extern "C"
