#!/usr/bin/env bash
# Builds the WebAssembly engine into build-wasm/ with Debian's Emscripten: tabllm.mjs (threads) and
# tabllm-st.mjs (single-threaded), each with its .wasm, and tabllm-dev.mjs, the development module that
# tests and benchmarks load (not part of the package). Safe to run again: only what changed is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."

# Emscripten's JavaScript optimizer loads acorn, which Debian installs under /usr/share/nodejs.
export NODE_PATH="${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs"
# Debian ships the system libraries prebuilt (threaded and exception variants included) in a frozen
# cache, so nothing is written there.

emcmake cmake -S . -B build-wasm -G Ninja -DCMAKE_BUILD_TYPE=Release -DTABLLM_TESTS=OFF >/dev/null
cmake --build build-wasm --target tabllm_wasm tabllm_wasm_st tabllm_wasm_dev -j "$(nproc)"
