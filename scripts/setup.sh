#!/usr/bin/env bash
# Installs what tabllm needs on Debian 12 (when missing), then builds the native CLI, the default model
# and the WebAssembly engine. Safe to run again: it only redoes what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake ninja-build libgtest-dev libbenchmark-dev nlohmann-json3-dev clang libclang-rt-14-dev emscripten wabt
          libvulkan1 chromium)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# Node may come from elsewhere than Debian (its npm bundled): only install Debian's when there is none.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -d node_modules ] && [ package-lock.json -ot node_modules/.package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build -j"$(nproc)"
if [ -f scripts/build-wasm.sh ]; then bash scripts/build-wasm.sh; fi
node js/build.mjs  # the tabllm package: js/dist/index.js with its WebAssembly files and types
