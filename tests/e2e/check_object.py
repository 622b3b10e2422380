#!/usr/bin/python3
"""Checks the objects of the LLVM backend (motec compile --emit obj).

usage: check_object.py MOTEC MODEL.onnx targets T1 [T2 ...]
       check_object.py MOTEC MODEL.onnx determinism
       check_object.py MOTEC - missing-kernel

targets: for each target, compiles MODEL (training, only '*.bias' trained so
  the other weights are frozen) with --emit obj --target T and checks with
  llvm-readelf-19 / llvm-nm-19 that the object is an ELF relocatable for the
  target's machine, that it needs no symbol beyond memcpy / memset / memmove
  (on 32-bit Arm also their AEABI names, which LLVM uses there), that it
  defines the generated API, and that the frozen weights (local symbols
  model_w<N>) sit in a read-only, allocated, non-executable section.
determinism: two compiles give byte-identical objects.
missing-kernel: a model whose node needs a kernel instance the library does
  not have (Pow with an int8 exponent) fails at compile time with exit code 1
  and a message naming the node, the op and the instance.
Exits 1 on failure, printing what differs.
"""
import os
import re
import subprocess
import sys
import tempfile

MACHINE = {
    "host": "X86-64",
    "cortex-m4": "ARM",
    "cortex-m7": "ARM",
    "cortex-m55": "ARM",
    "aarch64": "AArch64",
    "hexagon": "Hexagon",
}
ALLOWED_UNDEFINED = {"memcpy", "memset", "memmove"}
AEABI = re.compile(r"^__aeabi_mem(cpy|move|set|clr)[48]?$")
API = ["model_init", "model_train_step_v", "model_train_step", "model_infer_v",
       "model_infer", "model_save", "model_load"]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def compile_obj(motec, model, target, out):
    r = run([motec, "compile", model, "--train", "--update", "*.bias",
             "--emit", "obj", "--target", target, "-o", out])
    if r.returncode != 0:
        print(" ".join(r.args))
        print(r.stdout, r.stderr)
        return None
    return os.path.join(out, "model.o")


def check_target(motec, model, target, tmp):
    errors = []
    obj = compile_obj(motec, model, target, os.path.join(tmp, target))
    if obj is None:
        return [f"{target}: compile failed"]
    if not os.path.exists(os.path.join(tmp, target, "model.h")):
        errors.append(f"{target}: no model.h")
    hdr = run(["llvm-readelf-19", "-h", obj]).stdout
    m = re.search(r"Machine:\s+(.*)", hdr)
    machine = m.group(1) if m else "?"
    if MACHINE[target] not in machine:
        errors.append(f"{target}: machine '{machine}', want {MACHINE[target]}")
    if not re.search(r"Type:\s+REL", hdr):
        errors.append(f"{target}: not a relocatable object")
    undef = run(["llvm-nm-19", "-u", obj]).stdout.split()
    undef = [u for u in undef if u not in ("U", "w", "v")]
    bad = [u for u in undef
           if u not in ALLOWED_UNDEFINED and not AEABI.match(u)]
    if bad:
        errors.append(f"{target}: undefined symbols {bad}")
    defined = run(["llvm-nm-19", "--defined-only", obj]).stdout
    for f in API:
        if not re.search(rf"\bT {f}$", defined, re.M):
            errors.append(f"{target}: {f} is not a global function")
    # Frozen weights: read-only sections (flags A without W or X).
    sections = {}
    for line in run(["llvm-readelf-19", "-S", "-W", obj]).stdout.splitlines():
        m = re.match(r"\s*\[\s*(\d+)\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+"
                     r"[0-9a-f]+\s+[0-9a-f]+\s+([A-Za-z]*)", line)
        if m:
            sections[m.group(1)] = (m.group(2), m.group(3))
    weights = 0
    for line in run(["llvm-readelf-19", "-s", "-W", obj]).stdout.splitlines():
        f = line.split()
        if len(f) >= 8 and re.fullmatch(r"model_w\d+", f[7]):
            weights += 1
            name, flags = sections.get(f[6], ("?", ""))
            if "A" not in flags or "W" in flags or "X" in flags:
                errors.append(f"{target}: frozen weight {f[7]} in {name} "
                              f"(flags '{flags}'), want read-only data")
    if weights == 0:
        errors.append(f"{target}: no frozen weight symbols model_w<N>")
    size = os.path.getsize(obj)
    print(f"{target}: {machine}, {size} bytes, undefined {sorted(set(undef))}, "
          f"{weights} frozen weight arrays in read-only data")
    return errors


def missing_kernel(motec, tmp):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    e = numpy_helper.from_array(np.array([1, 2, 3, 2], np.int8), "e")
    node = helper.make_node("Pow", ["x", "e"], ["y"], name="power_node")
    g = helper.make_graph([node], "g", [x], [y], [e])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)])
    path = os.path.join(tmp, "pow_i8.onnx")
    onnx.save(m, path)
    r = run([motec, "compile", path, "--emit", "cpp", "-o",
             os.path.join(tmp, "cpp")])
    if r.returncode != 0:
        return [f"--emit cpp should work: {r.stderr}"]
    r = run([motec, "compile", path, "--emit", "obj", "-o",
             os.path.join(tmp, "obj")])
    print(r.stderr.strip())
    errors = []
    if r.returncode != 1:
        errors.append(f"exit code {r.returncode}, want 1")
    for want in ["power_node", "Pow", "mote_k_pow_f32_i8", "pow<"]:
        if want not in r.stderr:
            errors.append(f"the message does not name {want}")
    if os.path.exists(os.path.join(tmp, "obj")):
        errors.append("a failed compile left an output directory")
    return errors


def main():
    motec, model, what = sys.argv[1:4]
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        if what == "targets":
            for t in sys.argv[4:]:
                errors += check_target(motec, model, t, tmp)
        elif what == "determinism":
            a = compile_obj(motec, model, "host", os.path.join(tmp, "a"))
            b = compile_obj(motec, model, "host", os.path.join(tmp, "b"))
            if a is None or b is None:
                errors.append("compile failed")
            elif open(a, "rb").read() != open(b, "rb").read():
                errors.append("two compiles gave different objects")
            else:
                print(f"identical ({os.path.getsize(a)} bytes)")
        elif what == "missing-kernel":
            errors += missing_kernel(motec, tmp)
        else:
            print(__doc__)
            return 2
    for e in errors:
        print("FAIL:", e)
    print("ok" if not errors else f"{len(errors)} failure(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
