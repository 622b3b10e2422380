#!/usr/bin/python3
"""Compares two ONNX TensorProto files: same dtype and shape, and every
element within ATOL of the other. Prints the largest difference and how many
elements differ; exits 1 if one is off by more than ATOL.

usage: close.py A.pb B.pb ATOL"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def load(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


a, b, atol = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
if a.dtype != b.dtype or a.shape != b.shape:
    sys.exit(f"{a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}")
d = np.abs(a.astype(np.float64) - b.astype(np.float64))
print(f"max difference {d.max():.9g}, {int((d > 0).sum())} of {d.size} elements differ")
sys.exit(0 if d.max() <= atol else 1)
