#!/usr/bin/env bash
# Installs mote's build and test dependencies from Debian 12's archive.
# Idempotent: packages already present are skipped, and apt-get runs only
# when something is missing. Run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  # build
  g++ cmake ninja-build pkg-config
  llvm-19-dev clang-19 lld-19 llvm-19-tools
  libonnx-dev libprotobuf-dev protobuf-compiler
  libfmt-dev catch2
  # tests and examples: ONNX node tests, PyTorch as the oracle
  python3 python3-numpy python3-onnx python3-torch python3-torchvision
  python3-sklearn
  # memory planner against the exact optimum, headless screenshot of the
  # HTML memory report (tests/memory)
  coinor-cbc chromium
  # generated code on an emulated Cortex-M4 (motec run --target cortex-m4)
  gcc-arm-none-eabi qemu-system-arm
  # generated code under QEMU's Linux user mode (--target aarch64, hexagon;
  # built with clang-19 and lld-19 above)
  qemu-user
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
