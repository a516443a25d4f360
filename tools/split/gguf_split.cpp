#include "split/gguf_split.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <regex>

#include "common/error.h"
#include "gguf/gguf.h"

namespace tabllm::tools {
namespace {

gguf::Value u16_value(int v) {
  gguf::Value value;
  value.type = gguf::ValueType::UINT16;
  value.num.u = static_cast<uint64_t>(v);
  return value;
}

bool is_split_key(const std::string& key) { return key.rfind("split.", 0) == 0; }

// Index of the first tensor of each part: a new part starts once the bytes so far pass its share.
std::vector<size_t> part_starts(const std::vector<gguf::TensorInfo>& tensors, int parts) {
  uint64_t total = 0;
  for (const auto& t : tensors) total += t.n_bytes();
  std::vector<size_t> starts{0};
  uint64_t before = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t next_part = starts.size();
    const size_t tensors_left = tensors.size() - i;
    const size_t parts_left = static_cast<size_t>(parts) - next_part;
    const bool share_reached = before >= total * next_part / static_cast<uint64_t>(parts);
    if (i > starts.back() && next_part < static_cast<size_t>(parts) && (share_reached || tensors_left == parts_left)) {
      starts.push_back(i);
    }
    before += tensors[i].n_bytes();
  }
  return starts;
}

// Where each tensor written comes from: its file and its info there.
struct CopySource {
  std::vector<std::pair<const gguf::File*, const gguf::TensorInfo*>> tensors;
};

void copy_tensor(void* ctx, size_t index, std::vector<uint8_t>& out) {
  const auto& [file, t] = static_cast<const CopySource*>(ctx)->tensors[index];
  const uint8_t* data = file->tensor_data(*t);
  out.assign(data, data + t->n_bytes());
}

}  // namespace

std::string split_part_path(const std::string& prefix, int index, int count) {
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, "-%05d-of-%05d.gguf", index + 1, count);
  return prefix + suffix;
}

std::vector<std::string> split_gguf(const std::string& input, const std::string& prefix, int parts) {
  if (parts < 2 || parts > 99999) throw Error("the number of parts must be between 2 and 99999, got " + std::to_string(parts));
  const auto file = gguf::File::open(input);
  const gguf::Header& header = file->header();
  if (header.find("split.count")) throw Error(input + " is already a part of a split model (it has split.count): split the whole file");
  if (header.tensors.size() < static_cast<size_t>(parts)) {
    throw Error(input + " has " + std::to_string(header.tensors.size()) + " tensors, fewer than the " + std::to_string(parts) +
                " parts asked for: each part needs at least one");
  }
  const std::vector<size_t> starts = part_starts(header.tensors, parts);
  std::vector<std::string> paths;
  for (int p = 0; p < parts; ++p) {
    gguf::Writer writer(header.alignment);
    if (p == 0) {
      for (const auto& kv : header.metadata) {
        if (!is_split_key(kv.key)) writer.set(kv.key, kv.value);
      }
    }
    writer.set("split.no", u16_value(p));
    writer.set("split.count", u16_value(parts));
    writer.set("split.tensors.count", gguf::Value::of_i32(static_cast<int32_t>(header.tensors.size())));
    const size_t begin = starts[static_cast<size_t>(p)];
    const size_t end = p + 1 < parts ? starts[static_cast<size_t>(p) + 1] : header.tensors.size();
    CopySource source;
    for (size_t i = begin; i < end; ++i) {
      writer.declare_tensor(header.tensors[i].name, header.tensors[i].dims, header.tensors[i].type);
      source.tensors.emplace_back(file.get(), &header.tensors[i]);
    }
    paths.push_back(split_part_path(prefix, p, parts));
    writer.write_file(paths.back(), copy_tensor, &source);
  }
  return paths;
}

std::optional<SplitPart> split_part_of(const std::string& path) {
  static const std::regex kPart("^(.*)-([0-9]{5})-of-([0-9]{5})\\.gguf$");
  std::smatch m;
  if (!std::regex_match(path, m, kPart)) return std::nullopt;
  const int index = std::stoi(m[2].str()) - 1, count = std::stoi(m[3].str());
  if (index < 0 || index >= count) return std::nullopt;
  return SplitPart{index, count, m[1].str()};
}

void merge_gguf(const std::string& first_part, const std::string& output) {
  const auto part = split_part_of(first_part);
  if (!part || part->index != 0) throw Error(first_part + " is not the first part of a split model (…-00001-of-0000N.gguf)");
  std::vector<std::unique_ptr<gguf::File>> files;
  for (int p = 0; p < part->count; ++p) {
    const std::string path = split_part_path(part->prefix, p, part->count);
    files.push_back(gguf::File::open(path));
    const gguf::Header& h = files.back()->header();
    const gguf::Value* no = h.find("split.no");
    const gguf::Value* count = h.find("split.count");
    if (!no || !count || no->as_int() != p || count->as_int() != part->count) {
      throw Error(path + " is not part " + std::to_string(p + 1) + " of " + std::to_string(part->count) + " (its split.no and split.count say otherwise)");
    }
  }
  const gguf::Header& first = files[0]->header();
  gguf::Writer writer(first.alignment);
  for (const auto& kv : first.metadata) {
    if (!is_split_key(kv.key)) writer.set(kv.key, kv.value);
  }
  CopySource source;
  for (const auto& file : files) {
    for (const auto& t : file->header().tensors) {
      writer.declare_tensor(t.name, t.dims, t.type);
      source.tensors.emplace_back(file.get(), &t);
    }
  }
  if (const gguf::Value* total = first.find("split.tensors.count"); total && total->as_int() != static_cast<int64_t>(source.tensors.size())) {
    throw Error("the parts of " + first_part + " hold " + std::to_string(source.tensors.size()) + " tensors, but it says the model has " +
                std::to_string(total->as_int()) + ": a part is from another model or corrupt");
  }
  writer.write_file(output, copy_tensor, &source);
}

}  // namespace tabllm::tools
