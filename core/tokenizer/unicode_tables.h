// Declarations of the generated Unicode tables (unicode_tables.cpp, made by tools/unicode/gen_unicode_tables.py).
#pragma once
#include <cstddef>
#include <cstdint>

namespace tabllm::unicode::tables {

struct CodePointRange {
  uint32_t first, last;  // inclusive
};

extern const uint32_t kCategoryRuns[];
extern const size_t kCategoryRunCount;
extern const CodePointRange kWhiteSpace[];
extern const size_t kWhiteSpaceCount;
extern const CodePointRange kHan[];
extern const size_t kHanCount;

}  // namespace tabllm::unicode::tables
