#!/usr/bin/python3
"""Quantization benchmark: what --quantize int8 buys and costs, measured.

usage: tools/bench/quant.py [--motec build/bin/motec] [--res 128]
                            [--no-icount] [--targets cortex-m4,...]

For each model, inference compiled in f32 and with --quantize int8
(calibration: the digits training split for the digits model, 16 normal
samples for the others): arena and flash bytes, and the instructions per
MAC of one inference on each of --targets (qemu's instruction count,
deterministic; the int8 kernels of runtime-stub/mote_rt/qlinear.h: SMLAD
on the Cortex-M4, Helium on the M55, NEON on AArch64). Then the accuracy of the digits
model (pre-trained on the digits 0-4, examples/digits) on its held-out
images of those digits, f32 against int8, on the interpreter. A table of
figures, not a test.

Models: torchvision's mobilenet_v2 (width 0.35, BatchNorm folded, random
weights) at --res, 10 classes; the keyword-spotting CNN and the digits CNN
of examples/.

Last, the training step of TTE's "99kb" sparse update of that mobilenet_v2
(Lin et al., "On-Device Training Under 256KB Memory"; the rules are
TTE_99KB below), f32 against --quantize int8 (int8 forward, float
backward, QAS updates of the int8 weights): arena and flash bytes, and the
instructions of one training step on the emulated Cortex-M7.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))


# TTE's 99kb scheme on torchvision's mobilenet_v2: the biases of the last
# 25 conv/linear layers (features.10.conv.1.0 to classifier.1), the weights
# of the expand convs of blocks 10-17 (15 at 1/8 of its channels, 16 at
# 1/2) and the classifier's.
TTE_99KB = (["features.10.conv.1.0.bias", "features.10.conv.2.bias"] +
            [f"features.{b}.conv.*.bias" for b in range(11, 18)] +
            ["features.18.0.bias", "classifier.1.bias"] +
            [f"features.{b}.conv.0.0.weight" for b in (10, 11, 12, 13, 14, 17)] +
            ["features.15.conv.0.0.weight:0.125",
             "features.16.conv.0.0.weight:0.5", "classifier.1.weight"])


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def save_pb(path, array, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array, name).SerializeToString())


def input_of(model):
    g = onnx.load(model).graph
    inits = {i.name for i in g.initializer}
    i = [v for v in g.input if v.name not in inits][0]
    return i.name, [d.dim_value for d in i.type.tensor_type.shape.dim]


def plan(motec, model, quant, mode=("--infer",)):
    out = run([motec, "plan", model, *mode] + quant)
    arena = int(re.search(r"arena: (\d+) bytes", out).group(1))
    flash = int(re.search(r"flash: (\d+) bytes", out).group(1))
    return arena, flash


def macs(motec, model, quant):
    out = run([motec, "inspect", model] + quant)
    return int(re.search(r"total MACs: ([\d,]+)", out).group(1).replace(",", ""))


def icount(motec, model, quant, feed, target="cortex-m4"):
    out = run([motec, "run", model, "--infer", "--engine", "generated",
               "--target", target, "--count-instructions",
               "--input", feed] + quant)
    return int(re.search(r"instructions per inference: (\d+)", out).group(1))


def train_icount(motec, model, args, feeds):
    out = run([motec, "run", model, *args, "--engine", "generated",
               "--target", "cortex-m7", "--count-instructions"] +
              [a for f in feeds for a in ("--input", f)])
    return int(re.search(r"instructions per training step: (\d+)", out).group(1))


def digits_accuracy(motec, model, quant, x, y, tmp):
    """Accuracy of the model on images x (batches of 10) against labels y."""
    right = 0
    for b in range(0, len(x), 10):
        feed = os.path.join(tmp, "batch.pb")
        save_pb(feed, x[b:b + 10], "input")
        out = os.path.join(tmp, "out")
        run([motec, "run", model, "--infer", "--engine", "interp",
             "--input", f"input={feed}", "--dump", out] + quant)
        logits = numpy_helper.to_array(onnx.load_tensor(os.path.join(out, "logits.pb")))
        right += int((logits.argmax(1) == y[b:b + 10]).sum())
    return right / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--motec", default=os.path.join(ROOT, "build", "bin", "motec"))
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--no-icount", action="store_true",
                    help="skip the instruction counts")
    ap.add_argument("--targets", default="cortex-m4,cortex-m55,aarch64",
                    help="where inference instructions are counted")
    a = ap.parse_args()
    from memory import export_mobilenet
    with tempfile.TemporaryDirectory() as tmp:
        mb = os.path.join(tmp, "mobilenet.onnx")
        export_mobilenet(mb, a.res, 10)
        data = os.path.join(tmp, "digits")
        os.makedirs(data)
        run([sys.executable, os.path.join(ROOT, "examples", "digits", "make_digits.py"),
             "data", data])
        counts = np.fromfile(os.path.join(data, "counts.bin"), np.int32)
        adapt_x = np.fromfile(os.path.join(data, "adapt_x.bin"), np.float32).reshape(-1, 1, 8, 8)
        test_x = np.fromfile(os.path.join(data, "test_x.bin"), np.float32).reshape(-1, 1, 8, 8)
        test_y = np.fromfile(os.path.join(data, "test_y.bin"), np.int32)
        assert len(adapt_x) == counts[0] and len(test_x) == counts[1]

        models = [(f"mobilenet_v2_w035 {a.res}x{a.res}", mb),
                  ("kws", os.path.join(ROOT, "examples", "kws", "kws.onnx")),
                  ("digits", os.path.join(ROOT, "examples", "digits", "digits.onnx"))]
        rng = np.random.default_rng(0)
        targets = a.targets.split(",")
        print(f"{'model':<26} {'':>5} {'arena B':>9} {'flash B':>9} {'MACs':>10}" +
              "".join(f" {t + ' instr/MAC':>20}" for t in targets))
        for title, model in models:
            name, dims = input_of(model)
            cal = os.path.join(tmp, title.split()[0] + ".cal.pb")
            if title == "digits":
                save_pb(cal, adapt_x, name)
            else:
                save_pb(cal, rng.standard_normal([16] + dims[1:]).astype(np.float32), name)
            feed = os.path.join(tmp, title.split()[0] + ".in.pb")
            save_pb(feed, rng.standard_normal(dims).astype(np.float32), name)
            for label, quant in (("f32", []),
                                 ("int8", ["--quantize", "int8", "--calibration", cal])):
                arena, flash = plan(a.motec, model, quant)
                n = macs(a.motec, model, quant)
                per = []
                for t in targets:
                    if a.no_icount:
                        per.append("-")
                        continue
                    i = icount(a.motec, model, quant, f"{name}={feed}", t)
                    per.append(f"{i / n:.2f}")
                print(f"{title if label == 'f32' else '':<26} {label:>5} {arena:>9,} "
                      f"{flash:>9,} {n:>10,}" + "".join(f" {p:>20}" for p in per))

        digits = os.path.join(ROOT, "examples", "digits", "digits.onnx")
        cal = os.path.join(tmp, "digits.cal.pb")
        old = test_y < 5
        x, y = test_x[old], test_y[old]
        keep = len(x) // 10 * 10
        x, y = x[:keep], y[:keep]
        print()
        print(f"digits model (pre-trained on 0-4), {keep} held-out images of 0-4:")
        for label, quant in (("f32", []),
                             ("int8", ["--quantize", "int8", "--calibration", cal])):
            acc = digits_accuracy(a.motec, digits, quant, x, y, tmp)
            print(f"  {label:>5} accuracy {acc * 100:.1f}%")

        name, dims = input_of(mb)
        cal = os.path.join(tmp, "mobilenet_v2_w035.cal.pb")
        feed = os.path.join(tmp, "mobilenet_v2_w035.in.pb")
        label = os.path.join(tmp, "label.pb")
        save_pb(label, np.array([3], np.int32), "label")
        train = ["--train"] + [a for r in TTE_99KB for a in ("--update", r)]
        print()
        print(f"training step, TTE's 99kb scheme, mobilenet_v2_w035 {a.res}x{a.res}:")
        print(f"  {'':>5} {'arena B':>9} {'flash B':>9} {'M7 instr/step':>14}")
        for label_, quant in (("f32", []),
                              ("int8", ["--quantize", "int8", "--calibration", cal])):
            arena, flash = plan(a.motec, mb, quant, train)
            ins = "-"
            if not a.no_icount:
                feeds = [f"{name}={feed}", f"label={label}"]
                ins = f"{train_icount(a.motec, mb, train + quant, feeds):,}"
            print(f"  {label_:>5} {arena:>9,} {flash:>9,} {ins:>14}")


if __name__ == "__main__":
    main()
