#!/usr/bin/python3
"""Exits 1 unless the losses in LOSS.pb decrease from step to step."""
import sys

import onnx
from onnx import numpy_helper

t = onnx.TensorProto()
t.ParseFromString(open(sys.argv[1], "rb").read())
losses = numpy_helper.to_array(t)
print("losses:", losses)
sys.exit(0 if all(b < a for a, b in zip(losses, losses[1:])) and len(losses) > 1 else 1)
