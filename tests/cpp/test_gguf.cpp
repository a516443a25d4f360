#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "common/error.h"
#include "gguf/gguf.h"
#include "test_paths.h"

using namespace tabllm;
using namespace tabllm::gguf;

namespace {

std::vector<uint8_t> sample_file(uint64_t alignment = 32) {
  Writer w(alignment);
  w.set("general.architecture", Value::of_string("llama"));
  Value u8; u8.type = ValueType::UINT8; u8.num.u = 200;
  Value i8; i8.type = ValueType::INT8; i8.num.i = -100;
  Value u16; u16.type = ValueType::UINT16; u16.num.u = 60000;
  Value i16; i16.type = ValueType::INT16; i16.num.i = -30000;
  Value i64; i64.type = ValueType::INT64; i64.num.i = -(int64_t{1} << 40);
  Value f64; f64.type = ValueType::FLOAT64; f64.num.f = 3.25;
  w.set("t.u8", u8);
  w.set("t.i8", i8);
  w.set("t.u16", u16);
  w.set("t.i16", i16);
  w.set("t.u32", Value::of_u32(4000000000u));
  w.set("t.i32", Value::of_i32(-5));
  w.set("t.u64", Value::of_u64(uint64_t{1} << 60));
  w.set("t.i64", i64);
  w.set("t.f32", Value::of_f32(0.5f));
  w.set("t.f64", f64);
  w.set("t.bool", Value::of_bool(true));
  w.set("t.strings", Value::of_strings({"a", "", "ünï"}));
  w.set("t.nested", Value::of_array(ValueType::ARRAY, {Value::of_i32s({1, 2}), Value::of_i32s({3})}));
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  w.add_tensor("a", {3, 2}, TensorType::F32, a.data());
  const std::vector<uint8_t> q(34 * 2, 7);
  w.add_tensor("q", {64}, TensorType::Q8_0, q.data());
  return w.write_memory();
}

}  // namespace

