#!/usr/bin/python3
"""Feeds motec hostile and broken inputs and checks it fails cleanly.

usage: bad_inputs.py MOTEC GOOD_MODEL.onnx

Each case writes a broken model (or uses a good one with bad options) and
runs `motec compile MODEL -o DIR ...`. Every case must:
  - exit with the expected code (1 for a model/user error, 2 for usage),
    never by a signal or an internal error (>2),
  - print one line on stderr that starts with "motec" and contains the
    expected words (what is wrong; where, when there is a where); a usage
    error may add a second line pointing at --help,
  - leave no output directory behind (and no temporary sibling).
A few cases are valid on purpose (an update spec naming every parameter)
and must succeed. Prints one line per case and a summary; exits 1 if any
case misbehaves.
"""
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def model(nodes, inputs, outputs, inits=(), opset=13, domain="", check=False):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(domain, opset)])
    if check:
        onnx.checker.check_model(m)
    return m.SerializeToString()


def vi(name, dims, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, dims)


def tiny(**over):
    """A small valid net with knobs to break it."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
                                "conv.weight")
    b = numpy_helper.from_array(np.zeros(4, np.float32), "conv.bias")
    nodes = [helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"],
                              name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["y"], name="flat")]
    x = vi("x", over.get("xdims", [1, 3, 8, 8]))
    return nodes, [x], [vi("y", None)], [w, b]


def cases(good):
    good_bytes = open(good, "rb").read()
    rnd = random.Random(7)
    C = []  # (name, bytes or None (use good), extra args, exit code, words)

    C.append(("empty file", b"", [], 1, ["onnx"]))
    C.append(("truncated protobuf", good_bytes[: len(good_bytes) // 2], [], 1, ["parse"]))
    C.append(("random bytes", bytes(rnd.randrange(256) for _ in range(4096)), [], 1, []))
    C.append(("wrong magic (PNG)", b"\x89PNG\r\n\x1a\n" + bytes(100), [], 1, []))
    C.append(("text file", b"graph @g { not onnx }\n", [], 1, []))

    n, i, o, w = tiny(xdims=[1, 3, -5, 8])
    C.append(("negative dim", model(n, i, o, w), [], 1, ["x"]))
    n, i, o, w = tiny(xdims=[1, 3, 0, 8])
    C.append(("zero dim", model(n, i, o, w), [], 1, []))
    n, i, o, w = tiny(xdims=[1 << 20, 3, 1 << 20, 1 << 20])
    C.append(("huge dims (size overflow)", model(n, i, o, w), [], 1, []))

    a, b2 = vi("a", [2, 3]), vi("b", [4, 5])
    C.append(("shape mismatch", model([helper.make_node("Add", ["a", "b"], ["y"], name="add")],
                                      [a, b2], [vi("y", None)]), [], 1, ["add", "broadcast"]))

    C.append(("cycle", model([helper.make_node("Relu", ["q"], ["p"], name="r1"),
                              helper.make_node("Relu", ["p"], ["q"], name="r2")],
                             [vi("x", [1, 4])], [vi("q", None)]), [], 1, []))

    C.append(("duplicate value names",
              model([helper.make_node("Relu", ["x"], ["y"], name="r1"),
                     helper.make_node("Sigmoid", ["x"], ["y"], name="r2")],
                    [vi("x", [1, 4])], [vi("y", None)]), [], 1, ["y"]))

    n, i, o, w = tiny()
    C.append(("missing initializer", model(n, i, o, w[:1]), [], 1, ["conv.bias"]))

    n, i, o, w = tiny()
    bad = onnx.TensorProto()
    bad.CopyFrom(w[0])
    bad.raw_data = bad.raw_data[:17]
    C.append(("initializer of the wrong size", model(n, i, o, [bad, w[1]]), [], 1,
              ["conv.weight"]))

    C.append(("unknown domain",
              model([helper.make_node("Frobnicate", ["x"], ["y"], name="f", domain="com.example")],
                    [vi("x", [1, 4])], [vi("y", None)]), [], 1, ["Frobnicate"]))
    n, i, o, w = tiny()
    C.append(("opset too old", model(n, i, o, w, opset=6), [], 1, ["opset"]))
    n, i, o, w = tiny()
    C.append(("opset too new", model(n, i, o, w, opset=40), [], 1, ["opset"]))

    n, i, o, w = tiny()
    n[0] = helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv",
                            pads=[1.5, 1.0, 1.0, 1.0])
    C.append(("attribute of the wrong type", model(n, i, o, w), [], 1, ["conv", "pads"]))

    # ONNX's own shape inference divides by strides and dilations: a zero
    # must be an error before it runs (found by the fuzzer as a SIGFPE).
    n, i, o, w = tiny()
    n[0] = helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv",
                            pads=[1, 1, 1, 1], strides=[0, 2])
    C.append(("zero stride", model(n, i, o, w), [], 1, ["conv", "strides [0, 2] must be positive"]))
    n, i, o, w = tiny()
    n[2] = helper.make_node("MaxPool", ["r"], ["g"], name="pool", kernel_shape=[2, 2],
                            dilations=[1, 0])
    C.append(("zero dilation", model(n, i, o, w, opset=13), [], 1,
              ["pool", "dilations [1, 0] must be positive"]))

    n, i, o, w = tiny()
    ext = onnx.TensorProto()
    ext.CopyFrom(w[0])
    ext.ClearField("raw_data")
    ext.data_location = onnx.TensorProto.EXTERNAL
    for k, v in (("location", "../../../etc/passwd"), ("offset", "0"), ("length", "432")):
        e = ext.external_data.add()
        e.key, e.value = k, v
    C.append(("external data outside the model directory", model(n, i, o, [ext, w[1]]), [],
              1, ["outside"]))

    x4 = vi("x", [1, 4])
    y = vi("y", None)
    i64 = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)
    f32 = lambda name, shape: numpy_helper.from_array(np.ones(shape, np.float32), name)
    C.append(("kernel larger than the input",
              model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                    [vi("x", [1, 1, 2, 2])], [y], [f32("w", (1, 1, 5, 5))]), [], 1, ["conv"]))
    C.append(("conv weight channels mismatch",
              model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                    [vi("x", [1, 3, 8, 8])], [y], [f32("w", (4, 2, 3, 3))]), [], 1, ["conv"]))
    C.append(("reshape to the wrong size",
              model([helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")],
                    [x4], [y], [i64("s", [3, 3])]), [], 1, ["rs"]))
    C.append(("gather index out of range",
              model([helper.make_node("Gather", ["x", "i"], ["y"], name="ga", axis=1)],
                    [x4], [y], [i64("i", [7])]), [], 1, ["ga"]))
    C.append(("matmul inner dims mismatch",
              model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
                    [x4], [y], [f32("w", (5, 2))]), [], 1, ["mm"]))
    C.append(("slice step 0",
              model([helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"], name="sl")],
                    [x4], [y], [i64("st", [0]), i64("en", [4]), i64("ax", [1]), i64("sp", [0])]),
              [], 1, ["sl"]))
    C.append(("transpose with a bad perm",
              model([helper.make_node("Transpose", ["x"], ["y"], name="tr", perm=[0, 0])],
                    [x4], [y]), [], 1, ["tr"]))
    C.append(("too many inputs",
              model([helper.make_node("Relu", ["x", "x"], ["y"], name="re")], [x4], [y]),
              [], 1, ["re"]))
    C.append(("concat rank mismatch",
              model([helper.make_node("Concat", ["x", "z"], ["y"], name="cc", axis=0)],
                    [x4, vi("z", [1, 4, 1])], [y]), [], 1, ["cc"]))
    C.append(("no nodes, output is the input (valid)",
              model([], [x4], [vi("x", [1, 4])]), [], 0, []))
    C.append(("loss on an integer output",
              model([helper.make_node("Cast", ["x"], ["y"], name="ca", to=TensorProto.INT32)],
                    [x4], [vi("y", None, TensorProto.INT32)]), ["--train"], 1, ["float"]))
    C.append(("update spec naming nothing", None, ["--train", "--update", "nope.*"], 1,
              ["nope"]))
    C.append(("update spec naming everything (valid)", None, ["--train", "--update", "*"], 0,
              []))
    C.append(("spec ratio above 1", None, ["--train", "--update", "*.bias:1.5"], 1, ["1.5"]))
    C.append(("spec ratio 0", None, ["--train", "--update", "*.bias:0"], 1, []))
    C.append(("spec ratio negative", None, ["--train", "--update", "*.bias:-0.5"], 1, []))
    C.append(("spec ratio not a number", None, ["--train", "--update", "*.bias:half"], 1,
              ["number in (0, 1]", "'*.bias:0.5'"]))
    C.append(("loss on a missing output", None, ["--train", "--output", "nope"], 1, ["nope"]))
    C.append(("bad --name", None, ["--name", "3d-model"], 1, ["name"]))
    C.append(("bad --input-shape", None, ["--input-shape", "x=1xAx3"], 2, []))
    C.append(("unknown option", None, ["--frobnicate"], 2, []))
    return C


def main():
    motec, good = sys.argv[1], sys.argv[2]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, data, args, want, words) in enumerate(cases(good)):
            d = os.path.join(tmp, f"case{k}")
            os.makedirs(d)
            path = good
            if data is not None:
                path = os.path.join(d, "model.onnx")
                with open(path, "wb") as f:
                    f.write(data)
            out = os.path.join(d, "out")
            r = subprocess.run([motec, "compile", path, "-o", out, *args],
                               capture_output=True, text=True, timeout=120)
            err = r.stderr.strip()
            lines = err.splitlines()
            problems = []
            if r.returncode != want:
                problems.append(f"exit {r.returncode}, expected {want}")
            if want != 0:
                # A usage error may add one line pointing at --help.
                if len(lines) != 1 and not (want == 2 and len(lines) == 2):
                    problems.append(f"{len(lines)} lines on stderr")
                if lines and not lines[0].startswith("motec"):
                    problems.append("message does not start with 'motec'")
                for w in words:
                    if w.lower() not in err.lower():
                        problems.append(f"message lacks '{w}'")
                left = [e for e in os.listdir(d) if e not in ("model.onnx",)]
                if left:
                    problems.append(f"left behind: {left}")
            status = "ok" if not problems else "FAILED: " + "; ".join(problems)
            print(f"{name:<45} exit {r.returncode}  {status}")
            if lines:
                print(f"    {lines[0][:200]}")
            failures += bool(problems)
    total = len(cases(good))
    print(f"\n{total} bad inputs, {total - failures} handled cleanly, {failures} not")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
