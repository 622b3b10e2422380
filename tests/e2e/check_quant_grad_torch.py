#!/usr/bin/python3
"""The backward pass of a quantized model against PyTorch.

A QDQ model (int8 input, a conv with per-channel int8 weights and an int32
bias, ReLU, int8 activation, global average pooling, int8 features, a
Linear with per-row int8 weights and an int32 bias) trains one SGD step in
mote, every parameter in place with quantization-aware scaling:

    q' = clamp(q - round_half_even(lr * g / s), type range)

with g the gradient of the loss with respect to the parameter's real value
s * q. PyTorch computes g on the same model written with fake quantization
(a fake-quantization forward with the same scales and zero points), with the estimator mote states (docs/quantization.md): rounding
passes the gradient straight through, and a ReLU followed by a
quantization masks its gradient by the quantized value (what the backward
reads is the int8 tensor). The learning rate makes the steps large (tens
of units), so equal integers mean equal gradients to about 1e-3 relative:
every updated integer must equal PyTorch's, except where lr * g / s lies
within 1e-3 of a rounding tie. The loss must agree to 1e-5.

usage: check_quant_grad_torch.py MOTEC
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

LR = 2.0
SX, ZX = 0.0307, -7        # input
SR, ZR = 0.0517, -128      # ReLU output
SF, ZF = 0.0123, -128      # pooled features


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def q_dq(name, scale, zp, nodes):
    """QuantizeLinear + DequantizeLinear of `name`; returns the result."""
    s, z = f"{name}_s", f"{name}_z"
    nodes.append(helper.make_node("QuantizeLinear", [name, s, z],
                                  [name + "_q"]))
    nodes.append(helper.make_node("DequantizeLinear", [name + "_q", s, z],
                                  [name + "_dq"]))
    return [numpy_helper.from_array(np.array(scale, np.float32), s),
            numpy_helper.from_array(np.array(zp, np.int8), z)]


def model(p):
    nodes, inits = [], []
    inits += q_dq("x", SX, ZX, nodes)
    for name, q, s, axis in (("w1", p["w1"], p["sw1"], 0),
                             ("b1", p["b1"], SX * p["sw1"], 0),
                             ("w2", p["w2"], p["sw2"], 0),
                             ("b2", p["b2"], SF * p["sw2"], 0)):
        inits += [numpy_helper.from_array(q, name),
                  numpy_helper.from_array(s.astype(np.float32), name + "_s"),
                  numpy_helper.from_array(
                      np.zeros(s.shape, np.int32 if q.dtype == np.int32
                               else np.int8), name + "_z")]
        nodes.append(helper.make_node(
            "DequantizeLinear", [name, name + "_s", name + "_z"],
            [name + "_dq"], axis=axis))
    nodes.append(helper.make_node("Conv", ["x_dq", "w1_dq", "b1_dq"], ["c"],
                                  pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Relu", ["c"], ["r"]))
    inits += q_dq("r", SR, ZR, nodes)
    nodes.append(helper.make_node("GlobalAveragePool", ["r_dq"], ["g"]))
    nodes.append(helper.make_node("Flatten", ["g"], ["f"]))
    inits += q_dq("f", SF, ZF, nodes)
    nodes.append(helper.make_node("Gemm", ["f_dq", "w2_dq", "b2_dq"],
                                  ["y"], transB=1))
    g = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 5])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    return m


def fq(t, s, z):
    """Fake quantization as ONNX defines it (x / s, not x * (1 / s) as
    torch.fake_quantize_per_tensor_affine computes it), the gradient passing
    straight through."""
    v = ((torch.round(t.detach() / s) + z).clamp(-128, 127) - z) * s
    return v + (t - t.detach())


def reference(p, x, label):
    """PyTorch: the loss and the gradients with respect to real values."""
    w1 = torch.tensor(p["w1"].astype(np.float32) * p["sw1"][:, None, None, None],
                      requires_grad=True)
    b1 = torch.tensor((p["b1"].astype(np.float64) * SX * p["sw1"])
                      .astype(np.float32), requires_grad=True)
    w2 = torch.tensor(p["w2"].astype(np.float32) * p["sw2"][:, None],
                      requires_grad=True)
    b2 = torch.tensor((p["b2"].astype(np.float64) * SF * p["sw2"])
                      .astype(np.float32), requires_grad=True)
    xq = fq(torch.tensor(x), SX, ZX)
    c = torch.nn.functional.conv2d(xq, w1, b1, padding=1)
    # Forward: fq(relu(c)); backward: the mask of the quantized ReLU output.
    rq_val = fq(torch.relu(c), SR, ZR).detach()
    mask = (rq_val > 0).float()
    rq = rq_val + (c - c.detach()) * mask
    f = fq(rq.mean(dim=(2, 3)), SF, ZF)
    f = f.detach() + (rq.mean(dim=(2, 3)) - rq.mean(dim=(2, 3)).detach())
    y = f @ w2.T + b2
    loss = torch.nn.functional.cross_entropy(y, torch.tensor(label).long())
    loss.backward()
    return float(loss), {"w1": (w1.grad.numpy(), p["sw1"][:, None, None, None]),
                         "b1": (b1.grad.numpy(), SX * p["sw1"]),
                         "w2": (w2.grad.numpy(), p["sw2"][:, None]),
                         "b2": (b2.grad.numpy(), SF * p["sw2"])}


def main():
    motec = sys.argv[1]
    rng = np.random.default_rng(23)
    p = {"w1": rng.integers(-100, 100, (6, 3, 3, 3)).astype(np.int8),
         "sw1": rng.uniform(0.002, 0.006, 6).astype(np.float32),
         "b1": rng.integers(-2000, 2000, 6).astype(np.int32),
         "w2": rng.integers(-100, 100, (5, 6)).astype(np.int8),
         "sw2": rng.uniform(0.01, 0.03, 5).astype(np.float32),
         "b2": rng.integers(-5000, 5000, 5).astype(np.int32)}
    x = rng.uniform(-2, 3, (4, 3, 6, 6)).astype(np.float32)
    label = np.array([0, 3, 1, 4], np.int32)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        onnx.save(model(p), path)
        for name, v in (("x", x), ("label", label)):
            open(os.path.join(tmp, name + ".pb"), "wb").write(
                numpy_helper.from_array(v, name).SerializeToString())
        out = os.path.join(tmp, "out")
        run([motec, "run", path, "--train", "--lr", str(LR), "--steps", "1",
             "--engine", "interp", "--dump", out,
             "--input", "x=" + os.path.join(tmp, "x.pb"),
             "--input", "label=" + os.path.join(tmp, "label.pb")])
        got = {k[:-3]: numpy_helper.to_array(onnx.load_tensor(
            os.path.join(out, k))) for k in os.listdir(out)}
    # mote's loss is that of the step, before the update.
    loss, grads = reference(p, x, label)
    if abs(float(got["loss"]) - loss) > 1e-5 * max(1.0, abs(loss)):
        sys.exit(f"FAILED: loss {float(got['loss'])}, PyTorch {loss}")
    checked = 0
    for name, (g, s) in grads.items():
        q = p[name].astype(np.int64)
        steps = LR * g.astype(np.float64) / s
        info = np.iinfo(p[name].dtype)
        want = np.clip(q - np.round(steps), info.min, info.max)
        near_tie = np.abs(np.abs(steps - np.floor(steps)) - 0.5) < 1e-3
        have = got[name].astype(np.int64)
        bad = (have != want) & ~near_tie
        if bad.any() or np.abs(have - want).max() > 1:
            i = np.argmax(bad) if bad.any() else np.argmax(np.abs(have - want))
            sys.exit(f"FAILED: {name}: {np.count_nonzero(bad)} of {q.size} "
                     f"updated values differ from PyTorch's (first at flat "
                     f"index {i}: mote {have.ravel()[i]}, PyTorch "
                     f"{want.ravel()[i]}, step {steps.ravel()[i]:.4f})")
        moved = np.count_nonzero(have != q)
        print(f"{name}: {q.size} values, {moved} moved, up to "
              f"{np.abs(steps).max():.1f} steps; equal to PyTorch's")
        checked += q.size
    print(f"ok: loss {loss:.6f} and {checked} updated integers match PyTorch")


if __name__ == "__main__":
    main()
