#!/usr/bin/python3
"""Checks `motec run --count-instructions` on an emulated target.

usage: check_icount.py MOTEC ORACLE_DIR MODEL SPEC TARGET [--repeat N]

Runs the oracle case's training (its update rules and optimizer) with
--count-instructions N times (default 2) and checks every run prints
'instructions per training step: C' with the same C > 0: the count is a
deterministic performance figure. Prints the count.
"""
import argparse
import json
import os
import re
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("motec")
    ap.add_argument("oracle")
    ap.add_argument("model")
    ap.add_argument("spec")
    ap.add_argument("target")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    mdir = os.path.join(a.oracle, a.model)
    spec = json.load(open(os.path.join(mdir, a.spec, "spec.json")))
    cmd = [a.motec, "run", os.path.join(mdir, "model.onnx"), "--train",
           "--input", "input=" + os.path.join(mdir, "input.pb"),
           "--input", "label=" + os.path.join(mdir, "label.pb"),
           "--lr", str(spec["lr"]), "--optimizer", spec["optimizer"],
           "--target", a.target, "--count-instructions"]
    for rule in spec["update"]:
        cmd += ["--update", rule]
    counts = []
    for _ in range(a.repeat):
        r = subprocess.run(cmd, capture_output=True, text=True)
        m = re.search(r"^instructions per training step: (\d+)$", r.stdout,
                      re.M)
        if r.returncode != 0 or not m:
            print(" ".join(cmd))
            print(r.stdout, r.stderr)
            return 1
        counts.append(int(m.group(1)))
    print(f"{a.target} {a.model}/{a.spec}: instructions per training step "
          f"{counts}")
    if counts[0] <= 0 or len(set(counts)) != 1:
        print("FAIL: the count must be positive and the same on every run")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
