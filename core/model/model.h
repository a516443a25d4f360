// A loaded model: its file, config, bound weights and tokenizer. Immutable once loaded, so several
// sessions (or backends) can share it.
#pragma once
#include <memory>
#include <string>

#include "gguf/gguf.h"
#include "model/config.h"
#include "model/weights.h"
#include "tokenizer/tokenizer.h"

namespace tabllm {

class Model {
 public:
  static std::unique_ptr<Model> load(const std::string& path);  // memory-mapped
  // Over a File the caller made (gguf::File::with_pieces: its bytes must be in place before a session runs).
  static std::unique_ptr<Model> from_file(std::unique_ptr<gguf::File> file);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const gguf::File& file() const { return *file_; }

 private:
  explicit Model(std::unique_ptr<gguf::File> file);
  std::unique_ptr<gguf::File> file_;
  ModelConfig config_;
  ModelWeights weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

}  // namespace tabllm
