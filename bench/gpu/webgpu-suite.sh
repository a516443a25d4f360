#!/usr/bin/env bash
# WebGPU prefill and decode figures on synthetic models of real shapes: one JSON line per model on stdout.
#
#   bash bench/gpu/webgpu-suite.sh [SHAPE:TYPE ...]     (default: tinyllama-1.1b:q4_0 tinyllama-1.1b:q8_0 llama2-7b:q4_0)
#
# Any shape of `tabllm synth` works, e.g. phi-3.5-mini:q4_k_m gemma-2-2b:q4_k_m gemma-3-1b:q4_k_m.
#
# Run from the repository root on a machine with a GPU, Node and the `webgpu` package. It builds the native CLI
# (for `tabllm synth`) when build/bin/tabllm is missing and needs the WebAssembly engine in build-wasm/.
# Environment: VOCAB (default ../shared/tokenizers/ggml-vocab-llama-spm.gguf), MODELS (where the models are
# written, default build/models/bench), PROMPT (512), GEN (128), REPS (2).
set -euo pipefail
cd "$(dirname "$0")/../.."
vocab=${VOCAB:-../shared/tokenizers/ggml-vocab-llama-spm.gguf}
models=${MODELS:-build/models/bench}
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=(tinyllama-1.1b:q4_0 tinyllama-1.1b:q8_0 llama2-7b:q4_0)

if [ ! -x build/bin/tabllm ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTABLLM_TESTS=OFF -DTABLLM_WERROR=OFF >/dev/null
  ninja -C build tabllm >/dev/null
fi
mkdir -p "$models"
for spec in "${specs[@]}"; do
  shape=${spec%%:*} type=${spec#*:}
  file="$models/$shape-$type.gguf"
  [ -f "$file" ] || build/bin/tabllm synth "$shape" "$file" --type "$type" --vocab "$vocab" >&2
  # A model the backend refuses gets a line with its error instead of ending the suite.
  if out=$(node js/bin/tabllm.mjs bench -m "$file" --backend webgpu --prompt-tokens "${PROMPT:-512}" \
             --gen-tokens "${GEN:-128}" --repetitions "${REPS:-2}" 2>"$models/error.txt"); then
    echo "$out" | sed "s/^{/{\"file\":\"$shape-$type\",/"
  else
    node -e 'console.log(JSON.stringify({file: process.argv[1], error: process.argv[2].trim()}))' "$shape-$type" "$(tail -c 400 "$models/error.txt")"
  fi
done
