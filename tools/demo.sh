#!/usr/bin/env bash
# The main job: on-device transfer learning on an emulated microcontroller.
# A small CNN pre-trained on the host on the handwritten digits 0-4
# (examples/digits/digits.onnx, made by make_digits.py) is compiled by motec
# into training firmware with a sparse update spec, built for a Cortex-M4
# and run under qemu (mps2-an386), where it learns the digits 5-9. Prints
# the held-out accuracy before and after, the loss per epoch, the arena and
# flash bytes, and where the memory report is.
# usage: tools/demo.sh [BUILD_DIR]   (default: build; output in BUILD_DIR/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash tools/install-deps.sh
cmake -S . -B "$BUILD" -G Ninja >/dev/null
cmake --build "$BUILD" --target motec
echo
bash examples/digits/run.sh "$BUILD/bin/motec" "$BUILD/demo"
