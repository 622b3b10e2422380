#!/usr/bin/python3
"""Writes docs/cli.md from motec's own --help output, or checks it is current.

usage: gen-cli-docs.py MOTEC [--check]   (run from anywhere)
With --check, exits 1 if docs/cli.md differs from what motec prints, so the
reference cannot drift from the tool (the test suite runs the check).
"""
import os
import subprocess
import sys

COMMANDS = ["inspect", "compile", "plan", "run", "check"]


def render(motec):
    def helptext(*args):
        return subprocess.run([motec, *args, "--help"], check=True,
                              capture_output=True, text=True).stdout
    out = ["# motec command-line reference", "",
           "Generated from `motec --help` and `motec COMMAND --help` by "
           "`tools/gen-cli-docs.py`; the test suite checks it is current.", "",
           "```", helptext().rstrip("\n"), "```"]
    for c in COMMANDS:
        out += ["", f"## motec {c}", "", "```", helptext(c).rstrip("\n"), "```"]
    return "\n".join(out) + "\n"


def main():
    motec = sys.argv[1]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "cli.md")
    text = render(motec)
    if "--check" in sys.argv:
        current = open(path).read() if os.path.exists(path) else ""
        if current != text:
            sys.exit("docs/cli.md is out of date: run tools/gen-cli-docs.py build/bin/motec")
        print("docs/cli.md is current")
        return
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
