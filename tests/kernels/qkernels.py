#!/usr/bin/python3
"""Builds tests/kernels/qkernels.cpp for emulated targets and runs it.

usage: qkernels.py check TARGET...
       qkernels.py bench [--plugin build/bin/libmote-icount.so] TARGET...

check: the random integer convolutions and matrix products of the target's
kernels (SMLAD, MVE, NEON) against the portable loops, on the device; fails
unless every case is bit-exact. A test (ctest qkernels-TARGET). The target
host-pairs builds it for this machine with the SMLAD kernels' lanes in
plain C++ (-DQK_PORTABLE_PAIRS).

bench: the instructions of one call of each kernel of qkernels.cpp's
benchLayers (the kws, digits and a mobilenet_v2 block's layers, int8), from
qemu's instruction count (the counting plugin) of programs calling it once
and twice, and per multiply-accumulate. A table of figures, not a test.

The compilers and emulators are those of motec's targets
(codegen/Targets.cpp), with the same flags.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RT = os.path.join(HERE, "..", "..", "runtime-stub")
FREESTANDING = ["-std=c++20", "-O2", "-ffreestanding", "-fno-exceptions",
                "-fno-rtti", "-nostdlib", "-I", RT]

# target: (compiler and flags, board, emulator)
TARGETS = {
    "cortex-m4": (["arm-none-eabi-g++", "-mcpu=cortex-m4", "-mthumb",
                   "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"], "mps2",
                  ["qemu-system-arm", "-M", "mps2-an386", "-cpu", "cortex-m4"]),
    "cortex-m7": (["arm-none-eabi-g++", "-mcpu=cortex-m7", "-mthumb",
                   "-mfloat-abi=hard", "-mfpu=fpv5-d16"], "mps2",
                  ["qemu-system-arm", "-M", "mps2-an500", "-cpu", "cortex-m7"]),
    "cortex-m55": (["arm-none-eabi-g++", "-mcpu=cortex-m55", "-mthumb",
                    "-mfloat-abi=hard"], "mps3",
                   ["qemu-system-arm", "-M", "mps3-an547", "-cpu",
                    "cortex-m55"]),
    "aarch64": (["clang++-19", "--target=aarch64-unknown-linux-gnu",
                 "-mcpu=cortex-a72", "-fuse-ld=lld", "-static"], "linux",
                ["qemu-aarch64"]),
    "hexagon": (["clang++-19", "--target=hexagon-unknown-none-elf",
                 "-mcpu=hexagonv67", "-G0", "-fuse-ld=lld", "-static"],
                "linux", ["qemu-hexagon"]),
}


def build(target, out, defines=()):
    if target == "host-pairs":
        cmd = ["c++", "-std=c++20", "-O2", "-I", RT,
               '-DMOTE_BOARD_IO="' + os.path.join(HERE, "host_io.h") + '"',
               "-DQK_PORTABLE_PAIRS", os.path.join(HERE, "qkernels.cpp"),
               "-o", out]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"build failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
        return
    cxx, board, _ = TARGETS[target]
    bdir = os.path.join(RT, "board", board)
    cmd = cxx + FREESTANDING + [f'-DMOTE_BOARD_IO="board/{board}/io.h"']
    cmd += [f"-D{d}" for d in defines]
    if board != "linux":
        # The check's code outgrows the M55 board's ITCM (mps3_flash.ld).
        ld = os.path.join(bdir, "link.ld")
        if board == "mps3" and not any(d.startswith("QK_BENCH")
                                       for d in defines):
            ld = os.path.join(HERE, "mps3_flash.ld")
        cmd += ["-fno-tree-loop-distribute-patterns", "-T", ld]
    cmd += [os.path.join(HERE, "qkernels.cpp")]
    cmd += sorted(glob.glob(os.path.join(bdir, "*.cpp")))
    cmd += ["-lgcc"] if board != "linux" else []
    cmd += ["-o", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"build failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")


def emulate(target, elf, plugin=None, count=None):
    if target == "host-pairs":
        return subprocess.run([elf], capture_output=True, text=True)
    _, board, emu = TARGETS[target]
    cmd = list(emu)
    if plugin:
        cmd += ["-plugin", f"{plugin},outfile={count}"]
    if board == "linux":
        cmd += [elf]
    else:
        cmd += ["-nographic", "-monitor", "none", "-serial", "none",
                "-semihosting-config", "enable=on,target=native", "-kernel",
                elf]
    return subprocess.run(["timeout", "900"] + cmd, capture_output=True,
                          text=True)


def check(targets):
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for t in targets:
            elf = os.path.join(tmp, t + ".elf")
            build(t, elf)
            r = emulate(t, elf)
            # Semihosting writes to the emulator's stderr.
            out = (r.stdout + r.stderr).strip()
            print(f"{t}: {out}")
            if r.returncode != 0 or "bit-exact" not in out:
                failed = True
    return 1 if failed else 0


def layers():
    """(title, MACs) of qkernels.cpp's benchLayers, in order."""
    src = open(os.path.join(HERE, "qkernels.cpp")).read()
    body = src[src.index("benchLayers[] = {"):src.index("int benchMain")]
    out = []
    for m in re.finditer(r"// (.*)\n\s*\{(true|false), \{([^}]*(?:\{[^}]*\}"
                         r"[^}]*)*)\}, (\d+), (\d+), (\d+)\}", body):
        title, conv = m.group(1), m.group(2) == "true"
        if conv:
            nums = [int(v) for v in re.findall(r"-?\d+", m.group(3))]
            b, c, mo, g = nums[:4]
            inn, k, s, d, p, pe = (nums[4 + 3 * i:7 + 3 * i] for i in range(6))
            outs = 1
            for i in range(3):
                span = d[i] * (k[i] - 1) + 1
                outs *= (inn[i] + p[i] + pe[i] - span) // s[i] + 1
            macs = b * mo * outs * (c // g) * k[0] * k[1] * k[2]
        else:
            macs = int(m.group(4)) * int(m.group(5)) * int(m.group(6))
        out.append((title, macs))
    return out


def bench(targets, plugin, only=None):
    rows = layers()
    with tempfile.TemporaryDirectory() as tmp:
        counts = {}
        for t in targets:
            for i, _ in enumerate(rows):
                if only is not None and i not in only:
                    continue
                n = []
                for reps in (1, 2):
                    elf = os.path.join(tmp, f"{t}-{i}-{reps}.elf")
                    build(t, elf, [f"QK_BENCH={i}", f"QK_REPS={reps}"])
                    cf = os.path.join(tmp, "count.txt")
                    r = emulate(t, elf, plugin, cf)
                    if r.returncode != 0:
                        sys.exit(f"{t}: layer {i} failed\n{r.stdout}{r.stderr}")
                    n.append(int(open(cf).read()))
                counts[t, i] = n[1] - n[0]
        print(f"{'layer':<48} {'MACs':>8}" +
              "".join(f" {t + ' instr/MAC':>20}" for t in targets))
        for i, (title, macs) in enumerate(rows):
            if only is not None and i not in only:
                continue
            print(f"{title[:48]:<48} {macs:>8,}" +
                  "".join(f" {counts[t, i] / macs:>20.2f}" for t in targets))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["check", "bench"])
    ap.add_argument("targets", nargs="+",
                    choices=sorted(TARGETS) + ["host-pairs"])
    ap.add_argument("--plugin", default=os.path.join(
        HERE, "..", "..", "build", "bin", "libmote-icount.so"))
    ap.add_argument("--layers", help="bench: only these layers (0,2,...)")
    a = ap.parse_args()
    if a.mode == "check":
        return check(a.targets)
    only = {int(v) for v in a.layers.split(",")} if a.layers else None
    bench(a.targets, os.path.abspath(a.plugin), only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
