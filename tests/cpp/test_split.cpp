// tabllm split: parts named and tagged as llama.cpp's gguf-split writes them, tensors spread in order over
// parts of about equal size, every tensor's bytes unchanged, the model's metadata in the first part only;
// tabllm merge: the parts back into the very bytes of the original.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/error.h"
#include "gguf/gguf.h"
#include "split/gguf_split.h"
#include "test_paths.h"

namespace tabllm {
namespace {

namespace fs = std::filesystem;

std::string stories_q8() { return test::build_dir() + "/models/stories260K-q8_0.gguf"; }

fs::path scratch_dir() {
  const fs::path dir = fs::path(test::build_dir()) / "test-scratch" / "split";
  fs::create_directories(dir);
  return dir;
}

TEST(Split, PartNamesFollowGgufSplit) {
  EXPECT_EQ(tools::split_part_path("out/m", 0, 3), "out/m-00001-of-00003.gguf");
  EXPECT_EQ(tools::split_part_path("m", 11, 12), "m-00012-of-00012.gguf");
}

TEST(Split, ThreePartsHoldEveryTensorUnchanged) {
  const auto whole = gguf::File::open(stories_q8());
  const std::vector<std::string> paths = tools::split_gguf(stories_q8(), (scratch_dir() / "stories").string(), 3);
  ASSERT_EQ(paths.size(), 3u);
  size_t next = 0;  // index of the next tensor of the whole file
  for (size_t p = 0; p < paths.size(); ++p) {
    const auto part = gguf::File::open(paths[p]);
    const gguf::Header& h = part->header();
    ASSERT_NE(h.find("split.no"), nullptr);
    EXPECT_EQ(h.find("split.no")->type, gguf::ValueType::UINT16);
    EXPECT_EQ(h.find("split.no")->as_int(), static_cast<int64_t>(p));
    EXPECT_EQ(h.find("split.count")->type, gguf::ValueType::UINT16);
    EXPECT_EQ(h.find("split.count")->as_int(), 3);
    EXPECT_EQ(h.find("split.tensors.count")->type, gguf::ValueType::INT32);
    EXPECT_EQ(h.find("split.tensors.count")->as_int(), static_cast<int64_t>(whole->header().tensors.size()));
    EXPECT_EQ(h.find("general.architecture") != nullptr, p == 0) << "the model's metadata is in the first part only";
    EXPECT_GT(h.tensors.size(), 0u);
    for (const auto& t : h.tensors) {
      ASSERT_LT(next, whole->header().tensors.size());
      const auto& w = whole->header().tensors[next++];
      EXPECT_EQ(t.name, w.name);
      EXPECT_EQ(t.dims, w.dims);
      EXPECT_EQ(t.type, w.type);
      ASSERT_EQ(t.n_bytes(), w.n_bytes());
      EXPECT_EQ(std::memcmp(part->tensor_data(t), whole->tensor_data(w), t.n_bytes()), 0) << t.name;
    }
    // About a third of the bytes each: no part over 60% of the file.
    EXPECT_LT(part->size(), whole->size() * 6 / 10);
  }
  EXPECT_EQ(next, whole->header().tensors.size());
}

TEST(Split, RefusesBadRequests) {
  const std::string prefix = (scratch_dir() / "bad").string();
  EXPECT_THROW(tools::split_gguf(stories_q8(), prefix, 1), Error);
  EXPECT_THROW(tools::split_gguf(stories_q8(), prefix, 1000), Error);  // more parts than tensors
  const std::vector<std::string> parts = tools::split_gguf(stories_q8(), prefix, 2);
  try {
    tools::split_gguf(parts[0], prefix + "-again", 2);
    FAIL() << "a part was split again";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already a part of a split model"), std::string::npos) << e.what();
  }
}

std::vector<char> read_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST(Split, MergeGivesBackTheOriginalBytes) {
  const std::vector<std::string> parts = tools::split_gguf(stories_q8(), (scratch_dir() / "merge").string(), 3);
  const fs::path merged = scratch_dir() / "merged.gguf";
  tools::merge_gguf(parts[0], merged.string());
  EXPECT_EQ(read_bytes(merged), read_bytes(stories_q8()));

  const auto part = tools::split_part_of(parts[1]);
  ASSERT_TRUE(part.has_value());
  EXPECT_EQ(part->index, 1);
  EXPECT_EQ(part->count, 3);
  EXPECT_FALSE(tools::split_part_of(stories_q8()).has_value());
  EXPECT_THROW(tools::merge_gguf(parts[1], merged.string()), Error);  // not the first part
  fs::remove(parts[2]);
  EXPECT_THROW(tools::merge_gguf(parts[0], merged.string()), Error);  // a part is missing
}

}  // namespace
}  // namespace tabllm
