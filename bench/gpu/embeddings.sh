#!/usr/bin/env bash
# Embeddings per second on the GPU: WebGPU (the encoder plan, Dawn in Node) beside llama.cpp's
# llama-embedding built with CUDA, on the same synthetic files and 256-token inputs, 32 to a request in one
# forward pass each, with the cosine of their vectors. One JSON object on stdout (bench/embeddings/throughput.mjs).
#
#   bash bench/gpu/embeddings.sh [LLAMA_SRC]     (a llama.cpp source tree; without it, WebGPU alone)
#
# Run from the repository root on a machine with an NVIDIA GPU, CUDA, Node and the package's npm dependencies
# (`webgpu`, and `@huggingface/jinja`, which js/src imports), as webgpu-suite.sh. It builds the native CLI (for `tabllm synth`) when build/bin/tabllm is missing, and
# llama-embedding into LLAMA_BUILD (default build/llama-cuda) when missing, the two at once.
# Environment: SHAPES (default all-minilm-l6-v2,bge-base-en-v1.5,nomic-embed-text-v1.5), TYPES (f16,q8_0),
# REPEAT (3), CUDA_ARCH (90).
set -euo pipefail
cd "$(dirname "$0")/../.."
src=${1:-}
llama_build=${LLAMA_BUILD:-build/llama-cuda}
jobs=$(nproc)

pids=()
if [ ! -x build/bin/tabllm ]; then
  (cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTABLLM_TESTS=OFF -DTABLLM_WERROR=OFF >/dev/null &&
   ninja -C build tabllm >/dev/null) & pids+=($!)
fi
if [ -n "$src" ] && [ ! -x "$llama_build/bin/llama-embedding" ]; then
  # A source archive without pocs/ (c392e50's) still configures: its examples add that folder unconditionally.
  [ -d "$src/pocs" ] || { mkdir -p "$src/pocs" && : > "$src/pocs/CMakeLists.txt"; }
  (cmake -S "$src" -B "$llama_build" -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" \
     -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF >/dev/null &&
   cmake --build "$llama_build" --target llama-embedding -j "$jobs" >/dev/null) & pids+=($!)
fi
for pid in "${pids[@]}"; do wait "$pid"; done

llama=()
[ -n "$src" ] && llama=(--llama-build "$llama_build" --llama-gpu-layers 99)
node bench/embeddings/throughput.mjs --backends webgpu "${llama[@]}" --threads "$jobs" \
  --shapes "${SHAPES:-all-minilm-l6-v2,bge-base-en-v1.5,nomic-embed-text-v1.5}" --types "${TYPES:-f16,q8_0}" --repeat "${REPEAT:-3}"
