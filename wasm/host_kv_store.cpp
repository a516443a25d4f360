#include "host_kv_store.h"

#include <cstdlib>
#include <memory>

#include <emscripten/emscripten.h>

#include "common/error.h"

// Each returns null, or an error message the caller frees; get hands its bytes over in a buffer it
// allocates (*out, *size), which the caller frees too.
EM_JS(char*, tabllm_host_kv_call, (uintptr_t session, int op, const char* name, const uint8_t* bytes, size_t size, uint8_t** out, size_t* out_size), {
  try {
    const store = Module.tabllmKvPageStores && Module.tabllmKvPageStores.get(session);
    if (!store) throw new Error('no KV page store is registered for this session');
    const key = UTF8ToString(name);
    if (op === 0) {
      store.put(key, HEAPU8.slice(bytes, bytes + size));
    } else if (op === 1) {
      const page = store.get(key);
      const at = _malloc(page.length);
      HEAPU8.set(page, at);
      HEAPU32[out >> 2] = at;
      HEAPU32[out_size >> 2] = page.length;
    } else {
      store.remove(key);
    }
    return 0;
  } catch (error) {
    const text = String(error && error.message || error);
    const length = lengthBytesUTF8(text) + 1;
    const at = _malloc(length);
    stringToUTF8(text, at, length);
    return at;
  }
});

namespace tabllm::wasm {
namespace {

enum Op { kPut = 0, kGet = 1, kRemove = 2 };

void call(uintptr_t session, Op op, const std::string& name, const uint8_t* bytes = nullptr, size_t size = 0, uint8_t** out = nullptr,
          size_t* out_size = nullptr) {
  const std::unique_ptr<char, decltype(&std::free)> error(tabllm_host_kv_call(session, op, name.c_str(), bytes, size, out, out_size), &std::free);
  if (error) throw Error(error.get());
}

}  // namespace

void HostKvPageStore::put(const std::string& name, std::vector<uint8_t> bytes) { call(session_, kPut, name, bytes.data(), bytes.size()); }

std::vector<uint8_t> HostKvPageStore::get(const std::string& name) {
  uint8_t* out = nullptr;
  size_t size = 0;
  call(session_, kGet, name, nullptr, 0, &out, &size);
  const std::unique_ptr<uint8_t, decltype(&std::free)> owned(out, &std::free);
  return {out, out + size};
}

void HostKvPageStore::remove(const std::string& name) { call(session_, kRemove, name); }

}  // namespace tabllm::wasm
