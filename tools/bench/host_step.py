#!/usr/bin/python3
"""Host training-step benchmark: generated code against PyTorch eager.

usage: tools/bench/host_step.py [--motec build/bin/motec] [--oracle build/oracle]
                                [--models mlp,cnn,kws,mobilenet_v2_w035,transformer]
                                [--specs full,bias,channels] [--steps 200]
                                [--cxxflags '-O3 -march=native']

For each oracle model and update spec (tests/models/train_oracle.py; `ctest
-R oracle-export` writes them), one training step (SGD, the oracle's batch
and input) is timed two ways in the same run, single-threaded:

- mote: `motec run --steps N --keep` and `--steps 1 --keep` build the
  generated code with the host harness (c++ -O2, then --cxxflags if
  given: `motec run --cxxflags`); each binary runs 3 times
  and the least time counts; per step = (t(N) - t(1)) / (N - 1). Peak RSS is
  the N-step process's.
- PyTorch eager: the same module and parameters (train_oracle.py), frozen
  parameters with requires_grad=False, torch.optim.SGD over the trained
  ones, torch.set_num_threads(1); median of N steps after 10 warm-up steps,
  in a child process whose peak RSS is reported (it includes PyTorch
  itself, which is what a device running eager PyTorch would pay). PyTorch
  has no channel-sparse update: for 'channels' specs it computes whole
  gradients of the partly trained tensors.

Prints a table with both times, the ratio and both peak RSS figures. A table
of figures, not a test.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

TORCH_CHILD = r"""
import json, math, os, resource, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import torch
import torch.nn.functional as F
import train_oracle as O
torch.set_num_threads(1)
name, rules, steps = sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
ctor, shape, classes, _ = O.MODELS[name]
gen = torch.Generator().manual_seed(1234)
torch.manual_seed(7)
model = ctor()
O.randomize_batchnorm(model, gen)
model.eval()
with torch.no_grad():
    O.fold_batchnorm(model)
x = torch.randn(*shape, generator=gen)
label = torch.randint(0, classes, (shape[0],), generator=gen)
train = []
for n, p in model.named_parameters():
    keep = (O.match(rules, n) if rules else 1.0) is not None
    p.requires_grad_(keep)
    if keep:
        train.append(p)
opt = torch.optim.SGD(train, lr=O.LR)
def step():
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), label)
    loss.backward()
    opt.step()
for _ in range(10):
    step()
times = []
for _ in range(steps):
    t = time.perf_counter()
    step()
    times.append(time.perf_counter() - t)
print(json.dumps({"step": statistics.median(times),
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def spec_of(oracle, model, spec):
    return json.load(open(os.path.join(oracle, model, spec, "spec.json")))


def build(motec, oracle, model, s, steps, cxxflags):
    mdir = os.path.join(oracle, model)
    cmd = [motec, "run", os.path.join(mdir, "model.onnx"), "--train",
           "--lr", str(s["lr"]), "--optimizer", s["optimizer"],
           "--input", "input=" + os.path.join(mdir, "input.pb"),
           "--input", "label=" + os.path.join(mdir, "label.pb"),
           "--steps", str(steps), "--keep"]
    for r in s["update"]:
        cmd += ["--update", r]
    if cxxflags:
        cmd += ["--cxxflags", cxxflags]
    r = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"generated code kept in (\S+)", r.stdout)
    if r.returncode != 0 or not m:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return m.group(1)


def run_timed(d):
    """Least wall time of 3 runs of d/run, and the peak RSS (KB)."""
    best, rss = None, 0
    for _ in range(3):
        t = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.chdir(d)
            os.execv("./run", ["./run"])
        _, status, ru = os.wait4(pid, 0)
        dt = time.perf_counter() - t
        if status != 0:
            sys.exit(f"{d}/run failed")
        best = dt if best is None else min(best, dt)
        rss = max(rss, ru.ru_maxrss)
    return best, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--motec", default=os.path.join(ROOT, "build", "bin", "motec"))
    ap.add_argument("--oracle", default=os.path.join(ROOT, "build", "oracle"))
    ap.add_argument("--models", default="mlp,cnn,kws,mobilenet_v2_w035,transformer")
    ap.add_argument("--specs", default="full,bias,channels")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--cxxflags", default="")
    a = ap.parse_args()
    print("one training step, batch as exported, SGD, single thread "
          f"({a.steps} steps); generated code built with c++ -O2 "
          f"{a.cxxflags}\n")
    print(f"{'model':<18} {'spec':<9} {'mote us':>10} {'torch us':>10} "
          f"{'speedup':>8} {'mote RSS KB':>12} {'torch RSS KB':>13}")
    for model in a.models.split(","):
        for spec in a.specs.split(","):
            s = spec_of(a.oracle, model, spec)
            dn = build(a.motec, a.oracle, model, s, a.steps, a.cxxflags)
            d1 = build(a.motec, a.oracle, model, s, 1, a.cxxflags)
            tn, rss = run_timed(dn)
            t1, _ = run_timed(d1)
            for d in (dn, d1):
                subprocess.run(["rm", "-rf", d])
            mote = max(tn - t1, 0.0) / (a.steps - 1)
            r = subprocess.run(
                [sys.executable, "-c", TORCH_CHILD,
                 os.path.join(ROOT, "tests", "models"), model,
                 json.dumps(s["update"]), str(a.steps)],
                capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(r.stderr)
            t = json.loads(r.stdout.strip().splitlines()[-1])
            print(f"{model:<18} {spec:<9} {mote * 1e6:>10.1f} "
                  f"{t['step'] * 1e6:>10.1f} {t['step'] / mote if mote else 0:>8.1f} "
                  f"{rss:>12,} {t['rss_kb']:>13,}", flush=True)


if __name__ == "__main__":
    main()
