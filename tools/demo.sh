#!/usr/bin/env bash
# The main job: builds motec and runs it on the bundled example model.
# usage: tools/demo.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash tools/install-deps.sh
cmake -S . -B "$BUILD" -G Ninja >/dev/null
cmake --build "$BUILD" --target motec
MODEL=examples/kws/kws.onnx
echo
echo "== motec inspect $MODEL"
"$BUILD/bin/motec" inspect "$MODEL"
