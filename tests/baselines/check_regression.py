#!/usr/bin/python3
"""Shows that `motec check` catches what it exists to catch.

usage: check_regression.py MOTEC MODEL BASELINE CASE
cases:
  arena  a worse memory plan (--no-reorder: the naive schedule, which is
         outside the baseline's configuration) must exit 1 naming the arena
  loss   a step that computes different losses must exit 1 naming the losses
         of steps 2 and 3 (step 1 is before any update): a baseline made with
         --lr 0.05 is relabelled with the committed baseline's options, so the
         current code looks like it changed the numerics
  hash   the code hashes of the baseline are SHA-256 (hashlib) of the files
         `motec compile` writes with the same options
The command line is rebuilt from the baseline's "options".
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile


def options_of(baseline):
    args = []
    for name, vals in sorted(baseline["options"].items()):
        if vals is True:
            args.append("--" + name)
        else:
            for v in vals:
                args += ["--" + name, v]
    return args


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    return p


def fail(msg):
    sys.exit("check_regression: FAIL: " + msg)


def rows(out):
    """metric -> verdict of the table motec check prints."""
    r = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 5:
            r[cells[0]] = cells[4]
    return r


def main():
    motec, model, path, case = sys.argv[1:5]
    with open(path) as f:
        base = json.load(f)
    opts = options_of(base)
    check = [motec, "check", model, "--baseline", path] + opts
    if case == "arena":
        p = run(check + ["--no-reorder"])
        if p.returncode != 1:
            fail(f"exit {p.returncode}, expected 1")
        v = rows(p.stdout)
        if v.get("arena bytes") != "REGRESSION":
            fail("the arena row is not a regression")
        if "regression against" not in p.stdout or "arena bytes" not in p.stdout.splitlines()[-1]:
            fail("the summary does not name the arena")
    elif case == "loss":
        with tempfile.TemporaryDirectory() as d:
            other = os.path.join(d, "lr.json")
            argv = [a for a in opts]
            p = run([motec, "check", model, "--baseline", other,
                     "--update-baseline", "--lr", "0.05"] + argv)
            if p.returncode != 0:
                fail("could not make the --lr 0.05 baseline")
            with open(other) as f:
                forged = json.load(f)
            forged["options"] = base["options"]
            with open(other, "w") as f:
                json.dump(forged, f, indent=2)
            p = run([motec, "check", model, "--baseline", other] + opts)
            if p.returncode != 1:
                fail(f"exit {p.returncode}, expected 1")
            v = rows(p.stdout)
            where = "host"
            if v.get(f"loss step 1 ({where})") != "ok":
                fail("step 1 (before any update) should agree")
            for k in (2, 3):
                if v.get(f"loss step {k} ({where})") != "REGRESSION":
                    fail(f"loss step {k} is not a regression")
            if v.get("arena bytes") != "ok":
                fail("the arena should be unchanged")
    elif case == "hash":
        with tempfile.TemporaryDirectory() as d:
            emit = base["options"]["emit"][0]
            target = base["options"]["target"][0]
            compile_opts = [a for a in opts]
            # steps/emit/target are check's own; compile takes --emit/--target.
            drop = {"--steps", "--emit", "--target"}
            cleaned = []
            it = iter(compile_opts)
            for a in it:
                if a in drop:
                    next(it)
                    continue
                cleaned.append(a)
            p = run([motec, "compile", model, "-o", d, "--emit", emit,
                     "--target", target] + cleaned)
            if p.returncode != 0:
                fail("motec compile failed")
            for name, sha in base["code_sha256"].items():
                with open(os.path.join(d, name), "rb") as f:
                    got = hashlib.sha256(f.read()).hexdigest()
                if got != sha:
                    fail(f"{name}: sha256 {got}, the baseline says {sha}")
    else:
        fail("unknown case " + case)
    print(f"check_regression: {case}: ok")


if __name__ == "__main__":
    main()
