// KV pages: a span of positions of a session's KV cache as bytes, to keep outside the engine (a persisted
// prefix cache, docs/long-context.md) and to restore later into a session of the same model and cache type.
// A page carries the tokens whose keys and values it holds, so a restore checks that they are the
// prompt's, and a checksum, so a damaged page is refused instead of read.
//
// Layout (little-endian): "TKVP", u32 format, u32 cache type (GGUF type id), u32 layers, u32 row bytes,
// u32 start, u32 count, i32 tokens[count], then per layer `count` key rows and `count` value rows, then
// u64 FNV-1a of everything before it.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"

namespace tabllm {

struct KvPage {
  KvLayout layout;
  int64_t start = 0;
  std::vector<int32_t> tokens;
  std::span<const uint8_t> rows;  // inside the parsed bytes
};

// The page's bytes around `rows` (layout.bytes_per_position() * tokens.size() bytes).
std::vector<uint8_t> encode_kv_page(const KvLayout& layout, int64_t start, std::span<const int32_t> tokens,
                                    std::span<const uint8_t> rows);
// Throws Error saying what is wrong: not a page, another format version, truncated, or a checksum that
// does not match (a damaged page).
KvPage decode_kv_page(std::span<const uint8_t> bytes);

}  // namespace tabllm
