// Bad input to the CLI: one clear line on stderr, a non-zero exit code, never a crash or a hang.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sys/wait.h>

#include "gguf/gguf.h"
#include "test_paths.h"

using namespace tabllm;

namespace {

struct CliRun {
  int exit_code;
  std::string err;
};

// Runs `tabllm ARGS` under a time limit; stdout is discarded, stderr captured.
CliRun run_cli(const std::string& args) {
  // One file per test: ctest runs tests in parallel processes.
  const std::string err_path =
      test::build_dir() + "/cli-stderr-" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".txt";
  const std::string cmd = "timeout 60 " + test::build_dir() + "/bin/tabllm " + args + " >/dev/null 2>" + err_path;
  const int status = std::system(cmd.c_str());
  std::ifstream f(err_path);
  std::string err((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), err};
}

void expect_clear_error(const std::string& args, const std::string& fragment) {
  const CliRun r = run_cli(args);
  EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.err;  // 1 = reported error; 124 = hang; >128 = crash
  EXPECT_NE(r.err.find(fragment), std::string::npos) << "stderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr should be one line: " << r.err;
}

std::string model_path(const std::string& type = "f32") { return test::build_dir() + "/models/stories260K-" + type + ".gguf"; }

// Copies the default model into a new GGUF, letting `edit` change metadata and tensor types.
std::string rewrite_model(const std::string& name, const std::function<void(gguf::Writer&)>& edit_metadata,
                          const std::string& retype_tensor = "", TensorType new_type = TensorType::F32) {
  const auto src = gguf::File::open(model_path());
  gguf::Writer w;
  for (const auto& kv : src->header().metadata) w.set(kv.key, kv.value);
  edit_metadata(w);
  for (const auto& t : src->header().tensors) {
    if (t.name == retype_tensor) {
      std::vector<uint8_t> bytes(type_row_bytes(new_type, t.n_elements()), 0);
      w.add_tensor(t.name, t.dims, new_type, bytes.data());
    } else {
      w.add_tensor(t.name, t.dims, t.type, src->tensor_data(t));
    }
  }
  const std::string out = test::build_dir() + "/" + name;
  w.write_file(out);
  return out;
}

}  // namespace

TEST(CliErrors, MissingFile) { expect_clear_error("generate -m /nonexistent/model.gguf -p hi", "cannot open /nonexistent/model.gguf"); }

TEST(CliErrors, NotAGgufFile) { expect_clear_error("generate -m " + test::source_dir() + "/README.md -p hi", "not a GGUF file"); }

TEST(CliErrors, TruncatedFile) {
  std::ifstream in(model_path(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 1000u);
  for (size_t cut : {size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    const std::string path = test::build_dir() + "/truncated.gguf";
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
    expect_clear_error("generate -m " + path + " -p hi", "truncated");
  }
}

TEST(CliErrors, CorruptHeader) {
  std::ifstream in(model_path(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes[16] = '\xff';  // first metadata key length → absurd
  bytes[23] = '\x7f';
  const std::string path = test::build_dir() + "/corrupt.gguf";
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  expect_clear_error("generate -m " + path + " -p hi", "corrupt GGUF");
}

TEST(CliErrors, UnsupportedArchitecture) {
  const std::string path = rewrite_model("arch-gpt2.gguf", [](gguf::Writer& w) {
    w.set("general.architecture", gguf::Value::of_string("gpt2"));
  });
  expect_clear_error("generate -m " + path + " -p hi", "unsupported model architecture 'gpt2'");
}

TEST(CliErrors, UnsupportedTensorType) {
  // q8_1 is a GGUF type tabllm reads in headers but does not compute with (stories260K rows are 64
  // wide, too short for the 256-element K-quant blocks).
  const std::string path = rewrite_model("type-q8_1.gguf", [](gguf::Writer&) {}, "blk.0.ffn_up.weight", TensorType::Q8_1);
  expect_clear_error("generate -m " + path + " -p hi", "q8_1");
}

TEST(CliErrors, EmptyPrompt) { expect_clear_error("generate -m " + model_path() + " -p ''", "prompt is empty"); }

TEST(CliErrors, PromptLongerThanContext) {
  std::string prompt;
  for (int i = 0; i < 400; ++i) prompt += "Once upon a time ";
  expect_clear_error("generate -m " + model_path() + " -p '" + prompt + "'", "context holds 512");
}

TEST(CliErrors, UnknownOptionAndCommand) {
  const CliRun r = run_cli("generate -m " + model_path() + " -p hi --bogus 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown option --bogus"), std::string::npos) << r.err;
  EXPECT_EQ(run_cli("frobnicate").exit_code, 2);
}

TEST(CliErrors, BadNumbers) {
  expect_clear_error("generate -m " + model_path() + " -p hi -n many", "expects an integer");
  expect_clear_error("generate -m " + model_path() + " -p hi --temp -1", "temperature");
}

TEST(CliErrors, PartOfASplitModel) {
  const std::string prefix = test::build_dir() + "/cli-split";
  ASSERT_EQ(run_cli("split " + model_path() + " --parts 2 --out " + prefix).exit_code, 0);
  expect_clear_error("generate -m " + prefix + "-00001-of-00002.gguf -p Hi -n 1", "is part 1 of a model split in 2: join the parts first (tabllm merge");
  expect_clear_error("info -m " + prefix + "-00002-of-00002.gguf", "is part 2 of a model split in 2");
  expect_clear_error("merge " + prefix + "-00002-of-00002.gguf out.gguf", "is not the first part of a split model");
}
