#!/usr/bin/python3
"""arena_le.py A.txt B.txt: exits 1 unless the arena `motec plan` printed in
A is at most the one in B (prints both)."""
import re
import sys

a, b = (int(re.search(r"arena: (\d+) bytes", open(p).read()).group(1)) for p in sys.argv[1:3])
print(f"arena {a} <= {b}: {a <= b}")
sys.exit(0 if a <= b else 1)
