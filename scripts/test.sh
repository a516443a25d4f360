#!/usr/bin/env bash
# Runs every test: the C++ suite (ctest), then the JavaScript/WebAssembly suite (node --test).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

# Tests that cannot run (no GPU adapter, missing build) fail instead of skipping.
export TABLLM_TEST_STRICT=1
status=0
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600) || status=1
if [ -d tests/js ] && ls tests/js/*.test.mjs >/dev/null 2>&1; then
  node --test --test-concurrency=1 tests/js/ || status=1
fi
node --test --test-concurrency=1 tests/browser/ || status=1  # headless Chromium (tests/browser/harness.mjs)
node --test tests/bundlers/ || status=1  # the packed package in fresh Vite and webpack apps (bundlers from npm)
exit $status
