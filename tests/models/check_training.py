#!/usr/bin/python3
"""Runs motec on an oracle case (train_oracle.py) and compares with PyTorch.

usage: check_training.py MOTEC ORACLE_DIR MODEL SPEC [--engine interp|generated]
                         [--tolerance T] [--target T] [--vs-interp T2]
                         [--vs-host T3]

Runs `motec run --train` with the spec's update rules and optimizer for the
same number of steps on the same batch, then checks:
  - the set of parameters motec trains is exactly PyTorch's,
  - the loss of every step and every trained parameter after the last step
    agree: max |mote - torch| <= T * max(|torch|) per tensor (T = 1e-4).
With --vs-interp T2 (generated engine), the same run on the reference
interpreter must also agree with the generated code within T2 (1e-5): the
code generator is checked against the oracle it was built from, not only
against PyTorch. --target runs the generated code on an emulated board;
with --vs-host T3 it must also agree within T3 (1e-4) with the generated
C++ built and run on the host (no --run-arg), the reference every target
is held to.
Prints one line per tensor that differs, then a summary; exits 1 on failure.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper


def load(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("motec")
    ap.add_argument("oracle")
    ap.add_argument("model")
    ap.add_argument("spec")
    ap.add_argument("--engine", default="interp")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--target", default=None)
    ap.add_argument("--vs-interp", type=float, default=None)
    ap.add_argument("--vs-host", type=float, default=None)
    ap.add_argument("--run-arg", action="append", default=[],
                    help="extra motec run argument for the --engine run "
                         "(repeatable), e.g. --run-arg=--check-bounds")
    a = ap.parse_args()
    mdir = os.path.join(a.oracle, a.model)
    sdir = os.path.join(mdir, a.spec)
    spec = json.load(open(os.path.join(sdir, "spec.json")))
    def run(engine, dump, target=None, extra=True):
        cmd = [a.motec, "run", os.path.join(mdir, "model.onnx"), "--train",
               "--engine", engine, "--input", "input=" + os.path.join(mdir, "input.pb"),
               "--input", "label=" + os.path.join(mdir, "label.pb"),
               "--steps", str(spec["steps"]), "--lr", str(spec["lr"]),
               "--optimizer", spec["optimizer"], "--dump", dump]
        if spec.get("accumulate", 1) > 1:
            cmd += ["--accumulate", str(spec["accumulate"])]
        if target:
            cmd += ["--target", target]
        if engine == a.engine and extra:
            cmd += a.run_arg
        for rule in spec["update"]:
            cmd += ["--update", rule]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(" ".join(cmd))
            print(r.stdout, r.stderr)
            sys.exit(1)

    # (reference name, its dump directory, tolerance) checked besides torch.
    refs = []
    with tempfile.TemporaryDirectory() as dump, \
            tempfile.TemporaryDirectory() as idump, \
            tempfile.TemporaryDirectory() as hdump:
        run(a.engine, dump, a.target)
        if a.vs_interp is not None:
            run("interp", idump)
            refs.append(("interpreter", idump, a.vs_interp))
        if a.vs_host is not None:
            run("generated", hdump, None, extra=False)
            refs.append(("host C++", hdump, a.vs_host))
        got = {f[:-3] for f in os.listdir(dump) if f.endswith(".pb")} - {"loss"}
        want = set(spec["trainable"])
        errors = []
        if got != want:
            errors.append(f"trained set differs: only mote {sorted(got - want)}, "
                          f"only torch {sorted(want - got)}")
        worst = 0.0
        worst_ref = {r[0]: 0.0 for r in refs}
        for name in ["loss"] + sorted(want & got):
            m = load(os.path.join(dump, name + ".pb"))
            t = load(os.path.join(sdir, "expected", name + ".pb"))
            if m.shape != t.shape:
                errors.append(f"{name}: shape {m.shape} vs torch {t.shape}")
                continue
            scale = max(float(np.max(np.abs(t))), 1e-12)
            err = float(np.max(np.abs(m.astype(np.float64) - t))) / scale
            worst = max(worst, err)
            if not err <= a.tolerance:
                errors.append(f"{name}: relative error {err:.3g}")
            for ref, rdump, tol in refs:
                i = load(os.path.join(rdump, name + ".pb"))
                iscale = max(float(np.max(np.abs(i))), 1e-12)
                ierr = float(np.max(np.abs(m.astype(np.float64) - i))) / iscale
                worst_ref[ref] = max(worst_ref[ref], ierr)
                if not ierr <= tol:
                    errors.append(f"{name}: generated vs {ref} relative "
                                  f"error {ierr:.3g}")
    for e in errors:
        print("MISMATCH", a.model, a.spec, e)
    vs = "".join(f", vs {ref} {w:.3g}" for ref, w in worst_ref.items())
    print(f"{a.model}/{a.spec}: {len(want)} trained tensors, worst relative "
          f"error {worst:.3g}{vs} ({'ok' if not errors else 'FAILED'})")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
