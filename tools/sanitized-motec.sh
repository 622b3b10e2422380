#!/usr/bin/env bash
# Builds motec itself with AddressSanitizer + UndefinedBehaviorSanitizer
# (clang-19, in the fuzzing build directory, whose libraries already carry
# the sanitizers) and runs it over the hostile-input suite and over every
# test model: compile (training, each oracle update spec, C++ emitted) and
# one interpreted training step. Any sanitizer report fails the run.
# usage: tools/sanitized-motec.sh [BUILD_DIR] [ORACLE_DIR]
#   (default build-fuzz and build/oracle; the oracle models come from the
#   main test run: ctest -R oracle-export)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
ORACLE=${2:-build/oracle}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER=clang-19 \
  -DCMAKE_CXX_COMPILER=clang++-19 -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" -DMOTE_FUZZ=ON \
  -DMOTE_ENABLE_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target motec
MOTEC="$BUILD/bin/motec"
export ASAN_OPTIONS=detect_leaks=1:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86

echo "== sanitized motec: hostile inputs"
/usr/bin/python3 tests/robust/bad_inputs.py "$MOTEC" examples/kws/kws.onnx \
  | tail -n 1

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
for mdir in "$ORACLE"/*/; do
  model=$(basename "$mdir")
  for sdir in "$mdir"*/; do
    spec=$(basename "$sdir")
    mapfile -t args < <(/usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print("--optimizer"); print(s["optimizer"]); print("--lr"); print(s["lr"])
for r in s["update"]:
    print("--update"); print(r)' "$sdir/spec.json")
    "$MOTEC" compile "$mdir/model.onnx" --train "${args[@]}" -o "$TMP/$model-$spec" \
      > "$TMP/log" 2>&1 || { cat "$TMP/log"; exit 1; }
    "$MOTEC" run "$mdir/model.onnx" --train "${args[@]}" --engine interp \
      --input "input=$mdir/input.pb" --input "label=$mdir/label.pb" \
      > "$TMP/log" 2>&1 || { cat "$TMP/log"; exit 1; }
    n=$((n + 1))
  done
done
"$MOTEC" compile examples/kws/kws.onnx -o "$TMP/kws-infer" > /dev/null
echo "sanitized motec: $n model/spec cases compiled and trained one step, clean"
