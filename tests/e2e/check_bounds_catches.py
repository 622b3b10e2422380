#!/usr/bin/python3
"""The --check-bounds mode of generated code catches out-of-range accesses,
and frozen weights live in read-only memory.

usage: check_bounds_catches.py MOTEC MODEL.onnx

1. Compiles MODEL (training, biases only: the other weights are frozen)
   with --check-bounds, builds it with AddressSanitizer and runs two steps:
   must pass.
2. Shrinks the declared range of one operand of a kernel call by one float
   (as if the plan gave the tensor one element fewer than the kernel
   touches), once for an input and once for the result in the arena, and
   once for a frozen weight in the read-only data: each build must stop with
   an AddressSanitizer report.
3. Checks every frozen weight array of the object is in a read-only
   section (a write to one faults), with readelf.
"""
import os
import re
import subprocess
import sys
import tempfile

MAIN = r"""
#include "net.h"
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main() {
  void *Arena = std::aligned_alloc(16, (net_ARENA_BYTES + 15) / 16 * 16);
  static float In[1 << 20];
  static int Label[1 << 10];
  for (int I = 0; I < (1 << 20); ++I)
    In[I] = float(I % 7) * 0.1f;
  net_init(Arena);
  const void *Ptrs[2] = {In, Label};
  float L = 0;
  for (int K = 0; K < 2; ++K)
    L = net_train_step_v(Arena, Ptrs);
  std::printf("loss %g\n", L);
  std::free(Arena);
  return 0;
}
"""

FLAGS = ["-std=c++20", "-O0", "-g1", "-DMOTE_RT_NO_FORCE_INLINE",
         "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
         "-fno-omit-frame-pointer"]


def sh(cmd, cwd, check=True):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if check and r.returncode != 0:
        print("FAILED:", " ".join(cmd))
        print(r.stdout[-3000:], r.stderr[-3000:])
        sys.exit(1)
    return r


def build_and_run(d, src):
    with open(os.path.join(d, "net.cpp"), "w") as f:
        f.write(src)
    sh(["g++", *FLAGS, "-I", ".", "net.cpp", "main.cpp", "-o", "run"], d)
    return subprocess.run(["./run"], cwd=d, capture_output=True, text=True)


def shrink(src, call_pattern, which, data=False):
    """Returns src with one range of the first call matching call_pattern
    shrunk by 4 bytes (which: 0 = first operand, -1 = the last), and that
    call. data: a range of the read-only arrays (DataRange, two lines above
    the arena's ranges) instead of the arena's (ArenaRange)."""
    lines = src.split("\n")
    kind, distance = ("DataRange D", 4) if data else ("ArenaRange R", 2)
    item = r"\{(\w+), (\d+)\}"
    for i, line in enumerate(lines):
        m = re.match(r"(\s*const mote_rt::" + kind + r"\[\] = \{)(.*)(\};)$", line)
        if (not m or i + distance >= len(lines) or
                not re.search(call_pattern, lines[i + distance])):
            continue
        ranges = re.findall(item, m.group(2))
        where, size = ranges[which]
        ranges[which] = (where, str(int(size) - 4))
        lines[i] = m.group(1) + ", ".join(f"{{{o}, {s}}}" for o, s in ranges) + m.group(3)
        return "\n".join(lines), lines[i + distance].strip()[:60]
    print(f"FAILED: no call matching {call_pattern} in the generated code")
    sys.exit(1)


def main():
    motec, model = (os.path.abspath(p) for p in sys.argv[1:3])
    with tempfile.TemporaryDirectory() as d:
        sh([motec, "compile", model, "--train", "--update", "*.bias",
            "--check-bounds", "--name", "net", "-o", d], d)
        with open(os.path.join(d, "main.cpp"), "w") as f:
            f.write(MAIN)
        src = open(os.path.join(d, "net.cpp")).read()
        if "ArenaGuard" not in src:
            print("FAILED: --check-bounds emitted no guards")
            sys.exit(1)
        r = build_and_run(d, src)
        if r.returncode != 0:
            print("FAILED: the unmodified checked build does not run clean")
            print(r.stdout[-3000:], r.stderr[-3000:])
            sys.exit(1)
        print("unmodified: runs clean,", r.stdout.strip())

        for what, which, data in (("input", 0, False), ("result", -1, False),
                                  ("weight", 0, True)):
            bad, call = shrink(src, r"mote_rt::conv", which, data)
            r = build_and_run(d, bad)
            # A read or write past the granule-aligned end of the range is
            # "use-after-poison"; inside the last, partly addressable
            # granule ASan says "unknown-crash": both name the address.
            m = re.search(r"ERROR: AddressSanitizer: (use-after-poison|unknown-crash)",
                          r.stderr)
            if r.returncode == 0 or not m:
                print(f"FAILED: a {what} range one float short was not caught "
                      f"({call})")
                print(r.stdout[-2000:], r.stderr[-2000:])
                sys.exit(1)
            print(f"{what} range one float short: caught by ASan "
                  f"({m.group(1)}) in {call}")

        # Frozen weights: net.weights, placed by the assembler in a
        # read-only section at the symbols net_w<k>.
        sh([motec, "compile", model, "--train", "--update", "*.bias",
                    "--name", "net", "-o", os.path.join(d, "plain")], d)
        sh(["g++", "-std=c++20", "-O2", "-I", "plain", "-c", "plain/net.cpp",
            "-o", "plain.o"], d)
        sections = {}
        for line in sh(["readelf", "-SW", "plain.o"], d).stdout.splitlines():
            m = re.match(r"\s*\[\s*(\d+)\]\s+(\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S*)", line)
            if m:
                sections[m.group(1)] = (m.group(2), m.group(3))
        frozen = 0
        for line in sh(["readelf", "-sW", "plain.o"], d).stdout.splitlines():
            f = line.split()
            if len(f) < 8 or not re.fullmatch(r"net_w\d+", f[7]):
                continue
            name, flags = sections.get(f[6], ("?", ""))
            if "W" in flags or "A" not in flags:
                print(f"FAILED: frozen weight {f[7]} is in writable section {name}")
                sys.exit(1)
            frozen += 1
        if frozen == 0:
            print("FAILED: found no frozen weight arrays in the object")
            sys.exit(1)
        print(f"{frozen} frozen weight arrays, all in read-only sections")


if __name__ == "__main__":
    main()
