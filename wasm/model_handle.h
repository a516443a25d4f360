// The handle behind tabllm_model (tabllm.h), shared by the exports that take one (abi.cpp, abi_webgpu.cpp).
#ifndef TABLLM_WASM_MODEL_HANDLE_H
#define TABLLM_WASM_MODEL_HANDLE_H

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "gguf/gguf.h"
#include "grammar/output_format.h"
#include "grammar/vocabulary.h"
#include "model/model.h"
#include "tabllm.h"

namespace tabllm::wasm {

// A model shared by its handle and its sessions, so freeing the handle first cannot pull it from under a
// session. Either the whole model (its tensor data in heap pieces the model owns) or only its header: the
// config and tokenizer of a model whose weights the host streams to a GPU.
struct LoadedModel {
  std::unique_ptr<Model> model;  // null for a header-only model
  // Header-only: the header parsed once, the file's first bytes a WebGPU plan reads (header, rope_freqs),
  // and what `model` would hold.
  std::unique_ptr<gguf::Header> header;
  std::vector<uint8_t> prefix;
  std::unique_ptr<ModelConfig> header_config;
  std::unique_ptr<Tokenizer> header_tokenizer;
  std::string info_json;

  const ModelConfig& config() const { return model ? model->config() : *header_config; }
  const Tokenizer& tokenizer() const { return model ? model->tokenizer() : *header_tokenizer; }
  // Output formats compiled for this model's vocabulary, made at the first request that asks for one.
  grammar::ConstraintFactory& formats() const {
    std::call_once(formats_made, [&] {
      formats_factory = std::make_unique<grammar::ConstraintFactory>(grammar::TokenVocabulary::from_tokenizer(tokenizer()));
    });
    return *formats_factory;
  }

 private:
  mutable std::once_flag formats_made;
  mutable std::unique_ptr<grammar::ConstraintFactory> formats_factory;
};

// Sessions generate text: an encoder (bert, nomic-bert) has no head to generate with.
inline void require_generative(const ModelConfig& c) {
  if (c.encoder)
    throw Error("'" + c.name + "' is an embedding model (" + c.arch + "): it gives embeddings (tabllm_embed, /v1/embeddings), not text");
}

}  // namespace tabllm::wasm

struct tabllm_model {
  std::shared_ptr<const tabllm::wasm::LoadedModel> loaded;
  std::string tokens_json;  // the last tabllm_tokenize answer
};

#endif
