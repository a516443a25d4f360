// Declarations of the generated Unicode tables (unicode_tables.cpp, made by tools/unicode/gen_unicode_tables.py).
#pragma once
#include <cstddef>
#include <cstdint>

namespace tabllm::unicode::tables {

struct CodePointRange {
  uint32_t first, last;  // inclusive
};

struct CodePointMapping {
  uint32_t from, to;
};

struct Decomposition {
  uint32_t cp;
  uint32_t offset, count;  // into kDecompositionCodePoints
};

struct Composition {
  uint32_t first, second, composite;
};

extern const uint32_t kCategoryRuns[];
extern const size_t kCategoryRunCount;
extern const CodePointRange kWhiteSpace[];
extern const size_t kWhiteSpaceCount;
extern const CodePointRange kHan[];
extern const size_t kHanCount;
extern const CodePointMapping kLowercase[];
extern const size_t kLowercaseCount;
extern const Decomposition kDecompositions[];
extern const size_t kDecompositionCount;
extern const uint32_t kDecompositionCodePoints[];
extern const CodePointMapping kCombiningClasses[];
extern const size_t kCombiningClassCount;
extern const Composition kCompositions[];
extern const size_t kCompositionCount;

}  // namespace tabllm::unicode::tables
