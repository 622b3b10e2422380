#!/usr/bin/python3
"""Generates the ONNX backend node tests (models + .pb data) into a directory.

Uses Debian's python3-onnx (1.12). numpy 1.24 removed the aliases np.float,
np.int, np.bool, np.object and np.complex that onnx 1.12's test generators
still use; they are put back before onnx is imported.

usage: gen_node_tests.py OUTDIR
"""
import os
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")
for alias, builtin in (("float", float), ("int", int), ("bool", bool),
                       ("object", object), ("complex", complex)):
    if alias not in np.__dict__:
        setattr(np, alias, builtin)

from onnx.backend.test.cmd_tools import main  # noqa: E402

if len(sys.argv) != 2:
    sys.exit("usage: gen_node_tests.py OUTDIR")
out = sys.argv[1]
stamp = os.path.join(out, "node", ".generated")
if not os.path.exists(stamp):
    sys.argv = [sys.argv[0], "generate-data", "-o", out]
    main()
    open(stamp, "w").close()
print("node tests in", os.path.join(out, "node"))
