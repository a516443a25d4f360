// Parsing GGUF headers from bytes, with every length and count checked against what is there.
#include <algorithm>
#include <cstring>
#include <set>

#include "common/error.h"
#include "gguf/gguf.h"

namespace tabllm::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr int kMaxArrayDepth = 8;
constexpr uint32_t kMaxDims = 4;

// Thrown internally when the buffer ends inside the header; becomes "truncated" or "need more bytes".
struct NeedMoreBytes {};

class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  template <typename T>
  T read() {
    if (remaining() < sizeof(T)) throw NeedMoreBytes{};
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what) {
    const uint64_t len = read<uint64_t>();
    if (len > (uint64_t{1} << 32)) throw Error(std::string("corrupt GGUF: ") + what + " has an impossible length " + std::to_string(len));
    if (remaining() < len) throw NeedMoreBytes{};
    std::string s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

size_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: case ValueType::STRING: return 8;
    case ValueType::ARRAY: return 12;
  }
  return 1;
}

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::FLOAT64); }

Value read_value(Cursor& c, ValueType type, const std::string& key, int depth) {
  Value v;
  v.type = type;
  switch (type) {
    case ValueType::UINT8: v.num.u = c.read<uint8_t>(); break;
    case ValueType::INT8: v.num.i = c.read<int8_t>(); break;
    case ValueType::UINT16: v.num.u = c.read<uint16_t>(); break;
    case ValueType::INT16: v.num.i = c.read<int16_t>(); break;
    case ValueType::UINT32: v.num.u = c.read<uint32_t>(); break;
    case ValueType::INT32: v.num.i = c.read<int32_t>(); break;
    case ValueType::UINT64: v.num.u = c.read<uint64_t>(); break;
    case ValueType::INT64: v.num.i = c.read<int64_t>(); break;
    case ValueType::FLOAT32: v.num.f = c.read<float>(); break;
    case ValueType::FLOAT64: v.num.f = c.read<double>(); break;
    case ValueType::BOOL: {
      const uint8_t b = c.read<uint8_t>();
      if (b > 1) throw Error("corrupt GGUF: metadata " + key + " has bool value " + std::to_string(b));
      v.num.u = b;
      break;
    }
    case ValueType::STRING: v.str = c.read_string(("metadata " + key).c_str()); break;
    case ValueType::ARRAY: {
      if (depth >= kMaxArrayDepth) throw Error("corrupt GGUF: metadata " + key + " nests arrays too deeply");
      const uint32_t elem = c.read<uint32_t>();
      if (!valid_value_type(elem)) throw Error("corrupt GGUF: metadata " + key + " has array element type " + std::to_string(elem));
      v.elem_type = static_cast<ValueType>(elem);
      const uint64_t n = c.read<uint64_t>();
      // Each element takes at least min_encoded_size bytes: a larger count cannot be real (or is not here yet).
      if (n > (uint64_t{1} << 40) / min_encoded_size(v.elem_type))
        throw Error("corrupt GGUF: metadata " + key + " claims " + std::to_string(n) + " elements");
      if (n * min_encoded_size(v.elem_type) > c.remaining()) throw NeedMoreBytes{};
      v.array.reserve(n);  // bounded above: n elements fit in the remaining bytes
      for (uint64_t i = 0; i < n; ++i) v.array.push_back(read_value(c, v.elem_type, key, depth + 1));
      break;
    }
  }
  return v;
}

