#!/usr/bin/python3
"""Memory benchmark: arena of the training step per update spec, with and
without the schedule pass, against the liveness lower bound.

usage: tools/bench/memory.py [--motec build/bin/motec] [--res 128] [--classes 10]
                             [--repeat 3]

Exports torchvision's mobilenet_v2 (width 0.35, BatchNorm folded) at the
given resolution, plus the test models of tests/models/train_oracle.py, and
prints for each model a row per update spec, order (naive: all gradients,
then all updates; reordered: the schedule pass) and fusion (the fuse pass,
or --no-fuse: every weight gradient stored): arena, liveness lower
bound, efficiency (lower bound / arena), flash bytes, the arena against the
full update in the naive order, and the planner's time as `motec plan`
reports it (the least of --repeat runs; the arena must not change between
them). A table of figures, not a test.

The sparse spec of mobilenet_v2 follows the shape of TTE's sparse update
for MobileNetV2 (Lin et al., "On-Device Training Under 256KB Memory"):
every bias, no depthwise weight, and the weights of the 1x1 convolutions of
the last blocks with a channel ratio growing towards the classifier. The
rules are printed with the table; the last matching rule decides a
parameter's ratio, so '*.bias' comes last to train every bias whole.
"""
import argparse
import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))

MOBILENET_SPARSE = [
    "features.13.conv.0.0.weight:0.125", "features.14.conv.0.0.weight:0.125",
    "features.15.conv.0.0.weight:0.25", "features.16.conv.0.0.weight:0.25",
    "features.16.conv.2.weight:0.25", "features.17.conv.0.0.weight:0.5",
    "features.17.conv.2.weight:0.5", "features.18.0.weight:0.25",
    "classifier.*", "*.bias",
]

# The same weights with the biases of the last seven blocks only: backward
# then stops at block 12 instead of running through the whole network (TTE
# also updates biases of the later blocks only).
MOBILENET_SPARSE_LATE = MOBILENET_SPARSE[:-1] + ["features.1[2-8].*.bias"]

# (row label, update rules or None for the model's sparse spec, reorder,
# fuse)
ROWS = [
    ("full, no reorder, no fuse", [], False, False),
    ("full + reorder, no fuse", [], True, False),
    ("full + reorder + fuse", [], True, True),
    ("bias-only + reorder + fuse", ["*.bias"], True, True),
    ("sparse, no reorder, no fuse", None, False, False),
    ("sparse + reorder, no fuse", None, True, False),
    ("sparse + reorder + fuse", None, True, True),
]


def plan(motec, model, rules, reorder, fuse, repeat):
    cmd = [motec, "plan", model, "--train"] + [a for r in rules for a in ("--update", r)]
    if not reorder:
        cmd.append("--no-reorder")
    if not fuse:
        cmd.append("--no-fuse")
    figures, times = set(), []
    for _ in range(repeat):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        arena, bound = map(int, re.search(r"arena: (\d+) bytes \(lower bound (\d+)",
                                          out).groups())
        flash = int(re.search(r"flash: (\d+) bytes", out).group(1))
        figures.add((arena, bound, flash))
        times.append(float(re.search(r"in ([\d.]+) ms", out).group(1)))
    if len(figures) > 1:
        sys.exit(f"error: {' '.join(cmd)} planned differently between runs: {figures}")
    return (*figures.pop(), min(times))


def export_mobilenet(path, res, classes):
    import torch
    import torchvision
    from train_oracle import fold_batchnorm, randomize_batchnorm
    m = torchvision.models.mobilenet_v2(width_mult=0.35, weights=None,
                                        num_classes=classes).eval()
    randomize_batchnorm(m, torch.Generator().manual_seed(1))
    with torch.no_grad():
        fold_batchnorm(m)
    torch.onnx.export(m, torch.randn(1, 3, res, res), path, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      do_constant_folding=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--motec", default=os.path.join(ROOT, "build", "bin", "motec"))
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    from train_oracle import MODELS, export
    with tempfile.TemporaryDirectory() as tmp:
        mb = os.path.join(tmp, "mobilenet.onnx")
        export_mobilenet(mb, a.res, a.classes)
        title = f"mobilenet_v2_w035 {a.res}x{a.res}, {a.classes} classes"
        models = [(title, mb, "TTE-like", MOBILENET_SPARSE),
                  (title + ", late biases", mb, "TTE-like, late biases",
                   MOBILENET_SPARSE_LATE)]
        for name in ("mlp", "cnn", "kws", "transformer"):
            with contextlib.redirect_stdout(io.StringIO()):
                export(name, tmp)
            sparse = dict((s, r) for s, r in MODELS[name][3])["channels"]
            models.append((name, os.path.join(tmp, name, "model.onnx"),
                           "train_oracle 'channels'", sparse))

        print("sparse specs (--update rules, in order):")
        for title, _, kind, rules in models:
            print(f"  {title.split()[0]} ({kind}): " + " ".join(f"'{r}'" for r in rules))
        print("(the mobilenet rows with late biases repeat the full and bias rows)")
        print()
        print(f"{'model / spec':<32} {'arena KB':>10} {'bound KB':>10} {'eff.':>6} "
              f"{'flash KB':>10} {'vs full':>8} {'plan ms':>8}")
        for title, path, _, sparse in models:
            print(title)
            base = None
            for label, rules, reorder, fuse in ROWS:
                arena, bound, flash, ms = plan(a.motec, path,
                                               sparse if rules is None else rules,
                                               reorder, fuse, a.repeat)
                base = base or arena
                print(f"  {label:<30} {arena / 1024:>10.1f} {bound / 1024:>10.1f} "
                      f"{bound / arena:>6.3f} {flash / 1024:>10.1f} "
                      f"{arena / base:>7.2f}x {ms:>8.1f}")


if __name__ == "__main__":
    main()
