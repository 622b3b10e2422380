#!/usr/bin/env bash
# On-device transfer learning, end to end: compiles digits.onnx (pre-trained
# on the digits 0-4) with a sparse update spec, builds the firmware for the
# emulated Cortex-M4 (qemu mps2-an386) and runs it: held-out accuracy before,
# four epochs of training on the digits 5-9, accuracy after.
# usage: examples/digits/run.sh MOTEC OUT_DIR
#   MIN_NEW_ACCURACY=0.8 makes it fail (exit 1) if the accuracy on the new
#   digits after adaptation is lower (the test suite sets it).
#   INT8=qas (or plain) compiles the model quantized: --quantize int8 with
#   100 images of the digits 0-4 as calibration, the trained int8 weights
#   and int32 biases updated in place with quantization-aware scaling (or
#   without it: --quantized-update plain).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MOTEC=$(realpath "$1")
OUT=$(realpath -m "$2")
SPEC=(--update 'classifier.*' --update '*.bias' --update 'conv2.weight:0.5')
QUANT=()
if [ -n "${INT8:-}" ]; then
  QUANT=(--quantize int8 --calibration "$OUT/data/calibration.pb"
         --quantized-update "$INT8")
fi
mkdir -p "$OUT"

echo "== data: scikit-learn's 8x8 digits (Debian python3-sklearn)"
/usr/bin/python3 "$HERE/make_digits.py" data "$OUT/data"

echo
echo "== motec compile: training firmware source (update: ${SPEC[*]}${INT8:+; int8, $INT8})"
"$MOTEC" compile "$HERE/digits.onnx" --train --lr 0.05 "${SPEC[@]}" \
  "${QUANT[@]}" --name digits -o "$OUT/digits-firmware"

echo
echo "== build for Cortex-M4 (arm-none-eabi-g++ -O2, hard float, no libc)"
FW="$OUT/digits-firmware"
arm-none-eabi-g++ -std=c++20 -O2 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard \
  -mfpu=fpv4-sp-d16 -ffreestanding -fno-exceptions -fno-rtti -nostdlib \
  -fno-tree-loop-distribute-patterns -I "$FW" -T "$FW/board/mps2/link.ld" \
  "$HERE/firmware.cpp" "$FW/digits.cpp" "$FW/board/mps2/startup.cpp" \
  "$FW/board/mps2/mem.cpp" -lgcc -o "$OUT/digits.elf"
arm-none-eabi-size "$OUT/digits.elf"

echo
echo "== run on the emulated Cortex-M4 (qemu-system-arm -M mps2-an386)"
cd "$OUT/data"
timeout 600 qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic \
  -monitor none -serial none -semihosting-config enable=on,target=native \
  -kernel "$OUT/digits.elf" 2>&1 | tee "$OUT/run.log"

echo
echo "memory report: $FW/report.html"
if [ -n "${MIN_NEW_ACCURACY:-}" ]; then
  /usr/bin/python3 - "$OUT/run.log" "$MIN_NEW_ACCURACY" <<'EOF'
import re, sys
log = open(sys.argv[1]).read()
acc = [float(a) for a in re.findall(r"new digits 5-9 ([0-9.]+)", log)]
if len(acc) != 2 or not acc[1] >= float(sys.argv[2]) or not acc[1] > acc[0]:
    sys.exit(f"FAILED: accuracy on the new digits {acc}, want >= {sys.argv[2]} after")
print(f"ok: accuracy on the new digits {acc[0]:.3f} -> {acc[1]:.3f}")
EOF
fi