Header parse(const uint8_t* data, size_t size, std::optional<uint64_t> total_size) {
  Cursor c(data, size);
  const uint32_t magic = c.read<uint32_t>();
  if (magic != kMagic) throw Error("not a GGUF file (it does not start with the bytes 'GGUF')");
  Header h;
  h.version = c.read<uint32_t>();
  if (h.version == 1) throw Error("GGUF version 1 is not supported; convert the model again with a current tool (versions 2 and 3 load)");
  if (h.version != 2 && h.version != 3) {
    if (h.version >= (1u << 16)) throw Error("this GGUF file is big-endian; only little-endian GGUF files are supported");
    throw Error("unsupported GGUF version " + std::to_string(h.version) + " (versions 2 and 3 load)");
  }
  const uint64_t n_tensors = c.read<uint64_t>();
  const uint64_t n_kv = c.read<uint64_t>();
  if (n_tensors > (1u << 24) || n_kv > (1u << 24)) throw Error("corrupt GGUF: header claims " + std::to_string(n_tensors) + " tensors and " + std::to_string(n_kv) + " metadata entries");

  // Counts come from the file: reserve only what the remaining bytes could hold, so a tiny file cannot
  // make the parser allocate gigabytes.
  constexpr size_t kMinKeyValueBytes = 8 + 4 + 1, kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
  std::set<std::string> keys;
  h.metadata.reserve(std::min<uint64_t>(n_kv, c.remaining() / kMinKeyValueBytes));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string("metadata key");
    const uint32_t type = c.read<uint32_t>();
    if (!valid_value_type(type)) throw Error("corrupt GGUF: metadata " + key + " has unknown value type " + std::to_string(type));
    Value value = read_value(c, static_cast<ValueType>(type), key, 0);
    if (!keys.insert(key).second) throw Error("corrupt GGUF: metadata key " + key + " appears twice");
    h.metadata.push_back({std::move(key), std::move(value)});
  }
  if (const Value* a = h.find("general.alignment")) {
    const uint64_t align = a->is_integer() ? a->as_uint() : 0;
    if (align == 0 || (align & (align - 1)) != 0) throw Error("corrupt GGUF: general.alignment must be a power of two");
    h.alignment = align;
  }

  std::set<std::string> names;
  h.tensors.reserve(std::min<uint64_t>(n_tensors, c.remaining() / kMinTensorInfoBytes));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = c.read_string("tensor name");
    const uint32_t n_dims = c.read<uint32_t>();
    if (n_dims == 0 || n_dims > kMaxDims) throw Error("corrupt GGUF: tensor " + t.name + " has " + std::to_string(n_dims) + " dimensions");
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = c.read<uint64_t>();
      if (dim == 0 || dim > (uint64_t{1} << 40) || n_elements > (uint64_t{1} << 42) / dim)
        throw Error("corrupt GGUF: tensor " + t.name + " has an impossible shape");
      n_elements *= dim;
      t.dims.push_back(dim);
    }
    const uint32_t type_id = c.read<uint32_t>();
    const TypeTraits traits = type_traits(type_id);
    if (traits.block_size == 0) throw Error("tensor " + t.name + " has unknown type id " + std::to_string(type_id) + "; this file needs a newer tabllm or is corrupt");
    t.type = static_cast<TensorType>(type_id);
    if (t.dims[0] % traits.block_size != 0)
      throw Error("corrupt GGUF: tensor " + t.name + " row of " + std::to_string(t.dims[0]) + " elements is not a whole number of " + traits.name + " blocks");
    t.offset = c.read<uint64_t>();
    if (t.offset % h.alignment != 0) throw Error("corrupt GGUF: tensor " + t.name + " data is not aligned");
    if (!names.insert(t.name).second) throw Error("corrupt GGUF: tensor " + t.name + " appears twice");
    h.tensors.push_back(std::move(t));
  }
  h.data_offset = (c.pos() + h.alignment - 1) / h.alignment * h.alignment;
  if (total_size) {
    for (const auto& t : h.tensors) {
      const uint64_t end = h.data_offset + t.offset + t.n_bytes();
      if (end > *total_size || end < h.data_offset)
        throw Error("GGUF file is truncated: tensor " + t.name + " ends at byte " + std::to_string(end) + " but the file has " + std::to_string(*total_size) + " bytes (download it again)");
    }
  }
  return h;
}

}  // namespace

Header parse_header(const uint8_t* data, size_t size, std::optional<uint64_t> total_size) {
  try {
    return parse(data, size, total_size);
  } catch (const NeedMoreBytes&) {
    if (size < 8) throw Error("not a GGUF file (too short: " + std::to_string(size) + " bytes)");
    throw Error("GGUF file is truncated: it ends inside the header (download it again)");
  }
}

std::optional<Header> parse_header_prefix(const uint8_t* data, size_t size, std::optional<uint64_t> total_size) {
  try {
    return parse(data, size, total_size);
  } catch (const NeedMoreBytes&) {
    if (size >= 4) {
      uint32_t magic;
      std::memcpy(&magic, data, 4);
      if (magic != kMagic) throw Error("not a GGUF file (it does not start with the bytes 'GGUF')");
    }
    return std::nullopt;
  }
}

void HeaderParser::feed(const uint8_t* data, size_t size) {
  if (header_) return;
  buffer_.insert(buffer_.end(), data, data + size);
  if (buffer_.size() < next_attempt_) return;
  header_ = parse_header_prefix(buffer_.data(), buffer_.size());
  if (header_) {
    buffer_.clear();
    buffer_.shrink_to_fit();
  } else {
    next_attempt_ = buffer_.size() * 2;
  }
}

void HeaderParser::finish() {
  if (!header_) header_ = parse_header(buffer_.data(), buffer_.size());
}

const Header& HeaderParser::header() const {
  if (!header_) throw Error("GGUF header is not complete yet");
  return *header_;
}

}  // namespace tabllm::gguf
