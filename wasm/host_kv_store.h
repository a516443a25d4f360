// A KV page store the host keeps (runtime/kv_pager.h): pages cross to JavaScript, which writes them to
// OPFS or files in the background and reads them back when a recall asks (js/src/kv_pager.mjs). The host
// registers the store as Module.tabllmKvPageStores.get(session) with synchronous put(name, bytes),
// get(name) → Uint8Array and remove(name); what it throws becomes the pager's warning.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/kv_pager.h"

namespace tabllm::wasm {

class HostKvPageStore final : public KvPageStore {
 public:
  explicit HostKvPageStore(const void* session) : session_(reinterpret_cast<uintptr_t>(session)) {}
  void put(const std::string& name, std::vector<uint8_t> bytes) override;
  std::vector<uint8_t> get(const std::string& name) override;
  void remove(const std::string& name) override;

 private:
  uintptr_t session_;
};

}  // namespace tabllm::wasm
