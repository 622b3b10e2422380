#!/usr/bin/python3
"""Instruction-count benchmark: the C++ path against the LLVM backend on
emulated targets.

usage: tools/bench/icount.py [--motec build/bin/motec] [--oracle build/oracle]
                             [--targets cortex-m4,...] [--cases kws/bias,...]

For each target and oracle case (model/update spec of
tests/models/train_oracle.py; `ctest -R oracle-export` writes them), counts
the guest instructions of one training step with `motec run
--count-instructions` twice: once building the generated C++ with the
target's compiler (arm-none-eabi-g++ -O2 on the Cortex-M boards, clang++-19
-O2 on AArch64 and Hexagon), once linking the LLVM backend's object
(--emit obj, O2). Prints a table with both counts, their ratio, the MACs of
the training step (motec inspect --train) and instructions per MAC. Counts
are deterministic (qemu TCG plugin), so one run of each suffices. A table of
figures, not a test.
"""
import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def case_args(oracle, case):
    model, spec = case.split("/")
    mdir = os.path.join(oracle, model)
    s = json.load(open(os.path.join(mdir, spec, "spec.json")))
    args = ["--train", "--optimizer", s["optimizer"], "--lr", str(s["lr"])]
    for rule in s["update"]:
        args += ["--update", rule]
    return os.path.join(mdir, "model.onnx"), mdir, args


def count(motec, onnx, mdir, args, target, emit):
    """Instructions of one training step (args with --train) or of one
    inference (args without)."""
    cmd = [motec, "run", onnx, *args, "--engine", "generated", "--target",
           target, "--emit", emit, "--count-instructions",
           "--input", "input=" + os.path.join(mdir, "input.pb")]
    if "--train" in args:
        cmd += ["--input", "label=" + os.path.join(mdir, "label.pb")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"instructions per (?:training step|inference): (\d+)",
                  r.stdout)
    if r.returncode != 0 or not m:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return int(m.group(1))


def macs(motec, onnx, args):
    r = subprocess.run([motec, "inspect", onnx, *args, "--format", "json"],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)["total_macs"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--motec", default=os.path.join(ROOT, "build", "bin", "motec"))
    ap.add_argument("--oracle", default=os.path.join(ROOT, "build", "oracle"))
    ap.add_argument("--targets", default="cortex-m4,cortex-m55")
    ap.add_argument("--cases", default="mlp/full,mlp/bias,cnn/full,cnn/bias,"
                                       "kws/full,kws/bias")
    a = ap.parse_args()
    print("instructions per training step (qemu TCG plugin; hexagon counts "
          "packets)\n")
    print(f"{'target':<11} {'case':<13} {'C++ path':>13} {'LLVM backend':>13} "
          f"{'LLVM/C++':>9} {'MACs':>11} {'C++/MAC':>8} {'LLVM/MAC':>9}")
    for target in a.targets.split(","):
        for case in a.cases.split(","):
            onnx, mdir, args = case_args(a.oracle, case)
            cpp = count(a.motec, onnx, mdir, args, target, "cpp")
            obj = count(a.motec, onnx, mdir, args, target, "obj")
            m = macs(a.motec, onnx, args)
            print(f"{target:<11} {case:<13} {cpp:>13,} {obj:>13,} "
                  f"{obj / cpp:>9.3f} {m:>11,} {cpp / m:>8.2f} {obj / m:>9.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
