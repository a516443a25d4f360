#include "runtime/kv_pages.h"

#include <cstring>
#include <string>

#include "common/error.h"

namespace tabllm {
namespace {

constexpr uint32_t kMagic = 0x50564b54;  // "TKVP"
constexpr uint32_t kFormat = 1;
constexpr size_t kHeaderWords = 7;

uint64_t fnv1a(std::span<const uint8_t> bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ull;
  return h;
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  const size_t at = out.size();
  out.resize(at + 4);
  std::memcpy(out.data() + at, &v, 4);
}

uint32_t get_u32(std::span<const uint8_t> bytes, size_t word) {
  uint32_t v;
  std::memcpy(&v, bytes.data() + word * 4, 4);
  return v;
}

}  // namespace

std::vector<uint8_t> encode_kv_page(const KvLayout& layout, int64_t start, std::span<const int32_t> tokens,
                                    std::span<const uint8_t> rows) {
  if (rows.size() != layout.bytes_per_position() * tokens.size()) throw Error("a KV page's rows do not match its tokens");
  std::vector<uint8_t> out;
  out.reserve(kHeaderWords * 4 + tokens.size() * 4 + rows.size() + 8);
  for (uint32_t v : {kMagic, kFormat, static_cast<uint32_t>(layout.type), static_cast<uint32_t>(layout.n_layers),
                     static_cast<uint32_t>(layout.row_bytes), static_cast<uint32_t>(start), static_cast<uint32_t>(tokens.size())})
    put_u32(out, v);
  const size_t at = out.size();
  out.resize(at + tokens.size() * 4);
  std::memcpy(out.data() + at, tokens.data(), tokens.size() * 4);
  out.insert(out.end(), rows.begin(), rows.end());
  const uint64_t sum = fnv1a(out);
  out.resize(out.size() + 8);
  std::memcpy(out.data() + out.size() - 8, &sum, 8);
  return out;
}

KvPage decode_kv_page(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderWords * 4 + 8 || get_u32(bytes, 0) != kMagic) throw Error("not a KV page");
  if (get_u32(bytes, 1) != kFormat)
    throw Error("a KV page of format " + std::to_string(get_u32(bytes, 1)) + " (this engine reads format " + std::to_string(kFormat) + ")");
  KvPage page;
  page.layout = {static_cast<TensorType>(get_u32(bytes, 2)), get_u32(bytes, 3), get_u32(bytes, 4)};
  page.start = get_u32(bytes, 5);
  const size_t count = get_u32(bytes, 6);
  const size_t rows = page.layout.bytes_per_position() * count;
  const size_t expected = kHeaderWords * 4 + count * 4 + rows + 8;
  if (bytes.size() != expected)
    throw Error("a KV page of " + std::to_string(bytes.size()) + " bytes where its header says " + std::to_string(expected) + " (truncated or damaged)");
  uint64_t sum;
  std::memcpy(&sum, bytes.data() + bytes.size() - 8, 8);
  if (sum != fnv1a(bytes.first(bytes.size() - 8))) throw Error("a KV page whose checksum does not match (damaged)");
  page.tokens.resize(count);
  std::memcpy(page.tokens.data(), bytes.data() + kHeaderWords * 4, count * 4);
  page.rows = bytes.subspan(kHeaderWords * 4 + count * 4, rows);
  return page;
}

}  // namespace tabllm
