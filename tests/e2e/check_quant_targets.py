#!/usr/bin/python3
"""Integer ops bit for bit on every target: the generated code of a model of
QLinearConv (per-channel and depthwise), QLinearMatMul (per column),
ConvInteger and MatMulInteger must write exactly the interpreter's outputs
on each target given, through the C++ emitter and the LLVM backend's object.
Then training steps of quantized models (--quantize int8, QAS, momentum):
conv + ReLU + Linear with every parameter trained (the bias gradients
summed from masks on int8 codes), and conv + ReLU6 + pointwise conv + ReLU
+ Linear training the first conv's weight and the Linear (masks on codes
without sums, the pointwise input gradient reading its int8 weight).
The second model again with micro-batches (--accumulate 2).
After three steps the int8 weights and int32 biases of each target are
those of the interpreter, to within one integer step on at most 1% of the
values (the float gradients are summed in another order; a step rounded
at exactly half may go either way), and the losses agree to 1e-4.

usage: check_quant_targets.py MOTEC MAKE_MODEL TARGET...
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{r.stdout}{r.stderr}")


def outputs(d):
    return {f: open(os.path.join(d, f), "rb").read()
            for f in sorted(os.listdir(d)) if f.endswith(".pb")}


def main():
    motec, make_model, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "q.onnx")
        run([sys.executable, make_model, "qlinear", model])
        rng = np.random.default_rng(3)
        # Inputs wide enough to saturate the first quantization.
        x = (rng.standard_normal((1, 3, 8, 8)) * 4).astype(np.float32)
        v = (rng.standard_normal((4, 16)) * 3).astype(np.float32)
        feeds = []
        for name, value in (("x", x), ("v", v)):
            path = os.path.join(tmp, name + ".pb")
            open(path, "wb").write(
                numpy_helper.from_array(value, name).SerializeToString())
            feeds += ["--input", f"{name}={path}"]
        ref = os.path.join(tmp, "interp")
        run([motec, "run", model, "--infer", "--engine", "interp", "--dump",
             ref] + feeds)
        want = outputs(ref)
        if sorted(want) != ["ci.pb", "mi.pb", "y.pb", "z.pb"]:
            sys.exit(f"unexpected outputs {sorted(want)}")
        for target in targets:
            for emit in ("cpp", "obj"):
                out = os.path.join(tmp, f"{target}-{emit}")
                run([motec, "run", model, "--infer", "--engine", "generated",
                     "--target", target, "--emit", emit, "--dump", out] +
                    feeds)
                got = outputs(out)
                for name, data in want.items():
                    if got.get(name) != data:
                        sys.exit(f"{target} ({emit}): {name} differs from "
                                 "the interpreter")
                print(f"{target} ({emit}): {len(want)} outputs bit-exact")
        check_training(motec, make_model, targets, tmp, "head", [],
                       ["conv.bias", "conv.weight", "fc.bias", "fc.weight"])
        check_training(motec, make_model, targets, tmp, "block",
                       ["--update", "conv.weight", "--update", "fc.*"],
                       ["conv.weight", "fc.bias", "fc.weight"])
        # Micro-batches: the steps accumulate, the update applies at the
        # second (int8 weights moved once, from the mean gradient) and the
        # third starts a new sum.
        check_training(motec, make_model, targets, tmp, "block",
                       ["--update", "conv.weight", "--update", "fc.*",
                        "--accumulate", "2"],
                       ["conv.weight", "fc.bias", "fc.weight"],
                       label="block-accumulate")


def check_training(motec, make_model, targets, tmp, kind, spec, trained,
                   label=None):
    label = label or kind
    model = os.path.join(tmp, kind + ".onnx")
    run([sys.executable, make_model, kind, model])
    rng = np.random.default_rng(11)
    files = {"cal": rng.standard_normal((8, 3, 8, 8)).astype(np.float32),
             "x": rng.standard_normal((2, 3, 8, 8)).astype(np.float32),
             "label": np.array([0, 2], np.int32)}
    for name, value in files.items():
        open(os.path.join(tmp, name + ".pb"), "wb").write(
            numpy_helper.from_array(value, name).SerializeToString())
    args = ["--train", "--optimizer", "momentum", "--lr", "0.1"] + spec + [
            "--quantize", "int8", "--calibration",
            os.path.join(tmp, "cal.pb"), "--steps", "3",
            "--input", "x=" + os.path.join(tmp, "x.pb"),
            "--input", "label=" + os.path.join(tmp, "label.pb")]
    ref = os.path.join(tmp, label + "-interp")
    run([motec, "run", model, "--engine", "interp", "--dump", ref] + args)
    want = {k: numpy_helper.to_array(onnx.load_tensor(os.path.join(ref, k)))
            for k in outputs(ref)}
    params = [k for k, v in want.items() if v.dtype in (np.int8, np.int32)]
    if sorted(params) != [p + ".pb" for p in trained]:
        sys.exit(f"{label}: unexpected quantized parameters {sorted(params)}")
    for target in targets:
        for emit in ("cpp", "obj"):
            out = os.path.join(tmp, f"{label}-{target}-{emit}")
            run([motec, "run", model, "--engine", "generated", "--target",
                 target, "--emit", emit, "--dump", out] + args)
            off = 0
            for k in params:
                got = numpy_helper.to_array(
                    onnx.load_tensor(os.path.join(out, k)))
                d = np.abs(got.astype(np.int64) - want[k].astype(np.int64))
                if d.max() > 1 or np.count_nonzero(d) > 0.01 * d.size + 1:
                    sys.exit(f"{label} on {target} ({emit}): {k} differs from the "
                             f"interpreter by up to {d.max()} steps in "
                             f"{np.count_nonzero(d)} of {d.size} values")
                off += np.count_nonzero(d)
            loss = numpy_helper.to_array(
                onnx.load_tensor(os.path.join(out, "loss.pb")))
            if not np.allclose(loss, want["loss.pb"], rtol=1e-4, atol=1e-6):
                sys.exit(f"{label} on {target} ({emit}): loss {loss} but the "
                         f"interpreter's is {want['loss.pb']}")
            print(f"{label} on {target} ({emit}): int8 training steps match "
                  f"the interpreter ({off} values one step off)")


if __name__ == "__main__":
    main()
