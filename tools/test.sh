#!/usr/bin/env bash
# Installs the dependencies, configures, builds and runs every test (ctest).
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
cd "$BUILD"
ctest --output-on-failure -j "$(nproc)"
