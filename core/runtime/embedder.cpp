#include "runtime/embedder.h"

#include <algorithm>

#include "common/error.h"
#include "ops/pooling.h"

namespace tabllm {

Embedder::Embedder(const Model& model, EmbedOptions options) : model_(model), options_(options) {
  const ModelConfig& c = model.config();
  if (!c.is_embedding())
    throw Error("'" + c.name + "' is a chat model (" + c.arch + ", no pooling_type in its file), not an embedding model: use an embedding model " +
                "(bert, nomic-bert, or a decoder such as Qwen3-Embedding whose GGUF names its pooling)");
  if (c.pooling == Pooling::None)
    throw Error("'" + c.name + "' has pooling_type none (one vector per token): tabllm embeds whole inputs and needs mean, cls or last");
  if (options_.max_batch_tokens < 1) throw Error("max_batch_tokens must be at least 1");
  if (c.encoder) {
    encoder_ = std::make_unique<CpuEncoder>(model, options.n_threads, options.path);
  } else {
    CpuOptions cpu;
    cpu.n_threads = options.n_threads;
    cpu.path = options.path;
    cpu.kv_type = TensorType::F32;  // the cache holds one input at a time: keep it exact
    decoder_ = std::make_unique<CpuForward>(model, cpu);
  }
}

Embedder::~Embedder() = default;

void Embedder::embed(std::span<const std::vector<int32_t>> inputs, float* out) {
  const ModelConfig& c = model_.config();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& input = inputs[i];
    const std::string which = "input " + std::to_string(i);
    if (input.empty()) throw Error(which + " is empty: every input needs at least one token");
    if (static_cast<int64_t>(input.size()) > c.context_length)
      throw Error(which + " has " + std::to_string(input.size()) + " tokens, more than the model's context of " + std::to_string(c.context_length) +
                  ": shorten it");
    for (int32_t id : input)
      if (id < 0 || id >= c.n_vocab)
        throw Error(which + " holds token id " + std::to_string(id) + ", outside the vocabulary (0.." + std::to_string(c.n_vocab - 1) + ")");
  }
  const int64_t dim = c.dim;
  const auto length = [&](size_t i) { return static_cast<int64_t>(inputs[i].size()); };
  size_t first = 0;
  while (first < inputs.size()) {
    // As many inputs as fit in max_batch_tokens (a longer one goes alone) and, for a decoder, in its KV cache.
    const int64_t room = encoder_ ? options_.max_batch_tokens : std::min(options_.max_batch_tokens, decoder_->context_size());
    size_t end = first + 1;
    int64_t tokens = length(first);
    while (end < inputs.size() && tokens + length(end) <= room) tokens += length(end++);
    hidden_.resize(static_cast<size_t>(tokens * dim));
    const std::vector<std::span<const int32_t>> group(inputs.begin() + static_cast<std::ptrdiff_t>(first), inputs.begin() + static_cast<std::ptrdiff_t>(end));
    if (encoder_) encoder_->hidden_states(group, hidden_.data());
    else decoder_->hidden_states(group, hidden_.data());
    int64_t row = 0;
    for (size_t i = first; i < end; ++i) {
      const auto n = static_cast<int64_t>(inputs[i].size());
      float* e = out + static_cast<int64_t>(i) * dim;
      ops::pool(&hidden_[static_cast<size_t>(row * dim)], n, dim, c.pooling, e);
      ops::l2_normalize(e, dim);
      row += n;
    }
    first = end;
  }
}

}  // namespace tabllm
