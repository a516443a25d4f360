// The one error channel of every exported function (tabllm.h, and the development exports of
// wasm/dev/): a C++ exception never crosses into JavaScript; it becomes the text tabllm_last_error()
// returns, and the function returns its failure value instead.
#ifndef TABLLM_WASM_ABI_GUARD_H
#define TABLLM_WASM_ABI_GUARD_H

#include <exception>
#include <new>
#include <string>
#include <utility>

#include "common/error.h"

namespace tabllm::wasm {

// Why the last failing call on this thread failed; "" after a call that did not fail.
inline thread_local std::string last_error;
// The request parameter that last_error is about ("response_format.json_schema.schema", "stop"), or "",
// and what was wrong with it: "invalid_type" or "invalid_value" (OpenAI's error codes).
inline thread_local std::string last_error_param;
inline thread_local std::string last_error_code;

// An error about one parameter of a request: hosts name it to their callers (OpenAI's "param" and "code").
class ParamError : public Error {
 public:
  ParamError(std::string param, const std::string& message, std::string code = "invalid_value")
      : Error(message), param_(std::move(param)), code_(std::move(code)) {}
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }

 private:
  std::string param_;
  std::string code_;
};

// Runs the body of an exported function: whatever it throws becomes last_error, and `failed` is returned.
template <class Body, class Result>
Result guarded(Body&& body, Result failed) noexcept {
  last_error.clear();
  last_error_param.clear();
  last_error_code.clear();
  try {
    return body();
  } catch (const ParamError& e) {
    last_error = e.what();
    last_error_param = e.param();
    last_error_code = e.code();
  } catch (const std::bad_alloc&) {
    last_error = "out of memory: the model and its context do not fit in memory (a WebAssembly heap holds 4 GB at most)";
  } catch (const std::exception& e) {
    last_error = e.what();
  } catch (...) {
    last_error = "unknown internal error";
  }
  return failed;
}

// The object behind a handle the host passed; NULL is an error that names what was missing.
template <class Handle>
Handle& deref(Handle* handle, const char* what) {
  if (!handle) throw Error(std::string("no ") + what + " (the handle is NULL)");
  return *handle;
}

// A status function: the body's value (0 for success), -1 on failure.
template <class Body>
int guarded(Body&& body) noexcept {
  return guarded(static_cast<Body&&>(body), -1);
}

}  // namespace tabllm::wasm

#endif
