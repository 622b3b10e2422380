#!/usr/bin/python3
"""Memory benchmark: arena of the training step per update spec, with and
without the schedule pass, against the liveness lower bound.

usage: tools/bench/memory.py [--motec build/bin/motec] [--res 128] [--classes 10]

Exports torchvision's mobilenet_v2 (width 0.35, BatchNorm folded) at the
given resolution, plus the test models of tests/models/train_oracle.py, and
prints for each model and spec: arena bytes in the naive order (all
gradients, then all updates) and scheduled, the lower bound, the efficiency
and the planner's time. A table of figures, not a test.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))

SPECS = {
    "mobilenet_v2_w035": [
        ("full", []), ("bias", ["*.bias"]),
        ("last2", ["features.18.*", "classifier.*"]),
        ("sparse (TTE-like)", ["*.bias", "features.15.*:0.25", "features.16.*:0.25",
                               "features.17.*:0.5", "features.18.*:0.5", "classifier.*"]),
    ],
}


def plan(motec, model, rules, reorder):
    cmd = [motec, "plan", model, "--train"] + [a for r in rules for a in ("--update", r)]
    if not reorder:
        cmd.append("--no-reorder")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    arena, bound = map(int, re.search(r"arena: (\d+) bytes \(lower bound (\d+)", out).groups())
    ms = float(re.search(r"in ([\d.]+) ms", out).group(1))
    return arena, bound, ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--motec", default=os.path.join(ROOT, "build", "bin", "motec"))
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--classes", type=int, default=10)
    a = ap.parse_args()
    import torch
    import torchvision
    from train_oracle import MODELS, export, fold_batchnorm, randomize_batchnorm
    with tempfile.TemporaryDirectory() as tmp:
        m = torchvision.models.mobilenet_v2(width_mult=0.35, weights=None,
                                            num_classes=a.classes).eval()
        randomize_batchnorm(m, torch.Generator().manual_seed(1))
        with torch.no_grad():
            fold_batchnorm(m)
        mb = os.path.join(tmp, "mobilenet.onnx")
        torch.onnx.export(m, torch.randn(1, 3, a.res, a.res), mb, opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          do_constant_folding=False)
        models = [(f"mobilenet_v2_w035 {a.res}x{a.res}, {a.classes} classes", mb,
                   SPECS["mobilenet_v2_w035"])]
        for name in ("mlp", "cnn", "kws", "transformer"):
            import contextlib
            import io
            with contextlib.redirect_stdout(io.StringIO()):
                export(name, tmp)
            specs = [(s, r) for s, r, *_ in [(*sp,) for sp in MODELS[name][3]]]
            models.append((name, os.path.join(tmp, name, "model.onnx"), specs))
        print(f"{'model / spec':<44} {'naive arena':>12} {'scheduled':>12} "
              f"{'lower bound':>12} {'eff.':>6} {'gain':>6} {'plan ms':>8}")
        for title, path, specs in models:
            print(title)
            for spec, rules in specs:
                naive, _, _ = plan(a.motec, path, rules, False)
                arena, bound, ms = plan(a.motec, path, rules, True)
                print(f"  {spec:<42} {naive:>12,} {arena:>12,} {bound:>12,} "
                      f"{bound / arena:>6.3f} {naive / arena:>5.2f}x {ms:>8.1f}")


if __name__ == "__main__":
    main()
