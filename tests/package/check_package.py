#!/usr/bin/python3
"""Checks the installed CMake package: find_package(Mote) + mote_add_model().

usage: check_package.py install BUILD_DIR PREFIX
       check_package.py host PREFIX WORK_DIR SOURCE_DIR [BUILD_DIR]
       check_package.py cortex-m4 PREFIX WORK_DIR SOURCE_DIR

install: `cmake --install BUILD_DIR --prefix PREFIX` into a fresh PREFIX;
  checks the layout and that no installed CMake file names the build or
  source tree (the install is relocatable).
host: configures examples/cmake-user against PREFIX (-DCMAKE_PREFIX_PATH),
  builds and runs it with EMIT cpp and EMIT obj; the printed losses must be
  finite, decreasing and equal (1e-4) to what the installed `motec run
  --engine interp` gives for the same input. Then: a second build runs
  nothing, a different UPDATE re-runs motec (the arena in kws.h changes),
  mote_add_model's argument errors are clear configure errors, and (with
  BUILD_DIR) the build tree's own MoteConfig.cmake works too.
cortex-m4: the same program cross-built with the package's toolchain file
  (EMIT obj: the LLVM backend's object; EMIT cpp: arm-none-eabi-g++), linked
  with the MPS2 board files and run under qemu-system-arm (mps2-an386);
  also `motec run --count-instructions` from the install (the qemu plugin
  next to the installed motec). Exits 77 (skipped) without
  arm-none-eabi-g++ or qemu-system-arm.
Exits 1 on failure, saying what differs.
"""
import math
import os
import re
import shutil
import subprocess
import sys

