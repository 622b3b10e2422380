#!/usr/bin/python3
"""PyTorch as the oracle for mote's training graph.

For each test model and update spec, this script exports the model to ONNX,
runs STEPS training steps in PyTorch on a fixed batch, and writes what mote
must reproduce:

  OUT/<model>/model.onnx            the exported model (BatchNorm folded in
                                    PyTorch first, so both sides train the
                                    same parameters)
  OUT/<model>/input.pb, label.pb    the batch (ONNX TensorProto)
  OUT/<model>/<spec>/spec.json      motec flags: update rules, optimizer, lr
  OUT/<model>/<spec>/expected/      loss.pb (one value per step) and every
                                    trainable parameter after the last step

Partial-channel specs train the first ceil(r * C) output channels: the
PyTorch side masks the other rows of the gradient. Micro-batch specs
(--accumulate N) sum gradient / N over N steps and update at every N-th.

usage: train_oracle.py OUTDIR [MODEL ...]
"""
import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 3


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 16)
        self.fc3 = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class CNN(nn.Module):
    """LeNet-style."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = F.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))


class Block(nn.Module):
    """One pre-norm transformer encoder block with a classifier head."""

    def __init__(self, d=32, heads=2, seq=8, classes=5):
        super().__init__()
        self.d, self.heads, self.seq = d, heads, seq
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 2 * d)
        self.fc2 = nn.Linear(2 * d, d)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        b, s, d, h = x.shape[0], self.seq, self.d, self.heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q = q.reshape(b, s, h, d // h).transpose(1, 2)
        k = k.reshape(b, s, h, d // h).transpose(1, 2)
        v = v.reshape(b, s, h, d // h).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.proj(y)
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        return self.head(x.mean(dim=1))


def kws():
    sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "kws"))
    import make_kws
    return make_kws.KWS()


def mobilenet():
    import torchvision
    return torchvision.models.mobilenet_v2(width_mult=0.35, weights=None, num_classes=10)


# name: (constructor, input shape, classes, specs)
# A spec is (name, [update rules]); [] is the full update.
MODELS = {
    "mlp": (MLP, [2, 64], 10, [
        ("full", []), ("bias", ["*.bias"]), ("last2", ["fc2.*", "fc3.*"]),
        ("channels", ["fc2.*:0.5", "fc3.*"])]),
    "cnn": (CNN, [2, 1, 28, 28], 10, [
        ("full", []), ("bias", ["*.bias"]), ("last2", ["fc1.*", "fc2.*"]),
        ("channels", ["conv2.*:0.5", "fc1.*:0.25", "fc2.*"])]),
    "kws": (kws, [2, 1, 49, 10], 12, [
        ("full", []), ("bias", ["*.bias"]),
        ("last2", ["blocks.1.pw.*", "classifier.*"]),
        ("channels", ["blocks.1.dw.*:0.5", "blocks.1.pw.*:0.25", "classifier.*"])]),
    "mobilenet_v2_w035": (mobilenet, [1, 3, 64, 64], 10, [
        ("full", []), ("bias", ["*.bias"]),
        ("last2", ["features.18.*", "classifier.*"]),
        ("channels", ["*.bias", "features.16.*:0.25", "features.17.*:0.5",
                      "classifier.*"])]),
    "transformer": (Block, [2, 8, 32], 5, [
        ("full", []), ("bias", ["*.bias"]), ("last2", ["fc2.*", "head.*"]),
        ("channels", ["fc1.*:0.5", "head.*"])]),
}

# Optimizer variants: (spec name, update rules, optimizer) per model. On the
# CNN they go through the conv weight-gradient kernels that apply the
# update themselves (ConvGradWeightMomentum / Adam), a channel slice too.
OPTIMIZER_SPECS = {
    "mlp": [("momentum", [], "momentum"), ("adam", [], "adam")],
    "cnn": [("momentum_channels", ["conv2.*:0.5", "fc1.*:0.25", "fc2.*"],
             "momentum"),
            ("adam", [], "adam")],
}
# Micro-batches (--accumulate N): (spec name, update rules, optimizer, N)
# per model, run for 2 N steps (two updates, each of the mean of N
# gradients; the count restarts between them).
ACCUMULATE_SPECS = {
    "mlp": [("accumulate", [], "sgd", 2), ("accumulate_adam", [], "adam", 2)],
    "cnn": [("accumulate_momentum_channels",
             ["conv2.*:0.5", "fc1.*:0.25", "fc2.*"], "momentum", 3)],
}
LR = 0.05


def fold_batchnorm(module):
    """Replaces every (Conv2d, BatchNorm2d) pair in a Sequential or a module
    with attributes named conv/bn by one Conv2d with bias, in place."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    for name, child in list(module.named_children()):
        fold_batchnorm(child)
    if isinstance(module, nn.Sequential):
        items = list(module._modules.items())
        for (na, a), (nb, b) in zip(items, items[1:]):
            if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                module._modules[na] = fuse_conv_bn_eval(a, b)
                module._modules[nb] = nn.Identity()
    # The KWS blocks name their pairs dw/bn1, pw/bn2.
    for conv_name, bn_name in (("dw", "bn1"), ("pw", "bn2")):
        conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
            setattr(module, bn_name, nn.Identity())


