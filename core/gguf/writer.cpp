// Writing GGUF v3: header, metadata, tensor infos, then aligned tensor data.
#include <cstring>
#include <fstream>

#include "common/error.h"
#include "gguf/gguf.h"

namespace tabllm::gguf {
namespace {

class Bytes {
 public:
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    out.insert(out.end(), s.begin(), s.end());
  }
  void pad_to(uint64_t alignment) {
    while (out.size() % alignment) out.push_back(0);
  }
  std::vector<uint8_t> out;
};

void put_value(Bytes& b, const Value& v) {
  switch (v.type) {
    case ValueType::UINT8: case ValueType::BOOL: b.put<uint8_t>(static_cast<uint8_t>(v.num.u)); break;
    case ValueType::INT8: b.put<int8_t>(static_cast<int8_t>(v.num.i)); break;
    case ValueType::UINT16: b.put<uint16_t>(static_cast<uint16_t>(v.num.u)); break;
    case ValueType::INT16: b.put<int16_t>(static_cast<int16_t>(v.num.i)); break;
    case ValueType::UINT32: b.put<uint32_t>(static_cast<uint32_t>(v.num.u)); break;
    case ValueType::INT32: b.put<int32_t>(static_cast<int32_t>(v.num.i)); break;
    case ValueType::UINT64: b.put<uint64_t>(v.num.u); break;
    case ValueType::INT64: b.put<int64_t>(v.num.i); break;
    case ValueType::FLOAT32: b.put<float>(static_cast<float>(v.num.f)); break;
    case ValueType::FLOAT64: b.put<double>(v.num.f); break;
    case ValueType::STRING: b.put_string(v.str); break;
    case ValueType::ARRAY:
      b.put<uint32_t>(static_cast<uint32_t>(v.elem_type));
      b.put<uint64_t>(v.array.size());
      for (const Value& e : v.array) {
        if (e.type != v.elem_type) throw Error("GGUF writer: array elements must all be of the declared type");
        put_value(b, e);
      }
      break;
  }
}

}  // namespace

Writer::Writer(uint64_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1))) throw Error("GGUF alignment must be a power of two");
  if (alignment != 32) set("general.alignment", Value::of_u32(static_cast<uint32_t>(alignment)));
}

void Writer::set(const std::string& key, Value value) {
  for (auto& kv : metadata_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  metadata_.push_back({key, std::move(value)});
}

void Writer::declare_tensor(const std::string& name, std::vector<uint64_t> dims, TensorType type) {
  const TypeTraits traits = type_traits(type);
  if (traits.block_size == 0) throw Error("GGUF writer: unknown tensor type for " + name);
  if (dims.empty() || dims[0] % traits.block_size)
    throw Error("GGUF writer: tensor " + name + " rows must be a multiple of " + std::to_string(traits.block_size) + " for " + traits.name);
  for (const auto& t : tensors_)
    if (t.name == name) throw Error("GGUF writer: tensor " + name + " added twice");
  TensorInfo t;
  t.name = name;
  t.dims = std::move(dims);
  t.type = type;
  uint64_t offset = 0;
  if (!tensors_.empty()) {
    const TensorInfo& last = tensors_.back();
    offset = (last.offset + last.n_bytes() + alignment_ - 1) / alignment_ * alignment_;
  }
  t.offset = offset;
  tensors_.push_back(std::move(t));
  data_.emplace_back();
}

void Writer::add_tensor(const std::string& name, std::vector<uint64_t> dims, TensorType type, const void* data) {
  declare_tensor(name, std::move(dims), type);
  const auto* p = static_cast<const uint8_t*>(data);
  data_.back().assign(p, p + tensors_.back().n_bytes());
}

static std::vector<uint8_t> header_bytes(const std::vector<KeyValue>& metadata, const std::vector<TensorInfo>& tensors,
                                         uint64_t alignment) {
  Bytes b;
  b.put<uint32_t>(0x46554747);
  b.put<uint32_t>(3);
  b.put<uint64_t>(tensors.size());
  b.put<uint64_t>(metadata.size());
  for (const auto& kv : metadata) {
    b.put_string(kv.key);
    b.put<uint32_t>(static_cast<uint32_t>(kv.value.type));
    put_value(b, kv.value);
  }
  for (const auto& t : tensors) {
    b.put_string(t.name);
    b.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) b.put<uint64_t>(d);
    b.put<uint32_t>(static_cast<uint32_t>(t.type));
    b.put<uint64_t>(t.offset);
  }
  b.pad_to(alignment);
  return std::move(b.out);
}

std::vector<uint8_t> Writer::write_memory() const {
  std::vector<uint8_t> out = header_bytes(metadata_, tensors_, alignment_);
  const size_t base = out.size();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (data_[i].size() != tensors_[i].n_bytes()) throw Error("GGUF writer: tensor " + tensors_[i].name + " has no data");
    out.resize(base + tensors_[i].offset, 0);
    out.insert(out.end(), data_[i].begin(), data_[i].end());
  }
  return out;
}

void Writer::write_file(const std::string& path, Producer produce, void* ctx) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error("cannot write " + path + ": check that the folder exists and is writable");
  const std::vector<uint8_t> head = header_bytes(metadata_, tensors_, alignment_);
  f.write(reinterpret_cast<const char*>(head.data()), static_cast<std::streamsize>(head.size()));
  uint64_t written = 0;
  std::vector<uint8_t> produced;
  static const char zeros[64] = {};
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const TensorInfo& t = tensors_[i];
    while (written < t.offset) {
      const uint64_t n = std::min<uint64_t>(sizeof zeros, t.offset - written);
      f.write(zeros, static_cast<std::streamsize>(n));
      written += n;
    }
    const std::vector<uint8_t>* bytes = &data_[i];
    if (bytes->size() != t.n_bytes()) {
      if (!produce) throw Error("GGUF writer: tensor " + t.name + " was declared but no producer was given");
      produced.clear();
      produce(ctx, i, produced);
      if (produced.size() != t.n_bytes()) throw Error("GGUF writer: producer gave the wrong size for " + t.name);
      bytes = &produced;
    }
    f.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
    written += bytes->size();
  }
  if (!f.flush()) throw Error("writing " + path + " failed (disk full?)");
}

}  // namespace tabllm::gguf
