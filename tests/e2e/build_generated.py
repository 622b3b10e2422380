#!/usr/bin/python3
"""Compiles a model with motec and builds the generated code with every
compiler the design promises, warnings as errors.

usage: build_generated.py [--determinism-only] MOTEC MODEL.onnx
                          [motec compile options...]

Builds NAME.cpp with g++, clang++-19 and arm-none-eabi-g++ (Cortex-M4,
hard float, freestanding) using -std=c++20 -Wall -Wextra -Werror, and checks
the Cortex-M4 object needs nothing from outside but the four memory functions
compilers may emit (memcpy, memmove, memset, memcmp) and libgcc helpers.
A compiler that is not installed is reported and skipped; g++ must exist.
Also checks the output is deterministic: compiling twice, the second time
from another working directory, gives the same bytes in every file written
(code, runtime headers, reports). --determinism-only stops there (for models
whose code takes long to build with three compilers).
"""
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

ALLOWED_UNDEFINED = {"memcpy", "memmove", "memset", "memcmp"}


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        print("FAILED:", " ".join(cmd))
        print(r.stdout[-4000:], r.stderr[-4000:])
        sys.exit(1)
    return r.stdout


def main():
    args = sys.argv[1:]
    only_determinism = args[:1] == ["--determinism-only"]
    if only_determinism:
        args = args[1:]
    motec, model, *opts = args
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "gen")
        run([motec, "compile", model, "-o", out, "--name", "net", *opts])
        again = os.path.join(tmp, "gen2")
        # From another working directory: the output must not depend on it.
        run([motec, "compile", os.path.abspath(model), "-o", again, "--name",
             "net", *opts], cwd=tmp)
        files = sorted(os.path.relpath(os.path.join(d, f), out)
                       for d, _, fs in os.walk(out) for f in fs)
        files2 = sorted(os.path.relpath(os.path.join(d, f), again)
                        for d, _, fs in os.walk(again) for f in fs)
        if files != files2 or "net.cpp" not in files:
            print(f"FAILED: the two compilations wrote different files: "
                  f"{sorted(set(files) ^ set(files2))}")
            sys.exit(1)
        for f in files:
            if not filecmp.cmp(os.path.join(out, f), os.path.join(again, f),
                               shallow=False):
                print(f"FAILED: {f} differs between two compilations")
                sys.exit(1)
        print(f"deterministic: {len(files)} files byte-identical")
        if only_determinism:
            return
        common = ["-std=c++20", "-Wall", "-Wextra", "-Werror", "-O2",
                  "-fno-exceptions", "-fno-rtti", "-I", out, "-c",
                  os.path.join(out, "net.cpp")]
        compilers = [
            ("g++", ["g++"]),
            ("clang++-19", ["clang++-19"]),
            ("arm-none-eabi-g++",
             ["arm-none-eabi-g++", "-mcpu=cortex-m4", "-mthumb",
              "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-ffreestanding"]),
        ]
        built = 0
        for name, cmd in compilers:
            if not shutil.which(cmd[0]):
                if name == "g++":
                    print("FAILED: g++ is not installed")
                    sys.exit(1)
                print(f"{name}: not installed, skipped")
                continue
            obj = os.path.join(tmp, name + ".o")
            run(cmd + common + ["-o", obj])
            built += 1
            if name == "arm-none-eabi-g++":
                und = run(["arm-none-eabi-nm", "-u", obj]).split()
                syms = {s for s in und if s != "U"}
                bad = {s for s in syms
                       if s not in ALLOWED_UNDEFINED and not s.startswith("__aeabi")
                       and not s.startswith("__gnu")}
                if bad:
                    print("FAILED: the Cortex-M4 object needs", sorted(bad))
                    sys.exit(1)
                size = run(["arm-none-eabi-size", obj]).splitlines()[-1].split()
                print(f"{name}: ok (text {size[0]} data {size[1]} bss {size[2]}; "
                      f"undefined: {sorted(syms) or 'none'})")
            else:
                print(f"{name}: ok")
        print(f"built with {built} compilers, -Wall -Wextra -Werror; "
              "deterministic output")


if __name__ == "__main__":
    main()
