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

Last, TTE's three update schemes for that mobilenet_v2 (Lin et al., the
"49kb", "99kb" and "138kb" schemes; TTE_SCHEMES below), f32 and int8
(--quantize int8, int8 forward and float backward): the arena with every
memory technique (1-bit masks, streamed forward chains, the inputs read
from the caller's buffer) and with the masks and streaming turned off, the
bytes of the graph input, the MACs the streamed chains recompute, and the
flash.
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

# TTE's schemes on torchvision's names (the biases of the last N conv or
# linear layers, the listed weights, ":ratio" for a channel fraction).
TTE_SCHEMES = [
    ("49kb", ["features.13.conv.1.0.bias", "features.13.conv.2.bias"] +
     [f"features.{b}.conv.*.bias" for b in range(14, 18)] +
     ["features.18.0.bias", "classifier.1.bias",
      "features.13.conv.0.0.weight", "features.14.conv.0.0.weight",
      "features.14.conv.2.weight:0.25", "features.15.conv.0.0.weight:0.125",
      "features.16.conv.0.0.weight:0.125", "features.17.conv.0.0.weight:0.125",
      "features.17.conv.1.0.weight:0.125", "classifier.1.weight"]),
    ("99kb", ["features.10.conv.1.0.bias", "features.10.conv.2.bias"] +
     [f"features.{b}.conv.*.bias" for b in range(11, 18)] +
     ["features.18.0.bias", "classifier.1.bias"] +
     [f"features.{b}.conv.0.0.weight" for b in (10, 11, 12, 13, 14, 17)] +
     ["features.15.conv.0.0.weight:0.125", "features.16.conv.0.0.weight:0.5",
      "classifier.1.weight"]),
    ("138kb", ["features.7.conv.1.0.bias", "features.7.conv.2.bias"] +
     [f"features.{b}.conv.*.bias" for b in range(8, 18)] +
     ["features.18.0.bias", "classifier.1.bias"] +
     [f"features.{b}.conv.0.0.weight" for b in range(10, 18)] +
     ["classifier.1.weight"]),
]

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
        tte_schemes(a.motec, mb, a.res, tmp)


def scheme_plan(motec, model, rules, extra):
    """arena, caller input bytes, flash, extra MACs of one TTE scheme."""
    import json
    with tempfile.NamedTemporaryFile(suffix=".json") as rep:
        cmd = ([motec, "plan", model, "--train", "--report", rep.name] +
               [x for r in rules for x in ("--update", r)] + extra)
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        r = json.load(open(rep.name))
    return (r["arena_bytes"], r["caller_input_bytes"],
            r["flash_bytes"] + r["flash_tables_bytes"],
            r["streaming"]["extra_macs"])


def tte_schemes(motec, model, res, tmp):
    import numpy as np
    from onnx import numpy_helper
    cal = os.path.join(tmp, "calibration.pb")
    rng = np.random.default_rng(0)
    with open(cal, "wb") as f:
        f.write(numpy_helper.from_array(
            rng.standard_normal([16, 3, res, res]).astype(np.float32),
            "input").SerializeToString())
    print()
    print(f"TTE's update schemes, mobilenet_v2_w035 {res}x{res} (KB = 1024 bytes;"
          " input: the graph input, read from the caller's buffer):")
    print(f"  {'scheme':<7} {'':>5} {'arena KB':>9} {'no masks/stream':>16} "
          f"{'input KB':>9} {'extra MACs':>11} {'flash KB':>9}")
    for name, rules in TTE_SCHEMES:
        for label, quant in (("f32", []),
                             ("int8", ["--quantize", "int8", "--calibration", cal])):
            arena, inp, flash, extra = scheme_plan(motec, model, rules, quant)
            off, _, _, _ = scheme_plan(motec, model, rules,
                                       quant + ["--no-pack-masks", "--no-stream"])
            print(f"  {name:<7} {label:>5} {arena / 1024:>9.1f} {off / 1024:>16.1f} "
                  f"{inp / 1024:>9.1f} {extra:>11,} {flash / 1024:>9.1f}")
    print("  " + "; ".join(f"{n}: " + " ".join(f"'{r}'" for r in rs)
                           for n, rs in TTE_SCHEMES))


if __name__ == "__main__":
    main()