TEST(Gguf, RoundTripsEveryValueType) {
  const auto bytes = sample_file();
  const auto f = File::from_memory(bytes.data(), bytes.size());
  const Header& h = f->header();
  EXPECT_EQ(h.version, 3u);
  EXPECT_EQ(h.get_string("general.architecture"), "llama");
  EXPECT_EQ(h.find("t.u8")->as_uint(), 200u);
  EXPECT_EQ(h.find("t.i8")->as_int(), -100);
  EXPECT_EQ(h.find("t.u16")->as_uint(), 60000u);
  EXPECT_EQ(h.find("t.i16")->as_int(), -30000);
  EXPECT_EQ(h.get_int("t.u32"), 4000000000);
  EXPECT_EQ(h.get_int("t.i32"), -5);
  EXPECT_EQ(h.find("t.u64")->as_uint(), uint64_t{1} << 60);
  EXPECT_EQ(h.get_int("t.i64"), -(int64_t{1} << 40));
  EXPECT_EQ(*h.get_float_opt("t.f32"), 0.5);
  EXPECT_EQ(*h.get_float_opt("t.f64"), 3.25);
  EXPECT_EQ(*h.get_bool_opt("t.bool"), true);
  const auto* strings = h.get_array_opt("t.strings");
  ASSERT_NE(strings, nullptr);
  ASSERT_EQ(strings->size(), 3u);
  EXPECT_EQ((*strings)[2].str, "ünï");
  const auto* nested = h.get_array_opt("t.nested");
  ASSERT_EQ(nested->size(), 2u);
  EXPECT_EQ((*nested)[0].array[1].as_int(), 2);
  EXPECT_EQ((*nested)[1].array[0].as_int(), 3);
  const TensorInfo* a = h.find_tensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dims, (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(reinterpret_cast<const float*>(f->tensor_data(*a))[5], 6.0f);
  const TensorInfo* q = h.find_tensor("q");
  EXPECT_EQ(q->n_bytes(), 68u);
  EXPECT_EQ(q->offset % 32, 0u);
  EXPECT_EQ(f->tensor_data(*q)[67], 7);
}

TEST(Gguf, HonoursGeneralAlignment) {
  const auto bytes = sample_file(64);
  const auto f = File::from_memory(bytes.data(), bytes.size());
  EXPECT_EQ(f->header().alignment, 64u);
  EXPECT_EQ(f->header().data_offset % 64, 0u);
  for (const auto& t : f->header().tensors) EXPECT_EQ(t.offset % 64, 0u);
}

TEST(Gguf, ReadsVersion2) {
  auto bytes = sample_file();
  bytes[4] = 2;  // v2 has the same layout as v3
  EXPECT_EQ(File::from_memory(bytes.data(), bytes.size())->header().version, 2u);
}

TEST(Gguf, StreamParserNeedsOnlyTheHeader) {
  const auto bytes = sample_file();
  const auto full = parse_header(bytes.data(), bytes.size());
  HeaderParser p;
  size_t fed = 0;
  while (!p.done() && fed < bytes.size()) {
    const size_t n = std::min<size_t>(7, bytes.size() - fed);
    p.feed(bytes.data() + fed, n);
    fed += n;
  }
  if (!p.done()) p.finish();
  ASSERT_TRUE(p.done());
  EXPECT_EQ(p.header().data_offset, full.data_offset);
  EXPECT_EQ(p.header().tensors.size(), 2u);
  EXPECT_FALSE(parse_header_prefix(bytes.data(), 40).has_value());
}

namespace {

// Copies the file's bytes into the pieces of a with_pieces File, as a host streaming the file does.
std::unique_ptr<File> filled_pieces(const std::vector<uint8_t>& bytes, uint64_t max_piece_bytes) {
  auto f = File::with_pieces(parse_header(bytes.data(), bytes.size(), bytes.size()), bytes.size(), max_piece_bytes);
  for (const File::Piece& p : f->pieces()) std::memcpy(p.data, bytes.data() + p.file_offset, p.size);
  return f;
}

}  // namespace

TEST(Gguf, PiecesHoldWholeTensorsInFileOrder) {
  Writer w;
  std::vector<std::vector<float>> values;
  for (int i = 0; i < 5; ++i) {
    values.emplace_back(static_cast<size_t>(10 + i), static_cast<float>(i));
    w.add_tensor("t" + std::to_string(i), {values.back().size()}, TensorType::F32, values.back().data());
  }
  const auto bytes = w.write_memory();
  const uint64_t data_offset = parse_header(bytes.data(), bytes.size()).data_offset;
  for (const uint64_t max_piece : {uint64_t{0}, uint64_t{150}, uint64_t{1} << 30}) {
    auto f = filled_pieces(bytes, max_piece);
    EXPECT_EQ(f->pieces().size(), max_piece == 0 ? 5u : max_piece == 150 ? 3u : 1u) << max_piece;
    EXPECT_EQ(f->pieces().front().file_offset, data_offset);
    for (const File::Piece& p : f->pieces()) EXPECT_TRUE(p.size <= std::max<uint64_t>(max_piece, 64)) << max_piece;
    for (int i = 0; i < 5; ++i) {
      const TensorInfo& t = f->header().tensors[static_cast<size_t>(i)];
      EXPECT_EQ(std::memcmp(f->tensor_data(t), values[static_cast<size_t>(i)].data(), t.n_bytes()), 0) << t.name;
    }
  }
}

TEST(Gguf, EveryTruncationIsAnErrorNotACrash) {
  const auto bytes = sample_file();
  for (size_t n = 0; n < bytes.size(); ++n) {
    try {
      File::from_memory(bytes.data(), n);
      FAIL() << "accepted a file cut at " << n << " bytes";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_TRUE(m.find("truncated") != std::string::npos || m.find("not a GGUF") != std::string::npos) << m;
    }
  }
}

TEST(Gguf, RejectsCorruptHeadersClearly) {
  auto bytes = sample_file();
  auto expect_error = [](std::vector<uint8_t> b, const std::string& fragment) {
    try {
      File::from_memory(b.data(), b.size());
      ADD_FAILURE() << "accepted corrupt file (" << fragment << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  auto b = bytes; b[0] = 'X'; expect_error(b, "not a GGUF");
  b = bytes; b[4] = 1; expect_error(b, "version 1");
  b = bytes; b[4] = 9; expect_error(b, "unsupported GGUF version");
  b = bytes; b[8] = 0xff; b[9] = 0xff; b[10] = 0xff; b[11] = 0xff; expect_error(b, "corrupt GGUF");
  // The first key's length field set absurdly high.
  b = bytes; b[24 + 7] = 0x7f; expect_error(b, "corrupt GGUF");
  // An unknown tensor type id in the last tensor info (type precedes the 8-byte offset).
  const auto h = parse_header(bytes.data(), bytes.size());
  size_t pos = 0;
  for (size_t i = 0; i + 1 < bytes.size(); ++i)
    if (bytes[i] == 'q' && bytes[i - 1] == 0 && bytes[i + 1] == 1 && bytes[i - 8] == 1) pos = i;
  ASSERT_GT(pos, 0u);
  b = bytes; b[pos + 1 + 4 + 8] = 99; expect_error(b, "unknown type id 99");
}

TEST(Gguf, OpenReportsMissingAndNonGgufFiles) {
  EXPECT_THROW(File::open("/nonexistent/model.gguf"), Error);
  const std::string path = test::build_dir() + "/not-gguf.txt";
  std::ofstream(path) << "hello, this is not a model";
  try {
    File::open(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a GGUF"), std::string::npos);
  }
}

TEST(Gguf, ReadsRealVocabFiles) {
  const auto f = File::open(test::shared_dir() + "/tokenizers/ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(f->header().get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f->header().get_array_opt("tokenizer.ggml.tokens")->size(), 32000u);
}
