#include "convert/llama2c_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "common/error.h"

namespace tabllm::tools {
namespace {

constexpr uint32_t kVersion1Magic = 0x616b3432;  // "ak42"
constexpr uint64_t kVersion1HeaderSize = 256;
constexpr uint64_t kLegacyHeaderSize = 7 * sizeof(int32_t);

using Weight = Llama2cCheckpoint::Weight;

int32_t int_at(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::string describe(const Llama2cConfig& c) {
  return "dim " + std::to_string(c.dim) + ", hidden_dim " + std::to_string(c.hidden_dim) + ", " +
         std::to_string(c.n_layers) + " layers, " + std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv_heads) +
         " heads, vocab " + std::to_string(c.vocab_size) + ", seq_len " + std::to_string(c.seq_len) + ", " +
         (c.shared_classifier ? "shared" : "separate") + " classifier";
}

}  // namespace

Llama2cCheckpoint::Llama2cCheckpoint(const std::string& path) : path_(path) {
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) throw Error("cannot read llama2.c checkpoint " + path + ": " + ec.message());
  file_.open(path, std::ios::binary);
  if (!file_) throw Error("cannot open llama2.c checkpoint " + path);

  uint8_t header[64] = {};
  file_.read(reinterpret_cast<char*>(header), static_cast<std::streamsize>(std::min<uint64_t>(sizeof header, file_size)));
  if (file_size < kLegacyHeaderSize + 4)
    throw Error(path + " is too small (" + std::to_string(file_size) + " bytes) to be a llama2.c checkpoint");

  uint64_t header_size = kLegacyHeaderSize;
  const uint8_t* fields = header;
  if (static_cast<uint32_t>(int_at(header)) == kVersion1Magic) {
    config_.version = int_at(header + 4);
    if (config_.version != 1)
      throw Error(path + " is a llama2.c version " + std::to_string(config_.version) +
                  " checkpoint; only version 0 (legacy) and 1 (float32) can be converted: export with --version 1");
    header_size = kVersion1HeaderSize;
    fields = header + 8;
  }
  Llama2cConfig& c = config_;
  c.dim = int_at(fields);
  c.hidden_dim = int_at(fields + 4);
  c.n_layers = int_at(fields + 8);
  c.n_heads = int_at(fields + 12);
  c.n_kv_heads = int_at(fields + 16);
  c.vocab_size = int_at(fields + 20);
  c.seq_len = int_at(fields + 24);
  if (c.version == 0) {
    c.shared_classifier = c.vocab_size > 0;  // legacy: the sign of vocab_size is the flag
    if (c.vocab_size < 0) c.vocab_size = -c.vocab_size;
  } else {
    c.shared_classifier = fields[28] != 0;
  }

  // Bounds keep every size computation far from overflow.
  const auto in_range = [](int32_t v, int32_t max) { return v > 0 && v <= max; };
  if (!in_range(c.dim, 1 << 16) || !in_range(c.hidden_dim, 1 << 18) || !in_range(c.n_layers, 1024) ||
      !in_range(c.n_heads, 1024) || !in_range(c.n_kv_heads, c.n_heads) || !in_range(c.vocab_size, 1 << 22) ||
      !in_range(c.seq_len, 1 << 22) || c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0 ||
      c.head_size() % 2 != 0)
    throw Error(path + " does not look like a llama2.c checkpoint: its header says " + describe(c));

  const uint64_t expected = locate_weights(header_size);
  if (file_size != expected)
    throw Error(path + " has " + std::to_string(file_size) + " bytes but its header (" + describe(c) + ") needs " +
                std::to_string(expected) + (file_size < expected ? ": the file is truncated" : ": the file has extra bytes") +
                " or is not a llama2.c checkpoint");
}

uint64_t Llama2cCheckpoint::element_count(Weight weight) const {
  const Llama2cConfig& c = config_;
  const uint64_t dim = static_cast<uint64_t>(c.dim), hidden = static_cast<uint64_t>(c.hidden_dim);
  const uint64_t kv_dim = static_cast<uint64_t>(c.kv_dim()), vocab = static_cast<uint64_t>(c.vocab_size);
  switch (weight) {
    case Weight::TokenEmbedding: case Weight::Classifier: return vocab * dim;
    case Weight::AttnNorm: case Weight::FfnNorm: case Weight::FinalNorm: return dim;
    case Weight::Wq: case Weight::Wo: return dim * dim;
    case Weight::Wk: case Weight::Wv: return kv_dim * dim;
    case Weight::W1: case Weight::W2: case Weight::W3: return hidden * dim;
  }
  return 0;
}

uint64_t Llama2cCheckpoint::locate_weights(uint64_t header_size) {
  const Llama2cConfig& c = config_;
  uint64_t offset = header_size;
  const auto place = [&](Weight w, bool per_layer) {
    offsets_[static_cast<size_t>(w)] = offset;
    offset += element_count(w) * sizeof(float) * (per_layer ? static_cast<uint64_t>(c.n_layers) : 1);
  };
  if (c.version == 0) {
    place(Weight::TokenEmbedding, false);
    for (Weight w : {Weight::AttnNorm, Weight::Wq, Weight::Wk, Weight::Wv, Weight::Wo, Weight::FfnNorm, Weight::W1,
                     Weight::W2, Weight::W3})
      place(w, true);
    place(Weight::FinalNorm, false);
    // Precomputed RoPE cos and sin tables, seq_len * head_size / 2 floats each; the converter ignores them.
    offset += static_cast<uint64_t>(c.seq_len) * static_cast<uint64_t>(c.head_size()) * sizeof(float);
  } else {
    place(Weight::AttnNorm, true);
    place(Weight::FfnNorm, true);
    place(Weight::FinalNorm, false);
    place(Weight::TokenEmbedding, false);
    for (Weight w : {Weight::Wq, Weight::Wk, Weight::Wv, Weight::Wo, Weight::W1, Weight::W2, Weight::W3})
      place(w, true);
  }
  if (c.shared_classifier) {
    offsets_[static_cast<size_t>(Weight::Classifier)] = offsets_[static_cast<size_t>(Weight::TokenEmbedding)];
  } else {
    place(Weight::Classifier, false);
  }
  return offset;
}

std::vector<float> Llama2cCheckpoint::read(Weight weight, int layer) {
  const bool per_layer = weight != Weight::TokenEmbedding && weight != Weight::Classifier && weight != Weight::FinalNorm;
  const uint64_t n = element_count(weight);
  const uint64_t offset = offsets_[static_cast<size_t>(weight)] + (per_layer ? static_cast<uint64_t>(layer) * n * sizeof(float) : 0);
  std::vector<float> values(n);
  file_.seekg(static_cast<std::streamoff>(offset));
  file_.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(n * sizeof(float)));
  if (!file_) throw Error("reading " + path_ + " failed at byte " + std::to_string(offset) + " (file changed while converting?)");
  return values;
}

}  // namespace tabllm::tools
