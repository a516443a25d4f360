#!/usr/bin/env bash
# Speculative decoding on WebGPU with forced acceptance (bench/speculative/forced-webgpu.mjs): a Llama-2-7B-shape
# Q4_0 target with a TinyLlama-shape Q4_0 draft, drafts kept at 0.5, 0.7 and 0.9 per token, against plain
# greedy decode of the target. One JSON line on stdout.
#
#   bash bench/gpu/speculative-forced.sh [TARGET_SHAPE:TYPE] [DRAFT_SHAPE:TYPE]   (default llama2-7b:q4_0 tinyllama-1.1b:q4_0)
#
# Run from the repository root on a machine with a GPU, Node and the `webgpu` package, as webgpu-suite.sh.
# Environment: VOCAB (default ../shared/tokenizers/ggml-vocab-llama-spm.gguf), MODELS (default build/models/bench),
# ACCEPTANCE (0.5,0.7,0.9), K (8, the most drafted per step), PROMPT (64), GEN (128).
set -euo pipefail
cd "$(dirname "$0")/../.."
vocab=${VOCAB:-../shared/tokenizers/ggml-vocab-llama-spm.gguf}
models=${MODELS:-build/models/bench}
target=${1:-llama2-7b:q4_0}
draft=${2:-tinyllama-1.1b:q4_0}

if [ ! -x build/bin/tabllm ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTABLLM_TESTS=OFF -DTABLLM_WERROR=OFF >/dev/null
  ninja -C build tabllm >/dev/null
fi
mkdir -p "$models"
files=()
for spec in "$target" "$draft"; do
  shape=${spec%%:*} type=${spec#*:}
  file="$models/$shape-$type.gguf"
  [ -f "$file" ] || build/bin/tabllm synth "$shape" "$file" --type "$type" --vocab "$vocab" >&2
  files+=("$file")
done
node bench/speculative/forced-webgpu.mjs "${files[0]}" --draft "${files[1]}" --acceptance "${ACCEPTANCE:-0.5,0.7,0.9}" \
  --k "${K:-8}" --prompt-tokens "${PROMPT:-64}" --gen-tokens "${GEN:-128}"
