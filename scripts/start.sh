#!/usr/bin/env bash
# The main command: set everything up, build the chat demo (apps/chat) and serve it on localhost,
# cross-origin isolated, until Ctrl-C.
#
#   bash scripts/start.sh                      # serve on port 8080 (PORT=N or --port N for another)
#   bash scripts/start.sh --check              # build, serve, check the page and its headers, then exit (CI)
#   bash scripts/start.sh "Lily and her dog" 100   # tell a story with the native CLI instead (prompt, tokens)
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PORT:-8080}"
check=0
story=()
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1 ;;
    --port) port="${2:?--port needs a number}"; shift ;;
    --port=*) port="${1#--port=}" ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    -*) echo "error: unknown option $1 (see bash scripts/start.sh --help)" >&2; exit 2 ;;
    *) story+=("$1") ;;
  esac
  shift
done

bash scripts/setup.sh
echo

if [ ${#story[@]} -gt 0 ]; then
  exec build/bin/tabllm generate -m build/models/stories260K-f32.gguf -p "${story[0]}" -n "${story[1]:-200}" --temp 0.8 --seed 42
fi

node apps/chat/build.mjs
if [ "$check" = 1 ]; then
  exec node apps/chat/server.mjs --check
fi
exec node apps/chat/server.mjs --port "$port"
