// Splits a GGUF file into parts that llama.cpp's gguf-split would also write: PREFIX-00001-of-0000N.gguf,
// each a GGUF file of its own with `split.no` (0-based, u16), `split.count` (u16) and
// `split.tensors.count` (all parts' tensors, i32); the first part carries all the model's metadata, the
// others only the split keys. Tensors keep their order and are spread so the parts hold about the same
// number of bytes. merge_gguf joins such parts back into one file.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace tabllm::tools {

// The name of part `index` (0-based) of `count`: "PREFIX-00002-of-00003.gguf".
std::string split_part_path(const std::string& prefix, int index, int count);

// Writes `parts` files from `input` and returns their paths. Throws Error when the file has fewer
// tensors than parts or is already a split part.
std::vector<std::string> split_gguf(const std::string& input, const std::string& prefix, int parts);

// {index (0-based), count} when `path` names a part ("…-00002-of-00003.gguf"), else nullopt.
struct SplitPart {
  int index;
  int count;
  std::string prefix;
};
std::optional<SplitPart> split_part_of(const std::string& path);

// Joins the parts of a split model, given its first part, into one file at `output` (the first part's
// metadata without split.*, all tensors in order). Throws Error naming a missing or mismatched part.
void merge_gguf(const std::string& first_part, const std::string& output);

}  // namespace tabllm::tools
