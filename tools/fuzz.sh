#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-19 (ASan + UBSan + coverage) and
# runs each for SECONDS (default 30): the ONNX importer -> passes -> memory
# plan -> C++ emitter, and the textual IR parser. Seeds: the test models and
# IR files (and, given MODELS_DIR, every */model.onnx under it: the
# PyTorch-exported training models ctest writes to build/oracle); every file
# under tests/fuzz/regressions/ (inputs that once crashed) runs first. A
# crash leaves its input in BUILD/crashes/ and fails.
# usage: tools/fuzz.sh [SECONDS] [BUILD_DIR] [MODELS_DIR]
#        (default 30, build-fuzz, none)
# Long runs: tools/fuzz.sh 1800   (30 minutes per target)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-30}
BUILD=${2:-build-fuzz}
MODELS=${3:-}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER=clang-19 \
  -DCMAKE_CXX_COMPILER=clang++-19 -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" -DMOTE_FUZZ=ON \
  -DMOTE_ENABLE_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target mote-fuzz-onnx mote-fuzz-ir

SEEDS="$BUILD/seeds"
rm -rf "$SEEDS"
mkdir -p "$SEEDS/onnx" "$SEEDS/ir" "$BUILD/corpus/onnx" "$BUILD/corpus/ir" \
  "$BUILD/crashes"
cp examples/kws/kws.onnx "$SEEDS/onnx/"
cp examples/digits/digits.onnx "$SEEDS/onnx/"
if [ -n "$MODELS" ] && [ -d "$MODELS" ]; then
  for m in "$MODELS"/*/model.onnx; do
    [ -f "$m" ] && cp "$m" "$SEEDS/onnx/$(basename "$(dirname "$m")").onnx"
  done
fi
for kind in tiny unsupported dynamic sceloss qdq qlinear; do
  /usr/bin/python3 tests/cli/Inputs/make_model.py "$kind" "$SEEDS/onnx/$kind.onnx"
done
cp tests/ir/*.mote "$SEEDS/ir/"

for target in onnx ir; do
  REG="tests/fuzz/regressions/$target"
  if [ -d "$REG" ] && [ -n "$(ls -A "$REG")" ]; then
    echo "== mote-fuzz-$target: regression inputs"
    "$BUILD/bin/mote-fuzz-$target" "$REG"/*
  fi
  echo "== mote-fuzz-$target: ${SECS}s"
  "$BUILD/bin/mote-fuzz-$target" "$BUILD/corpus/$target" "$SEEDS/$target" \
    -seed=1 -max_total_time="$SECS" -timeout=20 -rss_limit_mb=4096 \
    -max_len=200000 -print_final_stats=1 \
    -artifact_prefix="$BUILD/crashes/$target-" 2>&1 | tail -n 12
  test "${PIPESTATUS[0]}" -eq 0
done
echo "fuzzing: no crashes"
