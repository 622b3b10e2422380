#!/usr/bin/env bash
# Installs the dependencies, configures, builds and runs every test (ctest),
# then a fuzzing smoke run (tools/fuzz.sh, 30 s per target, in BUILD-fuzz;
# MOTE_FUZZ_SECONDS changes the time, 0 skips it) and motec itself built
# with ASan + UBSan over the hostile inputs and every test model
# (tools/sanitized-motec.sh, in the same directory; skipped with the fuzzing).
# usage: tools/test.sh [BUILD_DIR]   (default: build)
# In CI (CI=true) warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash tools/install-deps.sh
WERROR=OFF
if [ "${CI:-}" = "true" ]; then WERROR=ON; fi
cmake -S . -B "$BUILD" -G Ninja -DMOTE_WERROR=$WERROR
cmake --build "$BUILD"
(cd "$BUILD" && ctest --output-on-failure -j "$(nproc)")
FUZZ_SECONDS=${MOTE_FUZZ_SECONDS:-30}
if [ "$FUZZ_SECONDS" != 0 ]; then
  bash tools/fuzz.sh "$FUZZ_SECONDS" "$BUILD-fuzz" "$BUILD/oracle"
  bash tools/sanitized-motec.sh "$BUILD-fuzz" "$BUILD/oracle"
fi
