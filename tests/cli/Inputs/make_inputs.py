#!/usr/bin/python3
"""Writes inputs for the KWS example as ONNX TensorProto files into DIR:
mfcc.pb [1,1,49,10], label.pb [1] (int64, as PyTorch writes labels),
target.pb [1,12] (MSE target), mfcc4.pb / label4.pb (batch 4), biglabel.pb
(a label that does not fit in int32)."""
import os
import sys

import numpy as np
from onnx import numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(3)


def save(name, arr):
    with open(os.path.join(out, name + ".pb"), "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


save("mfcc", rng.standard_normal((1, 1, 49, 10)).astype(np.float32))
save("label", np.array([3], np.int64))
save("target", rng.standard_normal((1, 12)).astype(np.float32))
save("mfcc4", rng.standard_normal((4, 1, 49, 10)).astype(np.float32))
save("label4", np.array([0, 5, 11, 3], np.int64))
save("biglabel", np.array([2**32], np.int64))
