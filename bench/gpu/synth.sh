# Sourced by the GPU bench scripts (from the repository root).
# synth_model SHAPE TYPE VOCAB FILE [synth options...]: writes a synthetic model of a real shape to FILE
# unless it exists, building the native CLI (`tabllm synth`) first when build/bin/tabllm is missing.
synth_model() {
  if [ ! -x build/bin/tabllm ]; then
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTABLLM_TESTS=OFF -DTABLLM_WERROR=OFF >/dev/null
    ninja -C build tabllm >/dev/null
  fi
  mkdir -p "$(dirname "$4")"
  [ -f "$4" ] || build/bin/tabllm synth "$1" "$4" --type "$2" --vocab "$3" "${@:5}" >&2
}