STEPS = 5
UPDATE = "*.bias;classifier.*"
LR = "0.05"
LABEL = 3


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def run(cmd, cwd=None, expect_ok=True, timeout=300):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    if expect_ok and r.returncode != 0:
        fail(f"{' '.join(cmd)} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def generator():
    return ["-G", "Ninja"] if shutil.which("ninja") else []


def configure(src, build, prefix, *extra):
    shutil.rmtree(build, ignore_errors=True)
    run(["cmake", "-S", src, "-B", build, *generator(),
         f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release",
         f"-DKWS_STEPS={STEPS}", *extra])


def build(build_dir):
    return run(["cmake", "--build", build_dir]).stdout


def parse_losses(text):
    losses = [float(v) for v in re.findall(r"^step \d+ loss (\S+)$", text, re.M)]
    if len(losses) != STEPS:
        fail(f"expected {STEPS} losses, the program printed:\n{text}")
    if not all(math.isfinite(v) for v in losses):
        fail(f"a loss is not finite: {losses}")
    if not all(b < a for a, b in zip(losses, losses[1:])):
        fail(f"the losses do not decrease: {losses}")
    return losses


def arena_bytes(build_dir):
    with open(os.path.join(build_dir, "mote", "kws", "kws.h")) as f:
        m = re.search(r"#define kws_ARENA_BYTES (\d+)", f.read())
    if not m:
        fail(f"no kws_ARENA_BYTES in {build_dir}/mote/kws/kws.h")
    return int(m.group(1))


def reference_losses(prefix, source, work):
    """The installed motec's interpreter on the example's input."""
    import numpy as np
    from onnx import numpy_helper
    os.makedirs(work, exist_ok=True)
    i = np.arange(49 * 10)
    mfcc = (((i * 37) % 101).astype(np.float32) / np.float32(50.0)
            - np.float32(1.0)).reshape(1, 1, 49, 10)
    for name, arr in (("mfcc", mfcc), ("label", np.array([LABEL], np.int32))):
        with open(os.path.join(work, f"{name}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(arr, name).SerializeToString())
    dump = os.path.join(work, "dump")
    cmd = [os.path.join(prefix, "bin", "motec"), "run",
           os.path.join(source, "examples", "kws", "kws.onnx"), "--train",
           "--optimizer", "sgd", "--lr", LR, "--engine", "interp",
           "--input", f"mfcc={work}/mfcc.pb", "--input", f"label={work}/label.pb",
           "--steps", str(STEPS), "--dump", dump]
    for rule in UPDATE.split(";"):
        cmd += ["--update", rule]
    run(cmd)
    with open(os.path.join(dump, "loss.pb"), "rb") as f:
        from onnx import TensorProto
        t = TensorProto()
        t.ParseFromString(f.read())
    return [float(v) for v in numpy_helper.to_array(t).reshape(-1)]


def compare(what, got, want, tol=1e-4):
    for k, (g, w) in enumerate(zip(got, want)):
        if abs(g - w) > tol * max(1.0, abs(w)):
            fail(f"{what}: step {k} loss {g}, motec run gives {w}")
    print(f"ok: {what}: losses {got}")


def check_install(build_dir, prefix):
    shutil.rmtree(prefix, ignore_errors=True)
    run(["cmake", "--install", build_dir, "--prefix", prefix])
    for rel in ["bin/motec", "bin/libmote-icount.so",
                "lib/cmake/Mote/MoteConfig.cmake",
                "lib/cmake/Mote/MoteConfigVersion.cmake",
                "lib/cmake/Mote/arm-none-eabi.cmake",
                "share/mote/runtime-stub/mote_rt/core.h",
                "share/mote/runtime-stub/board/mps2/link.ld",
                "share/mote/runtime-stub/board/mps2/startup.cpp"]:
        if not os.path.exists(os.path.join(prefix, rel)):
            fail(f"not installed: {rel}")
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.dirname(os.path.dirname(here))
    for d, _, files in os.walk(prefix):
        for name in files:
            if not name.endswith((".cmake", ".h", ".cpp", ".ld")):
                continue
            with open(os.path.join(d, name), errors="replace") as f:
                text = f.read()
            for tree in (os.path.abspath(build_dir), source, prefix):
                if tree in text:
                    fail(f"{os.path.join(d, name)} names {tree}: not relocatable")
    print(f"ok: installed into {prefix}")


# Each case: (mote_add_model arguments, text the configure error must contain).
ERROR_CASES = [
    ("TRAIN", "MODEL <file.onnx> is required"),
    ("MODEL missing.onnx", "does not exist"),
    ("MODEL ${M} EMIT asm", "EMIT must be cpp or obj, not 'asm'"),
    ("MODEL ${M} EMIT obj UPDATE *.bias", "UPDATE needs TRAIN"),
    ("MODEL ${M} EMIT obj TRAIN OPTIMIZER rmsprop", "OPTIMIZER must be sgd, momentum or adam"),
    ("MODEL ${M} EMIT obj TRAIN LR fast", "LR must be a positive number"),
    ("MODEL ${M} EMIT obj TARGET_CPU riscv", "TARGET_CPU 'riscv' is not one of"),
    ("MODEL ${M} EMIT obj NAME 9lives", "NAME '9lives' is not a C identifier"),
    ("MODEL ${M} EMIT obj SPEED 3", "unexpected arguments"),
    ("MODEL ${M} EMIT obj NAME", "NAME needs a value"),
    ("MODEL ${M}", "EMIT cpp needs the CXX language"),
]


def check_errors(prefix, source, work):
    src = os.path.join(work, "errors-src")
    os.makedirs(src, exist_ok=True)
    model = os.path.join(source, "examples", "kws", "kws.onnx")
    for k, (call, want) in enumerate(ERROR_CASES):
        with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.20)\n"
                    "project(errors LANGUAGES NONE)\n"
                    "find_package(Mote REQUIRED)\n"
                    f'set(M "{model}")\n'
                    f"mote_add_model(m {call})\n")
        b = os.path.join(work, "errors-build")
        shutil.rmtree(b, ignore_errors=True)
        r = run(["cmake", "-S", src, "-B", b, f"-DCMAKE_PREFIX_PATH={prefix}"],
                expect_ok=False)
        text = re.sub(r"\s+", " ", r.stderr)
        if r.returncode == 0 or want not in text:
            fail(f"mote_add_model(m {call}): expected a configure error with "
                 f"'{want}', got exit {r.returncode}:\n{r.stderr}")
    print(f"ok: {len(ERROR_CASES)} argument errors reported at configure time")


def check_host(prefix, work, source, build_dir):
    example = os.path.join(source, "examples", "cmake-user")
    want = reference_losses(prefix, source, os.path.join(work, "ref"))
    for emit in ("cpp", "obj"):
        b = os.path.join(work, f"host-{emit}")
        configure(example, b, prefix, f"-DKWS_EMIT={emit}")
        build(b)
        out = run([os.path.join(b, "kws_app")]).stdout
        compare(f"host, EMIT {emit}", parse_losses(out), want)

    # Nothing to do on a second build; a new option re-runs motec.
    b = os.path.join(work, "host-cpp")
    header = os.path.join(b, "mote", "kws", "kws.h")
    before, stamp = arena_bytes(b), os.stat(header).st_mtime_ns
    build(b)
    if os.stat(header).st_mtime_ns != stamp:
        fail("a second build with nothing changed re-ran motec")
    run(["cmake", "-DKWS_UPDATE=classifier.*", b])
    out = build(b)
    after = arena_bytes(b)
    if after == before or "mote: compiling" not in out:
        fail(f"changing UPDATE did not re-run motec (arena {before} -> {after})"
             f"\n{out}")
    parse_losses(run([os.path.join(b, "kws_app")]).stdout)
    print(f"ok: UPDATE changed -> motec re-ran, arena {before} -> {after} bytes")

    check_errors(prefix, source, work)

    if build_dir:
        b = os.path.join(work, "build-tree")
        configure(example, b, prefix, f"-DMote_DIR={os.path.abspath(build_dir)}")
        cache = open(os.path.join(b, "CMakeCache.txt")).read()
        if not re.search(rf"^Mote_DIR:\w+={re.escape(os.path.abspath(build_dir))}$",
                         cache, re.M):
            fail("the build-tree package was not the one found")
        build(b)
        out = run([os.path.join(b, "kws_app")]).stdout
        compare("build tree's MoteConfig.cmake, EMIT cpp", parse_losses(out), want)


def check_cortex_m4(prefix, work, source):
    missing = [t for t in ("arm-none-eabi-g++", "qemu-system-arm")
               if not shutil.which(t)]
    if missing:
        print(f"SKIP: needs {', '.join(missing)} (tools/install-deps.sh)")
        sys.exit(77)
    example = os.path.join(source, "examples", "cmake-user")
    toolchain = os.path.join(prefix, "lib", "cmake", "Mote", "arm-none-eabi.cmake")
    want = reference_losses(prefix, source, os.path.join(work, "ref"))
    qemu = ["qemu-system-arm", "-M", "mps2-an386", "-cpu", "cortex-m4",
            "-nographic", "-monitor", "none", "-serial", "none",
            "-semihosting-config", "enable=on,target=native", "-kernel"]
    for emit in ("obj", "cpp"):
        b = os.path.join(work, f"m4-{emit}")
        configure(example, b, prefix, f"-DKWS_EMIT={emit}",
                  f"-DCMAKE_TOOLCHAIN_FILE={toolchain}")
        log = build(b)
        if "warning" in log.lower():
            fail(f"Cortex-M4 EMIT {emit} build warns:\n{log}")
        elf = os.path.join(b, "kws_app.elf")
        machine = run(["arm-none-eabi-readelf", "-h", elf]).stdout
        if "ARM" not in machine:
            fail(f"{elf} is not an Arm ELF:\n{machine}")
        # QEMU writes the semihosting console to stderr when stdout is no
        # terminal.
        r = run(qemu + [elf], timeout=120)
        out = r.stdout + r.stderr
        compare(f"cortex-m4 (qemu), EMIT {emit}", parse_losses(out), want)

    # The installed motec finds the counting plugin installed beside it.
    r = run([os.path.join(prefix, "bin", "motec"), "run",
             os.path.join(source, "examples", "kws", "kws.onnx"), "--train",
             "--update", "*.bias", "--target", "cortex-m4",
             "--input", f"mfcc={work}/ref/mfcc.pb",
             "--input", f"label={work}/ref/label.pb",
             "--count-instructions"])
    if not re.search(r"instructions per training step: \d+", r.stdout):
        fail(f"installed motec --count-instructions printed:\n{r.stdout}")
    print("ok: installed motec --count-instructions (plugin next to motec)")


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        sys.exit(2)
    mode = sys.argv[1]
    if mode == "install":
        check_install(sys.argv[2], sys.argv[3])
    elif mode == "host":
        check_host(sys.argv[2], sys.argv[3], sys.argv[4],
                   sys.argv[5] if len(sys.argv) > 5 else None)
    elif mode == "cortex-m4":
        check_cortex_m4(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
