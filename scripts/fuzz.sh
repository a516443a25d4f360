#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for RUNS executions
# (default 1,000,000) on inputs of up to FUZZ_MAX_LEN bytes (default 512). Usage: scripts/fuzz.sh [RUNS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
shift || true
targets=("${@:-fuzz_gguf fuzz_tokenizer fuzz_pretokenizer fuzz_gbnf fuzz_ebnf fuzz_json_schema fuzz_regex}")
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DTABLLM_FUZZ=ON -DTABLLM_TESTS=OFF >/dev/null
for t in ${targets[@]}; do
  ninja -C build-fuzz "$t" >/dev/null
  corpus=tests/fuzz/corpus/${t#fuzz_}
  work=build-fuzz/corpus-${t#fuzz_}
  mkdir -p "$work"
  echo "== $t: $runs runs"
  start=$(date +%s)
  status=0
  "build-fuzz/bin/$t" -runs="$runs" -max_len="${FUZZ_MAX_LEN:-512}" -timeout=10 -print_final_stats=1 "$work" "$corpus" \
    >"build-fuzz/$t.log" 2>&1 || status=$?
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY' "build-fuzz/$t.log" || true
  echo "   exit $status, $(( $(date +%s) - start )) s (log: build-fuzz/$t.log)"
  [ "$status" = 0 ] || exit 1
done
