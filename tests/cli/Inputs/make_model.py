#!/usr/bin/python3
"""Writes small ONNX models for the motec command-line tests.

usage: make_model.py KIND OUT.onnx
kinds: tiny (conv net), unsupported (three unsupported ops), dynamic (batch
dim is symbolic), opset7 (opset out of range), sceloss (ends in its own
SoftmaxCrossEntropyLoss), qdq (a conv in the QuantizeLinear /
DequantizeLinear form quantization tools write: int8 activations, per-channel
int8 weights, int32 bias), qlinear (integer ops: QLinearConv per-channel and
depthwise, QLinearMatMul per column, ConvInteger and MatMulInteger, between a
QuantizeLinear and DequantizeLinear at each end), head (conv + ReLU,
global average pooling and a Linear classifier, batch 2), block (conv +
ReLU6, a pointwise conv + ReLU, pooling and a Linear classifier, batch 2)
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(nodes, inputs, outputs, inits, path, opset=13):
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, path)


def main():
    kind, out = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "conv.weight")
    if kind == "tiny":
        nodes = [helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv", pads=[1, 1, 1, 1]),
                 helper.make_node("Relu", ["c"], ["r"], name="relu"),
                 helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
                 helper.make_node("Flatten", ["g"], ["y"], name="flat")]
        save(nodes, [x], [y], [w], out)
    elif kind == "unsupported":
        nodes = [helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv"),
                 helper.make_node("Cos", ["c"], ["d"], name="cosine"),
                 helper.make_node("Relu", ["d"], ["e"], name="relu"),
                 helper.make_node("TopK", ["e", "k"], ["y", "i"], name="topk"),
                 helper.make_node("Celu", ["y"], ["z"], name="celu")]
        k = numpy_helper.from_array(np.array([2], np.int64), "k")
        save(nodes, [x], [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], [w, k], out)
    elif kind == "dynamic":
        xd = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
        save([helper.make_node("Relu", ["x"], ["y"], name="relu")], [xd], [y], [], out)
    elif kind == "sceloss":
        # A model that already ends in its loss: Gemm -> SoftmaxCrossEntropyLoss.
        xi = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])
        lab = helper.make_tensor_value_info("target", TensorProto.INT64, [2])
        loss = helper.make_tensor_value_info("loss", TensorProto.FLOAT, [])
        fw = numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "fc.weight")
        nodes = [helper.make_node("Gemm", ["x", "fc.weight"], ["logits"], name="fc", transB=1),
                 helper.make_node("SoftmaxCrossEntropyLoss", ["logits", "target"], ["loss"],
                                  name="xent", reduction="mean")]
        save(nodes, [xi, lab], [loss], [fw], out)
    elif kind == "qdq":
        wq = rng.integers(-128, 128, size=(4, 3, 3, 3)).astype(np.int8)
        sw = np.array([0.01, 0.02, 0.005, 0.04], np.float32)
        sx = np.float32(0.05)
        inits = [numpy_helper.from_array(wq, "conv.weight"),
                 numpy_helper.from_array(sw, "sw"),
                 numpy_helper.from_array(np.zeros(4, np.int8), "zw"),
                 numpy_helper.from_array(np.array([100, -200, 0, 7], np.int32), "conv.bias"),
                 numpy_helper.from_array(sw * sx, "sb"),
                 numpy_helper.from_array(np.array(sx, np.float32), "sx"),
                 numpy_helper.from_array(np.array(-3, np.int8), "zx"),
                 numpy_helper.from_array(np.array(0.1, np.float32), "sy"),
                 numpy_helper.from_array(np.array(-128, np.int8), "zy")]
        nodes = [helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"], name="qx"),
                 helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"], name="dqx"),
                 helper.make_node("DequantizeLinear", ["conv.weight", "sw", "zw"], ["wd"],
                                  name="dqw", axis=0),
                 helper.make_node("DequantizeLinear", ["conv.bias", "sb"], ["bd"], name="dqb",
                                  axis=0),
                 helper.make_node("Conv", ["xd", "wd", "bd"], ["c"], name="conv", pads=[1, 1, 1, 1]),
                 helper.make_node("Relu", ["c"], ["r"], name="relu"),
                 helper.make_node("QuantizeLinear", ["r", "sy", "zy"], ["rq"], name="qy"),
                 helper.make_node("DequantizeLinear", ["rq", "sy", "zy"], ["y"], name="dqy")]
        save(nodes, [x], [y], inits, out)
    elif kind == "qlinear":
        def init(name, value, dtype):
            return numpy_helper.from_array(np.asarray(value, dtype), name)
        inits = [
            init("sx", 0.05, np.float32), init("zx", 131, np.uint8),
            init("conv1.weight", rng.integers(-128, 128, (5, 3, 3, 3)), np.int8),
            init("s1", [0.01, 0.02, 0.005, 0.04, 0.013], np.float32),
            init("z1", [0, 0, 0, 0, 0], np.int8),
            init("conv1.bias", [100, -200, 0, 7, 2**31 - 1], np.int32),
            init("sh", 0.11, np.float32), init("zh", 7, np.uint8),
            init("conv2.weight", rng.integers(-128, 128, (5, 1, 3, 3)), np.int8),
            init("s2", 0.02, np.float32), init("z2", -3, np.int8),
            init("sy", 0.2, np.float32), init("zy", -128, np.int8),
            init("sv", 0.03, np.float32), init("zv", 0, np.int8),
            init("fc.weight", rng.integers(-128, 128, (16, 10)), np.int8),
            init("sf", rng.uniform(0.002, 0.02, 10), np.float32),
            init("zf", rng.integers(-5, 5, 10), np.int8),
            init("sz", 0.07, np.float32), init("zz", 3, np.int8),
            init("ci.weight", rng.integers(0, 256, (2, 3, 2, 2)), np.uint8),
            init("zci", [128, 120], np.uint8),
            init("mi.weight", rng.integers(-128, 128, (16, 3)), np.int8),
        ]
        nodes = [
            helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"], name="qx"),
            helper.make_node("QLinearConv", ["xq", "sx", "zx", "conv1.weight", "s1", "z1",
                                             "sh", "zh", "conv1.bias"], ["h"],
                             name="conv1", pads=[1, 1, 1, 1]),
            helper.make_node("QLinearConv", ["h", "sh", "zh", "conv2.weight", "s2", "z2",
                                             "sy", "zy"], ["yq"],
                             name="conv2", group=5, strides=[2, 2], pads=[1, 1, 1, 1]),
            helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"], name="dqy"),
            helper.make_node("QuantizeLinear", ["v", "sv", "zv"], ["vq"], name="qv"),
            helper.make_node("QLinearMatMul", ["vq", "sv", "zv", "fc.weight", "sf", "zf",
                                               "sz", "zz"], ["zq"], name="fc"),
            helper.make_node("DequantizeLinear", ["zq", "sz", "zz"], ["z"], name="dqz"),
            helper.make_node("ConvInteger", ["xq", "ci.weight", "zx", "zci"], ["ci"],
                             name="convint", strides=[2, 2]),
            helper.make_node("MatMulInteger", ["vq", "mi.weight", "zv"], ["mi"],
                             name="matint"),
        ]
        v = helper.make_tensor_value_info("v", TensorProto.FLOAT, [4, 16])
        outs = [helper.make_tensor_value_info(n, t, shape)
                for n, t, shape in (("y", TensorProto.FLOAT, [1, 5, 4, 4]),
                                    ("z", TensorProto.FLOAT, [4, 10]),
                                    ("ci", TensorProto.INT32, [1, 2, 4, 4]),
                                    ("mi", TensorProto.INT32, [4, 3]))]
        save(nodes, [x, v], outs, inits, out)
    elif kind == "head":
        xb = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])
        fw = numpy_helper.from_array((rng.standard_normal((3, 4)) * 0.5).astype(np.float32),
                                     "fc.weight")
        fb = numpy_helper.from_array(np.zeros(3, np.float32), "fc.bias")
        cb = numpy_helper.from_array((rng.standard_normal(4) * 0.1).astype(np.float32),
                                     "conv.bias")
        nodes = [helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv",
                                  pads=[1, 1, 1, 1]),
                 helper.make_node("Relu", ["c"], ["r"], name="relu"),
                 helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
                 helper.make_node("Flatten", ["g"], ["f"], name="flat"),
                 helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc",
                                  transB=1)]
        save(nodes, [xb], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
             [w, cb, fw, fb], out)
    elif kind == "block":
        xb = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])
        inits = [w]
        for name, shape, scale in (("conv.bias", (4,), 0.1),
                                   ("pw.weight", (6, 4, 1, 1), 0.5),
                                   ("pw.bias", (6,), 0.1),
                                   ("fc.weight", (3, 6), 0.5),
                                   ("fc.bias", (3,), 0.1)):
            inits.append(numpy_helper.from_array(
                (rng.standard_normal(shape) * scale).astype(np.float32), name))
        nodes = [helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv",
                                  pads=[1, 1, 1, 1]),
                 helper.make_node("Clip", ["c", "lo", "hi"], ["r"], name="relu6"),
                 helper.make_node("Conv", ["r", "pw.weight", "pw.bias"], ["p"], name="pw"),
                 helper.make_node("Relu", ["p"], ["q"], name="relu"),
                 helper.make_node("GlobalAveragePool", ["q"], ["g"], name="gap"),
                 helper.make_node("Flatten", ["g"], ["f"], name="flat"),
                 helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc",
                                  transB=1)]
        inits += [numpy_helper.from_array(np.array(0, np.float32), "lo"),
                  numpy_helper.from_array(np.array(6, np.float32), "hi")]
        save(nodes, [xb], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
             inits, out)
    elif kind == "opset7":
        save([helper.make_node("Relu", ["x"], ["y"], name="relu")], [x], [y], [], out, opset=7)
    else:
        sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    main()
