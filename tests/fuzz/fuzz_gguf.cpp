// Any byte string given to the GGUF reader, whole or streamed in pieces, is either parsed or rejected
// with tabllm::Error; tensors it accepts lie inside the buffer.
#include <cstdint>
#include <cstdlib>

#include "common/error.h"
#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tabllm;
  try {
    const auto file = gguf::File::from_memory(data, size);
    for (const auto& t : file->header().tensors) {
      const uint8_t* p = file->tensor_data(t);
      if (p < data || p + t.n_bytes() > data + size) std::abort();
      volatile uint8_t sink = t.n_bytes() ? p[t.n_bytes() - 1] : 0;
      (void)sink;
    }
  } catch (const Error&) {
  }
  try {
    gguf::HeaderParser parser;
    const size_t step = size / 3 + 1;
    for (size_t at = 0; at < size && !parser.done(); at += step) parser.feed(data + at, std::min(step, size - at));
    if (!parser.done()) parser.finish();
  } catch (const Error&) {
  }
  return 0;
}
