// GGUF files (versions 2 and 3): metadata, tensor infos and tensor data.
//
//   GgufFile::open(path)        memory-maps a file (native hosts)
//   GgufFile::from_memory(...)  parses a buffer the caller keeps alive
//   GgufFile::with_pieces(...)  allocates the tensor data in pieces the host fills (a WebAssembly heap)
//   GgufHeaderParser            is fed the first bytes of a stream (browser downloads) and says when the
//                               header is complete and where each tensor's bytes will arrive
//   GgufWriter                  builds a file: metadata, then tensors, aligned
//
// Every malformed input raises tabllm::Error with a one-line message; nothing reads past the buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quant/types.h"

namespace tabllm::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* value_type_name(ValueType type);

// A metadata value. Numbers keep their GGUF type; arrays may nest.
struct Value {
  ValueType type = ValueType::UINT32;
  union {
    uint64_t u;  // UINT8..UINT64, BOOL
    int64_t i;   // INT8..INT64
    double f;    // FLOAT32, FLOAT64
  } num{0};
  std::string str;           // STRING
  ValueType elem_type{};     // ARRAY: element type
  std::vector<Value> array;  // ARRAY: elements

  bool is_integer() const;
  bool is_float() const { return type == ValueType::FLOAT32 || type == ValueType::FLOAT64; }
  // Numeric reads with range checks; throw Error when the value is not numeric or out of range.
  int64_t as_int() const;
  uint64_t as_uint() const;
  double as_float() const;

  static Value of_u32(uint32_t v);
  static Value of_i32(int32_t v);
  static Value of_u64(uint64_t v);
  static Value of_f32(float v);
  static Value of_bool(bool v);
  static Value of_string(std::string v);
  static Value of_array(ValueType elem_type, std::vector<Value> elems);
  static Value of_strings(const std::vector<std::string>& v);
  static Value of_f32s(const std::vector<float>& v);
  static Value of_i32s(const std::vector<int32_t>& v);
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // dims[0] is the innermost (contiguous) dimension
  TensorType type = TensorType::F32;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t n_elements() const;
  uint64_t n_bytes() const;  // size in the file
};

// Everything before the tensor data.
struct Header {
  uint32_t version = 3;
  std::vector<KeyValue> metadata;
  std::vector<TensorInfo> tensors;
  uint64_t alignment = 32;    // general.alignment or 32
  uint64_t data_offset = 0;   // absolute file offset of the data section

  const Value* find(const std::string& key) const;
  const TensorInfo* find_tensor(const std::string& name) const;
  // Typed lookups; `get_*` throw Error("model metadata lacks KEY") when absent or of the wrong kind.
  std::optional<std::string> get_string_opt(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::optional<int64_t> get_int_opt(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  std::optional<double> get_float_opt(const std::string& key) const;
  std::optional<bool> get_bool_opt(const std::string& key) const;
  const std::vector<Value>* get_array_opt(const std::string& key) const;
};

// Parses a complete header from `data`. If the buffer ends before the header does, throws
// Error("... truncated ..."); `parse_header_prefix` below is the non-throwing variant for streams.
// `total_size`, when known, lets tensor extents be checked against the file size.
Header parse_header(const uint8_t* data, size_t size, std::optional<uint64_t> total_size = std::nullopt);

// Returns the header if `data[0..size)` holds all of it, std::nullopt if more bytes are needed.
// Throws Error for malformed content (and, given `total_size`, for tensors past the file's end).
std::optional<Header> parse_header_prefix(const uint8_t* data, size_t size, std::optional<uint64_t> total_size = std::nullopt);

// Incremental parser for a byte stream: feed chunks until `done()`; then `header()` is valid and
// `consumed()` bytes of the stream belong to the header (the data section starts at header().data_offset).
class HeaderParser {
 public:
  void feed(const uint8_t* data, size_t size);
  // The stream ended: parses what was fed; throws Error if the header is incomplete or malformed.
  void finish();
  bool done() const { return header_.has_value(); }
  const Header& header() const;
 private:
  std::vector<uint8_t> buffer_;
  size_t next_attempt_ = 64;  // re-parse only after the buffer grows past this (amortized O(n))
  std::optional<Header> header_;
};

// A parsed file whose tensor bytes are in memory: memory-mapped, a caller's buffer, or pieces the File
// owns. Each tensor is addressed through its own pointer, so the data need not be one block.
class File {
 public:
  // Memory-maps `path`. Errors name the path: missing file, not a GGUF, truncated, corrupt.
  static std::unique_ptr<File> open(const std::string& path);
  // Uses the caller's buffer, which must outlive the File.
  static std::unique_ptr<File> from_memory(const uint8_t* data, size_t size);
  // Allocates the tensor data of a `file_size`-byte file (its header parsed already) in pieces of at most
  // `max_piece_bytes` (a larger tensor gets a piece of its own), each holding whole tensors in file order:
  // a 32-bit WebAssembly heap fits a 2 GB model in many blocks where one block of 2 GB fails. The bytes
  // are not there yet: the caller copies file bytes [file_offset, file_offset + size) into each piece
  // (those between pieces are alignment padding) before any tensor is read.
  static std::unique_ptr<File> with_pieces(Header header, uint64_t file_size, uint64_t max_piece_bytes);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  struct Piece {
    uint64_t file_offset = 0;
    uint64_t size = 0;
    uint8_t* data = nullptr;
  };
  // Where the caller writes the tensor data of a with_pieces File (empty for the others).
  const std::vector<Piece>& pieces() { return pieces_; }

  const Header& header() const { return header_; }
  // `t` must be one of header().tensors.
  const uint8_t* tensor_data(const TensorInfo& t) const { return tensor_data_.at(static_cast<size_t>(&t - header_.tensors.data())); }
  uint64_t size() const { return size_; }  // of the whole file

 private:
  File() = default;
  // Points every tensor at base + its offset in the file (mapped and caller-owned files).
  void point_into(const uint8_t* base);
  Header header_;
  std::vector<const uint8_t*> tensor_data_;  // one per header_.tensors
  std::vector<Piece> pieces_;
  std::vector<std::unique_ptr<uint8_t[]>> owned_;  // the pieces' bytes
  uint64_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when memory-mapped
};

// Builds a GGUF v3 file. Tensors are written in the order added, each aligned to `alignment`.
class Writer {
 public:
  explicit Writer(uint64_t alignment = 32);
  void set(const std::string& key, Value value);  // replaces an existing key
  // `data` must hold exactly type_row_bytes(type, n_elements) bytes; it is copied.
  void add_tensor(const std::string& name, std::vector<uint64_t> dims, TensorType type, const void* data);
  // For large tensors produced on the fly: declare now, then `write_file` calls `produce(index, out)`.
  void declare_tensor(const std::string& name, std::vector<uint64_t> dims, TensorType type);
  using Producer = void (*)(void* ctx, size_t tensor_index, std::vector<uint8_t>& out);
  // Writes the whole file; declared tensors are filled by `produce` (may be null if none declared).
  void write_file(const std::string& path, Producer produce = nullptr, void* ctx = nullptr) const;
  std::vector<uint8_t> write_memory() const;  // all tensors must have been added with data
  const std::vector<KeyValue>& metadata() const { return metadata_; }

 private:
  uint64_t alignment_;
  std::vector<KeyValue> metadata_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::vector<uint8_t>> data_;  // empty for declared tensors
};

}  // namespace tabllm::gguf
