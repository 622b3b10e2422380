#!/usr/bin/python3
"""Builds the bundled example: a small depthwise-separable keyword-spotting CNN.

The network follows the DS-CNN family used for keyword spotting on
microcontrollers: a 49x10 MFCC patch (49 frames of 10 coefficients), one
regular convolution, depthwise-separable blocks, global average pooling and
a linear classifier over 12 classes (10 keywords, silence, unknown).
Weights are seeded random; BatchNorm is folded into the convolutions in
PyTorch before the export (ONNX opset 13, eval mode), so every parameter
keeps a readable name such as blocks.1.pw.weight.

usage: make_kws.py OUT.onnx
"""
import sys

import torch
from torch import nn


class DSBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.dw = nn.Conv2d(ch, ch, 3, padding=1, groups=ch, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.pw = nn.Conv2d(ch, ch, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)

    def forward(self, x):
        x = torch.relu(self.bn1(self.dw(x)))
        return torch.relu(self.bn2(self.pw(x)))


class KWS(nn.Module):
    def __init__(self, ch=32, classes=12):
        super().__init__()
        self.stem = nn.Conv2d(1, ch, (5, 3), stride=(2, 1), padding=(2, 1))
        self.blocks = nn.Sequential(DSBlock(ch), DSBlock(ch))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(ch, classes)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = self.blocks(x)
        return self.classifier(torch.flatten(self.pool(x), 1))


def fold_batchnorm(model):
    """Folds each block's BatchNorms into the convolution before them."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    for block in model.blocks:
        block.dw = fuse_conv_bn_eval(block.dw, block.bn1)
        block.bn1 = nn.Identity()
        block.pw = fuse_conv_bn_eval(block.pw, block.bn2)
        block.bn2 = nn.Identity()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "kws.onnx"
    torch.manual_seed(0)
    model = KWS().eval()
    with torch.no_grad():
        fold_batchnorm(model)
    x = torch.randn(1, 1, 49, 10)
    torch.onnx.export(model, x, out, opset_version=13, input_names=["mfcc"],
                      output_names=["logits"], do_constant_folding=True)
    print("wrote", out)


if __name__ == "__main__":
    main()
