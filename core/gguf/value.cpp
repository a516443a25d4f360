// Metadata values: typed reads with range checks, and constructors for the writer.
#include <limits>

#include "common/error.h"
#include "gguf/gguf.h"

namespace tabllm::gguf {

const char* value_type_name(ValueType type) {
  switch (type) {
    case ValueType::UINT8: return "uint8";
    case ValueType::INT8: return "int8";
    case ValueType::UINT16: return "uint16";
    case ValueType::INT16: return "int16";
    case ValueType::UINT32: return "uint32";
    case ValueType::INT32: return "int32";
    case ValueType::FLOAT32: return "float32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "uint64";
    case ValueType::INT64: return "int64";
    case ValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

bool Value::is_integer() const {
  switch (type) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
    case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
    case ValueType::BOOL:
      return true;
    default:
      return false;
  }
}

static bool is_signed(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 || t == ValueType::INT64;
}

int64_t Value::as_int() const {
  if (is_float()) return static_cast<int64_t>(num.f);
  if (!is_integer()) throw Error(std::string("expected a number, found a ") + value_type_name(type));
  if (is_signed(type)) return num.i;
  if (num.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) throw Error("integer value out of range");
  return static_cast<int64_t>(num.u);
}

uint64_t Value::as_uint() const {
  int64_t v = is_signed(type) ? num.i : 0;
  if (is_signed(type) || is_float()) {
    v = as_int();
    if (v < 0) throw Error("expected a non-negative number, found " + std::to_string(v));
    return static_cast<uint64_t>(v);
  }
  if (!is_integer()) throw Error(std::string("expected a number, found a ") + value_type_name(type));
  return num.u;
}

double Value::as_float() const {
  if (is_float()) return num.f;
  if (is_signed(type)) return static_cast<double>(num.i);
  if (is_integer()) return static_cast<double>(num.u);
  throw Error(std::string("expected a number, found a ") + value_type_name(type));
}

Value Value::of_u32(uint32_t v) { Value x; x.type = ValueType::UINT32; x.num.u = v; return x; }
Value Value::of_i32(int32_t v) { Value x; x.type = ValueType::INT32; x.num.i = v; return x; }
Value Value::of_u64(uint64_t v) { Value x; x.type = ValueType::UINT64; x.num.u = v; return x; }
Value Value::of_f32(float v) { Value x; x.type = ValueType::FLOAT32; x.num.f = v; return x; }
Value Value::of_bool(bool v) { Value x; x.type = ValueType::BOOL; x.num.u = v ? 1 : 0; return x; }
Value Value::of_string(std::string v) { Value x; x.type = ValueType::STRING; x.str = std::move(v); return x; }

Value Value::of_array(ValueType elem_type, std::vector<Value> elems) {
  Value x;
  x.type = ValueType::ARRAY;
  x.elem_type = elem_type;
  x.array = std::move(elems);
  return x;
}

Value Value::of_strings(const std::vector<std::string>& v) {
  std::vector<Value> elems;
  elems.reserve(v.size());
  for (const auto& s : v) elems.push_back(of_string(s));
  return of_array(ValueType::STRING, std::move(elems));
}

Value Value::of_f32s(const std::vector<float>& v) {
  std::vector<Value> elems;
  elems.reserve(v.size());
  for (float f : v) elems.push_back(of_f32(f));
  return of_array(ValueType::FLOAT32, std::move(elems));
}

Value Value::of_i32s(const std::vector<int32_t>& v) {
  std::vector<Value> elems;
  elems.reserve(v.size());
  for (int32_t i : v) elems.push_back(of_i32(i));
  return of_array(ValueType::INT32, std::move(elems));
}

// ---- Header lookups ----

const Value* Header::find(const std::string& key) const {
  for (const auto& kv : metadata)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

const TensorInfo* Header::find_tensor(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::optional<std::string> Header::get_string_opt(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::STRING)
    throw Error("metadata key " + key + " should be a string but is a " + value_type_name(v->type));
  return v->str;
}

std::string Header::get_string(const std::string& key) const {
  auto v = get_string_opt(key);
  if (!v) throw Error("model metadata lacks " + key);
  return *v;
}

std::optional<int64_t> Header::get_int_opt(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer())
    throw Error("metadata key " + key + " should be an integer but is a " + value_type_name(v->type));
  return v->as_int();
}

int64_t Header::get_int(const std::string& key) const {
  auto v = get_int_opt(key);
  if (!v) throw Error("model metadata lacks " + key);
  return *v;
}

std::optional<double> Header::get_float_opt(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_float() && !v->is_integer())
    throw Error("metadata key " + key + " should be a number but is a " + value_type_name(v->type));
  return v->as_float();
}

std::optional<bool> Header::get_bool_opt(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::BOOL) throw Error("metadata key " + key + " should be a bool but is a " + value_type_name(v->type));
  return v->num.u != 0;
}

const std::vector<Value>* Header::get_array_opt(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return nullptr;
  if (v->type != ValueType::ARRAY) throw Error("metadata key " + key + " should be an array but is a " + value_type_name(v->type));
  return &v->array;
}

uint64_t TensorInfo::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

uint64_t TensorInfo::n_bytes() const { return type_row_bytes(type, n_elements()); }

}  // namespace tabllm::gguf
