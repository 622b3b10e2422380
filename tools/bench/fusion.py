#!/usr/bin/python3
"""Fusion benchmark: what the fuse pass buys, in memory and in instructions.

usage: tools/bench/fusion.py [--motec build/bin/motec] [--oracle build/oracle]
                             [--target cortex-m4] [--emit cpp|obj]
                             [--cases kws/full,...] [--inference]
                             [--optimizer sgd|momentum|adam]

For each oracle case (model/update spec of tests/models/train_oracle.py;
`ctest -R oracle-export` writes them) the same training step is compiled
twice, with the fuse pass and with --no-fuse, and the table shows:
  - the arena of the planned step (`motec plan`) and the bytes fusion saves
    (weight gradients folded into their update are never stored;
    pre-activation tensors are not kept for the backward pass);
  - guest instructions of one training step on the emulated target (`motec
    run --count-instructions`: a qemu TCG plugin, deterministic, so one run
    each) and instructions per MAC (MACs of the forward and backward
    multiply-accumulates the step executes, `motec inspect --train`).
--optimizer trains with that optimizer instead of the case's own (momentum
and Adam fold the Conv and Gemm weight gradients into their update too).
The transformer block shows the elementwise chains (its written-out
LayerNorm and GELU, forward and backward). With --inference the same
for one inference of each model (no --train:
the forward graph only; the update spec of a case does not matter).
A table of figures, not a test.
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from icount import ROOT, case_args, count, macs  # noqa: E402


def arena(motec, onnx, args, fuse):
    cmd = [motec, "plan", onnx, *args] + ([] if fuse else ["--no-fuse"])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return int(re.search(r"arena: (\d+) bytes", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--motec", default=os.path.join(ROOT, "build", "bin", "motec"))
    ap.add_argument("--oracle", default=os.path.join(ROOT, "build", "oracle"))
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--emit", default="cpp", choices=["cpp", "obj"])
    ap.add_argument("--cases", default=None)
    ap.add_argument("--inference", action="store_true")
    ap.add_argument("--optimizer", choices=["sgd", "momentum", "adam"])
    a = ap.parse_args()
    if a.cases is None:
        a.cases = ("mlp/full,cnn/full,kws/full,mobilenet_v2_w035/full,"
                   "transformer/full"
                   if a.inference else
                   "mlp/full,mlp/bias,cnn/full,cnn/bias,cnn/channels,"
                   "kws/full,kws/bias,kws/channels,"
                   # mobilenet's full and channel steps do not fit the
                   # board's 4 MiB of SRAM unfused; its bias step does.
                   "mobilenet_v2_w035/bias,transformer/full,"
                   "transformer/bias,transformer/channels")
    what = ("one inference" if a.inference else
            f"one {a.optimizer or 'SGD'} training step")
    print(f"{what}, batch of the oracle case, {a.target} "
          f"(--emit {a.emit}); instructions counted by qemu\n")
    print(f"{'case':<13} {'arena no-fuse':>13} {'arena fused':>12} "
          f"{'saved':>8} {'instr no-fuse':>14} {'instr fused':>12} "
          f"{'fused/no':>9} {'MACs':>10} {'no/MAC':>7} {'fused/MAC':>9}")
    for case in a.cases.split(","):
        onnx, mdir, args = case_args(a.oracle, case)
        if a.inference:
            args = []
            case = case.split("/")[0]
        elif a.optimizer:
            i = args.index("--optimizer")
            args[i + 1] = a.optimizer
        a0 = arena(a.motec, onnx, args, False)
        a1 = arena(a.motec, onnx, args, True)
        i0 = count(a.motec, onnx, mdir, args + ["--no-fuse"], a.target, a.emit)
        i1 = count(a.motec, onnx, mdir, args, a.target, a.emit)
        m = macs(a.motec, onnx, args)
        print(f"{case:<13} {a0:>13,} {a1:>12,} {a0 - a1:>8,} {i0:>14,} "
              f"{i1:>12,} {i1 / i0:>9.3f} {m:>10,} {i0 / m:>7.2f} "
              f"{i1 / m:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
