#!/usr/bin/env bash
# The main job: compile the bundled keyword-spotting model to standalone
# training firmware source, build it for an (emulated) Cortex-M4 and train it
# there for a few steps, next to the same steps on the reference interpreter.
# usage: tools/demo.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash tools/install-deps.sh
cmake -S . -B "$BUILD" -G Ninja >/dev/null
cmake --build "$BUILD" --target motec
MOTEC="$BUILD/bin/motec"
MODEL=examples/kws/kws.onnx
SPEC=(--update '*.bias' --update 'blocks.1.pw.*' --update 'classifier.*')
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo
echo "== motec inspect $MODEL"
"$MOTEC" inspect "$MODEL" | tail -n 4

echo
echo "== motec compile: firmware source for a sparse training step"
echo "   (update spec: ${SPEC[*]})"
"$MOTEC" compile "$MODEL" --train --lr 0.1 "${SPEC[@]}" --name kws \
  -o "$WORK/kws-firmware"
echo "files: $(cd "$WORK/kws-firmware" && ls | tr '\n' ' ')"
grep -E '#define kws_(ARENA|FLASH)_BYTES' "$WORK/kws-firmware/kws.h"

/usr/bin/python3 tests/cli/Inputs/make_inputs.py "$WORK/in"
INPUTS=(--input mfcc="$WORK/in/mfcc.pb" --input label="$WORK/in/label.pb")

echo
echo "== 5 training steps on an emulated Cortex-M4 (qemu mps2-an386)"
"$MOTEC" run "$MODEL" --train --lr 0.1 "${SPEC[@]}" "${INPUTS[@]}" \
  --steps 5 --target cortex-m4 --dump "$WORK/m4"

echo
echo "== the same 5 steps on the reference interpreter"
"$MOTEC" run "$MODEL" --train --lr 0.1 "${SPEC[@]}" "${INPUTS[@]}" \
  --steps 5 --engine interp --dump "$WORK/interp"
