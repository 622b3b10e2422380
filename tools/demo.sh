#!/usr/bin/env bash
# The main job: on-device transfer learning on an emulated microcontroller.
# A small CNN pre-trained on the host on the handwritten digits 0-4
# (examples/digits/digits.onnx, made by make_digits.py) is compiled by motec
# into training firmware with a sparse update spec, built for a Cortex-M4
# and run under qemu (mps2-an386), where it learns the digits 5-9. Prints
# the held-out accuracy before and after, the loss per epoch, the arena and
# flash bytes, and where the memory report is. Then the same adaptation with
# the model quantized to int8 (the trained weights updated in place with
# quantization-aware scaling, and without it) and a table of the three.
# usage: tools/demo.sh [BUILD_DIR]   (default: build; output in BUILD_DIR/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash tools/install-deps.sh
cmake -S . -B "$BUILD" -G Ninja >/dev/null
cmake --build "$BUILD" --target motec
echo
bash examples/digits/run.sh "$BUILD/bin/motec" "$BUILD/demo"
for Q in qas plain; do
  echo
  echo "==== the same, int8 ($Q)"
  INT8=$Q bash examples/digits/run.sh "$BUILD/bin/motec" "$BUILD/demo-int8-$Q" |
    grep -E "^(==|digits firmware|before|after)"
done
echo
/usr/bin/python3 - "$BUILD" <<'EOF'
import re, sys
print("held-out accuracy after adaptation on the emulated Cortex-M4:")
print(f"{'':<22} {'new digits 5-9':>15} {'old digits 0-4':>15} {'arena B':>8}")
for name, d in (("f32", "demo"), ("int8, QAS updates", "demo-int8-qas"),
                ("int8, plain int8 SGD", "demo-int8-plain")):
    log = open(f"{sys.argv[1]}/{d}/run.log").read()
    new, old = re.findall(r"after adaptation:.*new digits 5-9 ([0-9.]+).*"
                          r"old digits 0-4 ([0-9.]+)", log)[0]
    arena = re.search(r"arena (\d+) bytes", log).group(1)
    print(f"{name:<22} {new:>15} {old:>15} {arena:>8}")
EOF
