#include "model/model.h"

#include "common/error.h"

namespace tabllm {

Model::Model(std::unique_ptr<gguf::File> file) : file_(std::move(file)) {
  const gguf::Header& h = file_->header();
  config_ = read_config(h);
  weights_ = bind_weights(*file_, config_);
  Vocab vocab = Vocab::from_gguf(h);
  if (static_cast<int64_t>(vocab.size()) > config_.n_vocab)
    throw Error("tokenizer has " + std::to_string(vocab.size()) + " tokens but the model's embedding has only " + std::to_string(config_.n_vocab) + " rows");
  vocab.pad_to(static_cast<size_t>(config_.n_vocab));
  tokenizer_ = std::make_unique<Tokenizer>(std::move(vocab));
}

std::unique_ptr<Model> Model::load(const std::string& path) {
  auto file = gguf::File::open(path);
  try {
    return std::unique_ptr<Model>(new Model(std::move(file)));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

std::unique_ptr<Model> Model::from_file(std::unique_ptr<gguf::File> file) {
  return std::unique_ptr<Model>(new Model(std::move(file)));
}

}  // namespace tabllm
