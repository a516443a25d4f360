#!/usr/bin/env bash
# The main job: set everything up, then tell a story with the default model (stories260K).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo
build/bin/tabllm generate -m build/models/stories260K-f32.gguf -p "${1:-Once upon a time}" -n "${2:-200}" --temp 0.8 --seed 42
