#!/usr/bin/python3
"""Tiny-model benchmark: the memory of a training step on the four MLPerf
Tiny v1.0 reference architectures, f32 and int8.

usage: tools/bench/tiny.py [--motec build/bin/motec]

Defines in PyTorch the four reference models of MLPerf Tiny v1.0 (random
weights, fixed seeds, BatchNorm folded into the layer before it):

  resnet8      image classification, CIFAR-10, input 1x3x32x32
  ds_cnn       keyword spotting, input 1x1x49x10 (MFCC), 12 classes
  mobilenet    visual wake words, MobileNetV1 width 0.25, 1x3x96x96, 2 classes
  autoencoder  anomaly detection, fully connected, input 1x640, trained with
               MSE against its input (--loss mse)

exports each to ONNX (opset 13, eval mode) and runs `motec plan` on it:
inference (--infer), and a training step that trains the biases and the
last layer (--update '*.bias' --update '<last layer>.*'), once with every
memory technique and once with --no-pack-masks --no-stream; each in f32 and
in int8 (--quantize int8, calibrated on 16 random normal samples).

Prints one table (KB = 1024 bytes): the inference arena, the training
arena, whether it fits in 64 KB, the training arena without 1-bit masks and
streaming, the graph input (read from the caller's buffer, not the arena),
the flash (kernel tables included), the bytes of the 1-bit masks, and the
MACs the streamed chains recompute; then the --update rules of each model.
A key the report of the motec binary lacks prints as "-". A table of
figures, not a test: it exits non-zero only when a motec command fails
(after printing the command and its stderr); the cells of a failed run
print "error" and the error's first line follows the row.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

GOAL_BYTES = 64 * 1024


def conv_bn_relu(cin, cout, k, stride=1, padding=None, groups=1):
    """Conv2d (no bias: folding the BatchNorm gives it one) + BN + ReLU as
    one Sequential, the shape train_oracle's fold_batchnorm folds."""
    if padding is None:
        padding = k // 2
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, padding, groups=groups, bias=False),
        nn.BatchNorm2d(cout), nn.ReLU())


class ResidualBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the input (or its 1x1 convolution
    with the block's stride when the shape changes), then ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        # The reference's projection shortcut is a plain 1x1 convolution.
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride)
                         if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


