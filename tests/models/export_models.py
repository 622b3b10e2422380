#!/usr/bin/python3
"""Exports the test models with PyTorch and records facts counted by PyTorch.

For each model NAME this writes OUTDIR/NAME.onnx and OUTDIR/NAME.json. The
JSON holds what an independent counter (forward hooks on torch modules) sees
when the model runs: the multiply-accumulates of every Conv2d and Linear and
their output shapes, in execution order. Tests compare motec's view of the
exported ONNX with it.

usage: export_models.py OUTDIR [NAME ...]
models: mobilenet_v2_w035 (torchvision, width 0.35, 128x128, opset 13),
        kws (the bundled keyword-spotting example)
"""
import json
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


def mobilenet_v2_w035():
    import torchvision
    model = torchvision.models.mobilenet_v2(width_mult=0.35, weights=None)
    return model, torch.randn(1, 3, 128, 128)


def kws():
    sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "kws"))
    import make_kws
    return make_kws.KWS(), torch.randn(1, 1, 49, 10)


MODELS = {"mobilenet_v2_w035": mobilenet_v2_w035, "kws": kws}


def count(model, x):
    """MACs and output shape of every Conv2d / Linear, in execution order."""
    layers = []

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            macs = out.numel() * (mod.in_channels // mod.groups) * kh * kw
        else:
            macs = out.numel() * mod.in_features
        layers.append({"kind": type(mod).__name__, "macs": int(macs),
                       "shape": list(out.shape)})

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return layers


def export(name, outdir):
    from train_oracle import fold_batchnorm, randomize_batchnorm
    torch.manual_seed(0)
    model, x = MODELS[name]()
    model.eval()
    # Fold BatchNorm in PyTorch (as the training oracle does) so every ONNX
    # initializer keeps its PyTorch name, e.g. features.16.conv.0.0.weight.
    randomize_batchnorm(model, torch.Generator().manual_seed(1))
    with torch.no_grad():
        fold_batchnorm(model)
    layers = count(model, x)
    path = os.path.join(outdir, name + ".onnx")
    torch.onnx.export(model, x, path, opset_version=13, input_names=["input"],
                      output_names=["output"], do_constant_folding=False)
    params = sum(p.numel() for p in model.parameters())
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump({"layers": layers, "total_macs": sum(l["macs"] for l in layers),
                   "input_shape": list(x.shape), "torch_params": params}, f, indent=1)
    print(f"{name}: {len(layers)} conv/linear layers, "
          f"{sum(l['macs'] for l in layers)} MACs -> {path}")


def main():
    outdir = sys.argv[1]
    names = sys.argv[2:] or list(MODELS)
    os.makedirs(outdir, exist_ok=True)
    for n in names:
        export(n, outdir)


if __name__ == "__main__":
    main()
