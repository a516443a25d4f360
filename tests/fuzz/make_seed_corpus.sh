#!/usr/bin/env bash
# Regenerates the GGUF seed corpus from the default model (header-sized slices keep the seeds small).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=tests/fuzz/corpus/gguf
mkdir -p "$out"
for type in f32 q4_0; do
  head -c 4096 "build/models/stories260K-$type.gguf" > "$out/stories-$type-head.bin"
done