class ResNet8(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = conv_bn_relu(3, 16, 3)
        self.stage1 = ResidualBlock(16, 16, 1)
        self.stage2 = ResidualBlock(16, 32, 2)
        self.stage3 = ResidualBlock(32, 64, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def depthwise_separable(cin, cout, stride=1):
    """dw3x3 + BN + ReLU, pw1x1 + BN + ReLU."""
    return nn.Sequential(conv_bn_relu(cin, cin, 3, stride, groups=cin),
                         conv_bn_relu(cin, cout, 1))


class DSCNN(nn.Module):
    def __init__(self, classes=12, filters=64):
        super().__init__()
        # 10x4 stride 2 on 49x10 with padding (5, 1): 25x5, as the
        # reference's 'same' padding.
        self.stem = conv_bn_relu(1, filters, (10, 4), 2, padding=(5, 1))
        self.blocks = nn.Sequential(
            *[depthwise_separable(filters, filters) for _ in range(4)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(filters, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class MobileNetV1(nn.Module):
    """MobileNetV1 at width 0.25: the 13 depthwise-separable blocks."""
    BLOCKS = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1),
              (128, 1), (128, 1), (128, 1), (128, 1), (256, 2), (256, 1)]

    def __init__(self, classes=2):
        super().__init__()
        self.stem = conv_bn_relu(3, 8, 3, 2)
        layers, cin = [], 8
        for cout, stride in self.BLOCKS:
            layers.append(depthwise_separable(cin, cout, stride))
            cin = cout
        self.blocks = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class AutoEncoder(nn.Module):
    """640 -> 4 x (Linear 128, BN, ReLU) -> Linear 8 (BN, ReLU) ->
    4 x (Linear 128, BN, ReLU) -> Linear 640. The BatchNorm1d layers fold
    into the Linear before them (fold_linear_batchnorm), as the convolutions'
    BatchNorm2d do."""

    def __init__(self, features=640, hidden=128, bottleneck=8):
        super().__init__()
        widths = ([features] + [hidden] * 4 + [bottleneck] + [hidden] * 4)
        layers = []
        for cin, cout in zip(widths, widths[1:]):
            layers += [nn.Linear(cin, cout), nn.BatchNorm1d(cout), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(hidden, features)

    def forward(self, x):
        return self.out(self.body(x))


def fold_linear_batchnorm(module):
    """Replaces every (Linear, BatchNorm1d) pair of a Sequential by one
    Linear, in place (train_oracle's fold_batchnorm does the convolutions)."""
    from torch.nn.utils.fusion import fuse_linear_bn_eval
    for child in module.children():
        fold_linear_batchnorm(child)
    if isinstance(module, nn.Sequential):
        items = list(module._modules.items())
        for (na, a), (nb, b) in zip(items, items[1:]):
            if isinstance(a, nn.Linear) and isinstance(b, nn.BatchNorm1d):
                module._modules[na] = fuse_linear_bn_eval(a, b)
                module._modules[nb] = nn.Identity()


def randomize_batchnorm1d(model, gen):
    """train_oracle's randomize_batchnorm, for BatchNorm1d."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)


# (name, constructor, input shape, last layer, extra training options)
MODELS = [
    ("resnet8", ResNet8, [1, 3, 32, 32], "fc", []),
    ("ds_cnn", DSCNN, [1, 1, 49, 10], "fc", []),
    ("mobilenet", MobileNetV1, [1, 3, 96, 96], "fc", []),
    # The target is the input itself; for plan only the loss matters (MSE
    # adds a float 'label' input of the output's shape).
    ("autoencoder", AutoEncoder, [1, 640], "out", ["--loss", "mse"]),
]


def update_rules(last):
    return ["*.bias", f"{last}.*"]


def export(ctor, shape, path, seed):
    from train_oracle import fold_batchnorm, randomize_batchnorm
    torch.manual_seed(seed)
    m = ctor().eval()
    gen = torch.Generator().manual_seed(seed)
    randomize_batchnorm(m, gen)
    randomize_batchnorm1d(m, gen)
    with torch.no_grad():
        fold_batchnorm(m)
        fold_linear_batchnorm(m)
    left = [n for n, x in m.named_modules()
            if isinstance(x, (nn.BatchNorm1d, nn.BatchNorm2d))]
    if left:
        sys.exit(f"error: BatchNorm not folded in {ctor.__name__}: {left}")
    torch.onnx.export(m, torch.randn(shape), path, opset_version=13,
                      input_names=["input"], output_names=["output"],
                      do_constant_folding=False)


def write_calibration(path, shape, seed):
    from onnx import numpy_helper
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(
            rng.standard_normal([16] + shape[1:]).astype(np.float32),
            "input").SerializeToString())


class Failure(Exception):
    def __init__(self, cmd, stderr):
        super().__init__(stderr)
        self.cmd, self.stderr = cmd, stderr

    def first_line(self):
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        return lines[0] if lines else "failed"


def plan(motec, model, args, tmp):
    """The report.json of `motec plan model args...` as a dict."""
    rep = os.path.join(tmp, "report.json")
    if os.path.exists(rep):
        os.remove(rep)
    cmd = [motec, "plan", model, "--report", rep] + args
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(cmd, r.stderr or r.stdout)
    with open(rep) as f:
        return json.load(f)


# A run that failed: its cells print "error" (a key missing prints "-").
FAILED = "error"


def get(report, *keys):
    """report[k0][k1]..., None when the binary's report lacks it, FAILED
    when the run failed."""
    if report is FAILED:
        return FAILED
    for k in keys:
        if not isinstance(report, dict) or k not in report:
            return None
        report = report[k]
    return report


def cell(v, fmt):
    """fmt(v), or "-" for a missing key and "error" for a failed run."""
    if v is None:
        return "-"
    return FAILED if v is FAILED else fmt(v)


def kb(n):
    return cell(n, lambda n: f"{n / 1024:.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--motec", default=os.path.join(ROOT, "build", "bin", "motec"))
    a = ap.parse_args()

    if not os.access(a.motec, os.X_OK):
        sys.exit(f"error: no motec binary at {a.motec} (build it, or pass --motec)")
    helptext = subprocess.run([a.motec, "plan", "--help"], capture_output=True,
                              text=True)
    helptext = helptext.stdout + helptext.stderr
    off = ["--no-pack-masks"]
    if "--no-stream" in helptext:
        off.append("--no-stream")

    failures = []
    header = (f"{'model':<12} {'prec':<5} {'infer KB':>9} {'train KB':>9} "
              f"{'<=64KB':>6} {'no masks/stream':>16} {'input KB':>9} "
              f"{'flash KB':>9} {'masks KB':>9} {'extra MACs':>11}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed, (name, ctor, shape, last, train_opts) in enumerate(MODELS):
            path = os.path.join(tmp, f"{name}.onnx")
            export(ctor, shape, path, seed)
            cal = os.path.join(tmp, f"{name}.calibration.pb")
            write_calibration(cal, shape, seed)
            train = (["--train"] + train_opts +
                     [x for r in update_rules(last) for x in ("--update", r)])
            for prec, quant in (("f32", []),
                                ("int8", ["--quantize", "int8", "--calibration", cal])):
                runs, errors = {}, []
                for run, args in (("infer", ["--infer"] + quant),
                                  ("train", train + quant),
                                  ("no masks/stream", train + quant + off)):
                    try:
                        runs[run] = plan(a.motec, path, args, tmp)
                    except Failure as e:
                        failures.append(e)
                        errors.append(f"{run}: {e.first_line()}")
                        runs[run] = FAILED
                infer, full, bare = (runs["infer"], runs["train"],
                                     runs["no masks/stream"])
                arena = get(full, "arena_bytes")
                flash, tables = get(full, "flash_bytes"), get(full, "flash_tables_bytes")
                rows.append(
                    f"{name:<12} {prec:<5} {kb(get(infer, 'arena_bytes')):>9} "
                    f"{kb(arena):>9} "
                    f"{cell(arena, lambda n: 'yes' if n <= GOAL_BYTES else 'no'):>6} "
                    f"{kb(get(bare, 'arena_bytes')):>16} "
                    f"{kb(get(full, 'caller_input_bytes')):>9} "
                    f"{cell(flash, lambda n: kb(n + (tables or 0))):>9} "
                    f"{kb(get(full, 'masks', 'mask_bytes')):>9} "
                    f"{cell(get(full, 'streaming', 'extra_macs'), '{:,}'.format):>11}")
                rows += [f"  error ({e})" for e in errors]

    print("MLPerf Tiny v1.0 reference models, training the biases and the last layer"
          " (KB = 1024 bytes)")
    print("  infer: --infer; train: every memory technique (1-bit masks, streaming,"
          " inputs read from the caller's buffer)")
    print(f"  <=64KB: the training arena against the 64 KB goal; no masks/stream: "
          f"the training arena with {' '.join(off)}")
    print("  input: the graph input (caller's buffer); flash: kernel tables included;"
          " masks: the 1-bit masks saved; extra MACs: recomputed by streaming")
    if "--no-stream" not in off:
        print("  (this motec has no --no-stream: 'no masks/stream' turns off the"
              " masks only)")
    print()
    print(header)
    for row in rows:
        print(row)
    print()
    print("--update rules (in order):")
    for name, _, _, last, train_opts in MODELS:
        print(f"  {name:<12} " + " ".join(f"--update '{r}'" for r in update_rules(last)) +
              ("" if not train_opts else " " + " ".join(train_opts)))
    for e in failures:
        print(file=sys.stderr)
        print("error: command failed: " + " ".join(e.cmd), file=sys.stderr)
        print(e.stderr.rstrip(), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
