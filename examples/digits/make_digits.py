#!/usr/bin/python3
"""The transfer-learning example: a small CNN for 8x8 handwritten digits,
pre-trained on the host on the digits 0-4 only, to be adapted on the device
to the digits 5-9.

Data: the 1,797 8x8 digit images bundled with scikit-learn (Debian's
python3-sklearn, sklearn.datasets.load_digits), pixel values 0..16 scaled to
0..1. A fixed, seeded split per class: 60% for training (pre-training for
0-4, on-device adaptation for 5-9) and 40% held out for testing.

usage:
  make_digits.py model OUT.onnx    pre-train (PyTorch, CPU, seeded) and export
                                   the ONNX model (opset 13, batch 10, eval)
  make_digits.py data DIR          write the device's data files:
                                   adapt_x.bin / adapt_y.bin  (digits 5-9, train split,
                                     and 10 kept images of each of 0-4)
                                   test_x.bin / test_y.bin    (all digits, held out)
                                   counts.bin (int32: the two image counts)
                                   calibration.pb (TensorProto: 100 training
                                     images of the digits 0-4, what the
                                     deployed model has seen, for
                                     motec --quantize int8 --calibration)
                                   x: float32 [N, 1, 8, 8], y: int32 [N];
                                   N is a multiple of the batch (10)

The network: conv1 (1->8, 3x3, pad 1) + ReLU, conv2 (8->16, 3x3, stride 2,
pad 1) + ReLU, flatten, classifier (256 -> 10). Its classifier rows for
5-9 never see a positive example in pre-training, so on those digits it
starts near 0% accuracy.
"""
import os
import sys

import numpy as np
import torch
from torch import nn

BATCH = 10
SEED = 5
KEEP_OLD = 10  # images per old digit kept on the device for rehearsal


def split():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int32)
    rng = np.random.default_rng(SEED)
    train, test = [], []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        cut = int(round(0.6 * len(idx)))
        train.append(idx[:cut])
        test.append(idx[cut:])
    return x, y, train, test


def batches(idx, rng):
    """idx shuffled and cut to a multiple of the batch."""
    idx = np.array(idx)
    rng.shuffle(idx)
    return idx[: len(idx) // BATCH * BATCH]


class Digits(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.classifier = nn.Linear(256, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.classifier(torch.flatten(x, 1))


def make_model(out):
    torch.manual_seed(SEED)
    x, y, train, test = split()
    old = np.concatenate(train[:5])
    net = Digits()
    opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9)
    rng = np.random.default_rng(SEED)
    for epoch in range(30):
        idx = batches(old, rng)
        for b in range(0, len(idx), BATCH):
            j = idx[b:b + BATCH]
            loss = nn.functional.cross_entropy(net(torch.from_numpy(x[j])),
                                               torch.from_numpy(y[j]).long())
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        for name, classes in (("0-4", range(5)), ("5-9", range(5, 10))):
            j = np.concatenate([test[c] for c in classes])
            acc = (net(torch.from_numpy(x[j])).argmax(1).numpy() == y[j]).mean()
            print(f"pre-trained, held-out accuracy on {name}: {acc:.3f}")
    torch.onnx.export(net, torch.zeros(BATCH, 1, 8, 8), out, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      do_constant_folding=True)
    print(f"wrote {out}")


def write_data(d):
    x, y, train, test = split()
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(SEED + 1)
    # The device keeps a few examples of each old digit (rehearsal), so
    # adapting to the new ones does not erase the old ones.
    keep = [train[c][:KEEP_OLD] for c in range(5)]
    adapt = batches(np.concatenate(train[5:] + keep), rng)
    held = batches(np.concatenate(test), rng)
    for name, idx in (("adapt", adapt), ("test", held)):
        x[idx].tofile(os.path.join(d, f"{name}_x.bin"))
        y[idx].tofile(os.path.join(d, f"{name}_y.bin"))
    np.array([len(adapt), len(held)], np.int32).tofile(os.path.join(d, "counts.bin"))
    from onnx import numpy_helper
    cal = np.concatenate(train[:5])[::5][:100]
    with open(os.path.join(d, "calibration.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x[cal], "input").SerializeToString())
    print(f"{len(adapt)} adaptation images (the digits 5-9 and {KEEP_OLD} kept "
          f"images of each of 0-4), {len(held)} held-out test images (all "
          f"digits) in {d}")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("model", "data"):
        sys.exit(__doc__)
    if sys.argv[1] == "model":
        make_model(sys.argv[2])
    else:
        write_data(sys.argv[2])


if __name__ == "__main__":
    main()
