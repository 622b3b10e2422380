#!/usr/bin/env bash
# The main job, as far as mote goes today: build motec, show what it sees in
# the bundled keyword-spotting model, and train the model's classifier for a
# few steps on the reference interpreter (firmware generation comes with the
# code generator).
# usage: tools/demo.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash tools/install-deps.sh
cmake -S . -B "$BUILD" -G Ninja >/dev/null
cmake --build "$BUILD" --target motec
MODEL=examples/kws/kws.onnx
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo
echo "== motec inspect $MODEL"
"$BUILD/bin/motec" inspect "$MODEL"

echo
echo "== training graph, sparse update (biases + last two layers)"
"$BUILD/bin/motec" inspect "$MODEL" --train --update '*.bias' \
  --update 'blocks.1.pw.*' --update 'classifier.*' | tail -n 3

echo
echo "== 5 training steps on the reference interpreter"
/usr/bin/python3 tests/cli/Inputs/make_inputs.py "$WORK/in"
"$BUILD/bin/motec" run "$MODEL" --train --engine interp --lr 0.1 \
  --update '*.bias' --update 'blocks.1.pw.*' --update 'classifier.*' \
  --input mfcc="$WORK/in/mfcc.pb" --input label="$WORK/in/label.pb" \
  --steps 5 --dump "$WORK/out"
echo "trained parameters written: $(ls "$WORK/out" | tr '\n' ' ')"
