#!/usr/bin/python3
"""Runs a command and checks its exit code: expect_exit.py CODE CMD [ARGS...].

Exits 0 if CMD exited with CODE, 1 otherwise (printing what it got). The
command's output passes through, so it can be piped into FileCheck.
"""
import subprocess
import sys

want = int(sys.argv[1])
got = subprocess.call(sys.argv[2:])
if got != want:
    sys.stderr.write(f"expect_exit: '{' '.join(sys.argv[2:])}' exited {got}, expected {want}\n")
    sys.exit(1)
