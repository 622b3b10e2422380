#!/usr/bin/python3
"""Independent validity check of a memory report (report.json).

usage: check_report.py REPORT.json
       check_report.py --plan MOTEC ORACLE_DIR MODEL SPEC
The second form runs `motec plan --train` on a training-oracle case
(train_oracle.py) with its update spec and checks the report it writes.
Checks, without trusting the planner: every arena tensor is aligned to 16
and inside the arena; no two arena tensors whose [first, last] intervals
overlap share an address (except a tensor written in place into another);
flash tensors have no offset; the lower bound is the max over steps of the
live bytes and is <= the arena. Prints a summary; exits 1 on a violation.
"""
import json
import os
import subprocess
import sys
import tempfile


def validate(r, label):
    arena = r["arena_bytes"]
    ts = r["tensors"]
    errors = []
    placed = [t for t in ts if t["region"] == "arena" and t["inplace_with"] is None]
    for t in ts:
        if t["region"] == "flash" and t["offset"] is not None:
            errors.append(f"{t['name']}: flash tensor with an offset")
    for t in placed:
        if t["offset"] % 16:
            errors.append(f"{t['name']}: offset {t['offset']} not 16-aligned")
        if t["offset"] < 0 or t["offset"] + t["bytes"] > arena:
            errors.append(f"{t['name']}: [{t['offset']}, +{t['bytes']}) outside the arena {arena}")
    placed.sort(key=lambda t: t["offset"])
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            if b["offset"] >= a["offset"] + a["bytes"]:
                break
            if a["bytes"] and b["bytes"] and a["first"] <= b["last"] and b["first"] <= a["last"]:
                errors.append(f"{a['name']} and {b['name']} overlap in time and address")
    steps = max([t["last"] for t in placed] + [0]) + 1
    live = [0] * steps
    for t in placed:
        for s in range(t["first"], t["last"] + 1):
            live[s] += t["bytes"]
    bound = max(live) if live else 0
    if bound != r["lower_bound_bytes"]:
        errors.append(f"lower bound {r['lower_bound_bytes']} but the tensors give {bound}")
    if r["lower_bound_bytes"] > arena:
        errors.append("lower bound above the arena")
    for e in errors[:20]:
        print("INVALID", e)
    print(f"{label}: {len(placed)} arena tensors, arena {arena}, lower bound "
          f"{r['lower_bound_bytes']}, efficiency {r['efficiency']:.3f} "
          f"({'valid' if not errors else 'INVALID'})")
    return errors


def main():
    if sys.argv[1] != "--plan":
        sys.exit(1 if validate(json.load(open(sys.argv[1])), sys.argv[1]) else 0)
    motec, oracle, model, spec = sys.argv[2:6]
    rules = json.load(open(os.path.join(oracle, model, spec, "spec.json")))
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        cmd = [motec, "plan", os.path.join(oracle, model, "model.onnx"), "--train",
               "--optimizer", rules["optimizer"], "--report", report]
        for r in rules["update"]:
            cmd += ["--update", r]
        subprocess.run(cmd, check=True)
        sys.exit(1 if validate(json.load(open(report)), f"{model}/{spec}") else 0)


if __name__ == "__main__":
    main()