def randomize_batchnorm(model, gen):
    """Fresh BatchNorms are identities; give them statistics so folding
    matters and no two folded parameters are equal."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)


def save_pb(tensor, name, path):
    arr = tensor.detach().cpu().numpy()
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def channel_axis(model, pname):
    """Output-channel axis: dim 0 for conv and linear weights and biases."""
    return 0


def match(rules, name):
    import fnmatch
    chosen = None
    for r in rules:
        pat, _, ratio = r.rpartition(":")
        try:
            ratio = float(ratio)
        except ValueError:
            pat, ratio = r, 1.0
        if not pat:
            pat, ratio = r, 1.0
        if fnmatch.fnmatchcase(name, pat):
            chosen = ratio
    return chosen


def train(model, x, label, rules, optimizer, accumulate=1, steps=STEPS):
    params = dict(model.named_parameters())
    trainable = {}
    for name, p in params.items():
        ratio = match(rules, name) if rules else 1.0
        if ratio is None:
            continue
        c = p.shape[channel_axis(model, name)]
        k = max(1, math.ceil(ratio * c - 1e-9))
        trainable[name] = k
    state = {n: {} for n in trainable}
    summed = {n: torch.zeros_like(params[n]) for n in trainable}
    losses = []
    update = 0
    for step in range(1, steps + 1):
        model.zero_grad()
        loss = F.cross_entropy(model(x), label)
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for name in trainable:
                summed[name] += params[name].grad / accumulate
        if step % accumulate:
            continue
        update += 1
        with torch.no_grad():
            for name, k in trainable.items():
                p = params[name]
                g = summed[name].clone()
                summed[name].zero_()
                g[k:] = 0
                mask = torch.zeros_like(p)
                mask[:k] = 1
                if optimizer == "sgd":
                    p -= LR * g
                elif optimizer == "momentum":
                    # ONNX Momentum, alpha 0.9, beta 1: v = 0.9 v + g; x -= lr v
                    v = state[name].get("v", torch.zeros_like(p))
                    v = torch.where(mask.bool(), 0.9 * v + g, v)
                    state[name]["v"] = v
                    p -= LR * v * mask
                else:
                    # ONNX Adam (alpha 0.9, beta 0.999, epsilon 1e-8) with the
                    # step count T = step (bias correction from the first step).
                    m = state[name].get("m", torch.zeros_like(p))
                    h = state[name].get("h", torch.zeros_like(p))
                    m = torch.where(mask.bool(), 0.9 * m + 0.1 * g, m)
                    h = torch.where(mask.bool(), 0.999 * h + 0.001 * g * g, h)
                    state[name]["m"], state[name]["h"] = m, h
                    r = LR * math.sqrt(1 - 0.999 ** update) / (1 - 0.9 ** update)
                    p -= r * m / (torch.sqrt(h) + 1e-8) * mask
    return losses, {n: params[n].detach().clone() for n in trainable}


def export(name, out):
    ctor, shape, classes, specs = MODELS[name]
    gen = torch.Generator().manual_seed(1234)
    torch.manual_seed(7)
    model = ctor()
    randomize_batchnorm(model, gen)
    model.eval()
    with torch.no_grad():
        fold_batchnorm(model)
    x = torch.randn(*shape, generator=gen)
    label = torch.randint(0, classes, (shape[0],), generator=gen)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    # Constant folding would fold Transpose(weight) of a Linear on a 3-D
    # input into a new, renamed initializer; without it every parameter
    # keeps its PyTorch name (mote folds the remaining constants itself).
    torch.onnx.export(model, x, os.path.join(d, "model.onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      do_constant_folding=False)
    save_pb(x, "input", os.path.join(d, "input.pb"))
    save_pb(label, "label", os.path.join(d, "label.pb"))
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    runs = [(s, rules, "sgd", 1) for s, rules in specs]
    runs += [r + (1,) for r in OPTIMIZER_SPECS.get(name, [])]
    runs += ACCUMULATE_SPECS.get(name, [])
    for spec, rules, opt, accumulate in runs:
        model.load_state_dict(initial)
        steps = STEPS if accumulate == 1 else 2 * accumulate
        losses, trained = train(model, x, label, rules, opt, accumulate,
                                steps)
        sd = os.path.join(d, spec)
        ed = os.path.join(sd, "expected")
        os.makedirs(ed, exist_ok=True)
        save_pb(torch.tensor(losses, dtype=torch.float32), "loss", os.path.join(ed, "loss.pb"))
        for pname, t in trained.items():
            save_pb(t, pname, os.path.join(ed, pname + ".pb"))
        with open(os.path.join(sd, "spec.json"), "w") as f:
            json.dump({"update": rules, "optimizer": opt, "lr": LR, "steps": steps,
                       "accumulate": accumulate,
                       "trainable": sorted(trained)}, f, indent=1)
        print(f"{name}/{spec}: {len(trained)} trainable, losses {['%.5f' % l for l in losses]}")


def main():
    out = sys.argv[1]
    for name in sys.argv[2:] or list(MODELS):
        export(name, out)


if __name__ == "__main__":
    main()
