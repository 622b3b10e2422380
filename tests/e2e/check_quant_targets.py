#!/usr/bin/python3
"""Integer ops bit for bit on every target: the generated code of a model of
QLinearConv (per-channel and depthwise), QLinearMatMul (per column),
ConvInteger and MatMulInteger must write exactly the interpreter's outputs
on each target given, through the C++ emitter and the LLVM backend's object.

usage: check_quant_targets.py MOTEC MAKE_MODEL TARGET...
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
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


if __name__ == "__main__":
    main()
