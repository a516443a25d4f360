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
# written, default build/models/bench), PROMPT (512), GEN (128), REPS (2); LLAMA_BENCH (a llama.cpp
# `llama-bench` binary: each line gains `llama_cpp` — its prefill and decode tok/s on the same file,
# `llama-bench -p PROMPT -n GEN -r REPS -ngl 99` — and the decode and prefill ratios; llama-bench's decode
# test starts from an empty cache, so the line also gains `decode_tokens_per_s_from_empty`, tabllm's decode
# after a 1-token prompt, and `decode_ratio` compares those two, like for like, while
# `decode_ratio_after_prompt` compares tabllm's decode after the PROMPT-token prefill); PROFILE=1 (each line
# gains `gpu_step` from bench/webgpu-profile.mjs: GPU µs, dispatches and weight bytes per token by kernel
# kind, from GPU timestamps of whole decode steps at a context of PROMPT + GEN / 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
vocab=${VOCAB:-../shared/tokenizers/ggml-vocab-llama-spm.gguf}
models=${MODELS:-build/models/bench}
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=(tinyllama-1.1b:q4_0 tinyllama-1.1b:q8_0 llama2-7b:q4_0)

source bench/gpu/synth.sh
for spec in "${specs[@]}"; do
  shape=${spec%%:*} type=${spec#*:}
  file="$models/$shape-$type.gguf"
  synth_model "$shape" "$type" "$vocab" "$file"
  # A model the backend refuses gets a line with its error instead of ending the suite.
  if out=$(node js/bin/tabllm.mjs bench -m "$file" --backend webgpu --prompt-tokens "${PROMPT:-512}" \
             --gen-tokens "${GEN:-128}" --repetitions "${REPS:-2}" 2>"$models/error.txt"); then
    llama=null profile=null empty=null
    if [ -n "${LLAMA_BENCH:-}" ]; then
      llama=$("$LLAMA_BENCH" -m "$file" -p "${PROMPT:-512}" -n "${GEN:-128}" -r "${REPS:-2}" -ngl 99 -o json 2>/dev/null || echo null)
      empty=$(node js/bin/tabllm.mjs bench -m "$file" --backend webgpu --prompt-tokens 1 --gen-tokens "${GEN:-128}" \
                --repetitions "${REPS:-2}" 2>>"$models/error.txt" || echo null)
    fi
    if [ "${PROFILE:-0}" = 1 ]; then
      profile=$(node bench/webgpu-profile.mjs "$file" --context $(( ${PROMPT:-512} + ${GEN:-128} / 2 )) --reps 20 2>/dev/null || echo null)
    fi
    node -e '
      const [file, out, llama, profile, empty] = process.argv.slice(1).map((a, i) => (i ? JSON.parse(a) : a));
      const line = { file, ...out };
      if (llama) {
        const rate = (test) => llama.find((r) => (test === "pp" ? r.n_prompt > 0 && r.n_gen === 0 : r.n_gen > 0 && r.n_prompt === 0))?.avg_ts;
        line.llama_cpp = { build_commit: llama[0]?.build_commit, gpu: llama[0]?.gpu_info, prefill_tokens_per_s: rate("pp"), decode_tokens_per_s: rate("tg") };
        if (empty) line.decode_tokens_per_s_from_empty = empty.decode_tokens_per_s;
        line.decode_ratio = +((empty ?? out).decode_tokens_per_s / line.llama_cpp.decode_tokens_per_s).toFixed(3);
        line.decode_ratio_after_prompt = +(out.decode_tokens_per_s / line.llama_cpp.decode_tokens_per_s).toFixed(3);
        line.prefill_ratio = +(out.prefill_tokens_per_s / line.llama_cpp.prefill_tokens_per_s).toFixed(3);
      }
      if (profile) line.gpu_step = { context: profile.context, ...profile.gpu_step };
      console.log(JSON.stringify(line));
    ' "$shape-$type" "$out" "$llama" "$profile" "$empty"
  else
    node -e 'console.log(JSON.stringify({file: process.argv[1], error: process.argv[2].trim()}))' "$shape-$type" "$(tail -c 400 "$models/error.txt")"
  fi
done
