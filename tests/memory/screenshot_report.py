#!/usr/bin/python3
"""Headless Chromium renders the HTML memory report.

usage: screenshot_report.py MOTEC MODEL.onnx [--keep FILE.png]

Runs `motec plan MODEL --train --update '*.bias' --report-html OUT.html`,
takes a screenshot of the page with headless Chromium and decodes the PNG
(zlib and struct only, every PNG filter type) to check that the page is not
blank: a substantial share of the pixels differs from the background, and
the buffer colours of the report (one per tensor kind) cover enough pixels
to be the arena rectangles rather than the legend alone (a training step
has at least activations and gradients; with '*.bias' the trained
parameters are too thin to count). Prints the
figures; exits 1 if a check fails and 77 (skipped) if chromium is not
installed. --keep copies the screenshot to FILE.png.
"""
import argparse
import collections
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

# The colours HtmlReport.cpp gives the tensor kinds.
KIND_COLOURS = {
    "input": (0xf2, 0x8e, 0x2b),
    "activation": (0x4e, 0x79, 0xa7),
    "gradient": (0xe1, 0x57, 0x59),
    "param": (0x59, 0xa1, 0x4f),
    "optimizer_state": (0xb0, 0x7a, 0xa1),
}
# A legend swatch is 12 x 12 pixels; a kind counts as drawn in the arena
# only with clearly more pixels than that.
MIN_KIND_PIXELS = 1000
MIN_KINDS = 2
# Share of the page the rectangles of all kinds together must cover.
MIN_RECTANGLES = 0.10
# Share of pixels that must differ from the background colour.
MIN_FOREGROUND = 0.10
MIN_DISTINCT_COLOURS = 8

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1400,900",
]


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data):
    """Returns (width, height, rows of RGB tuples) of an 8-bit PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header, palette = 8, [], None, None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = [tuple(body[i:i + 3]) for i in range(0, len(body), 3)]
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    if depth != 8 or interlace:
        raise ValueError(f"unsupported PNG: bit depth {depth}, interlace {interlace}")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        filt = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if filt == 1:
                line[i] = (line[i] + a) & 0xff
            elif filt == 2:
                line[i] = (line[i] + b) & 0xff
            elif filt == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xff
            elif filt == 4:
                line[i] = (line[i] + paeth(a, b, c)) & 0xff
            elif filt != 0:
                raise ValueError(f"bad PNG filter type {filt} in row {y}")
        prev = line
        if colour == 2:
            px = [tuple(line[i:i + 3]) for i in range(0, stride, 3)]
        elif colour == 6:
            px = [tuple(line[i:i + 3]) for i in range(0, stride, 4)]
        elif colour == 3:
            px = [palette[v] for v in line]
        else:
            px = [(v, v, v) for v in line[::channels]]
        rows.append(px)
    return width, height, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("motec")
    ap.add_argument("model")
    ap.add_argument("--keep", help="copy the screenshot here")
    a = ap.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("SKIPPED: chromium is not installed")
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="mote-report-html-") as tmp:
        html = os.path.join(tmp, "report.html")
        png = os.path.join(tmp, "report.png")
        cmd = [a.motec, "plan", a.model, "--train", "--update", "*.bias",
               "--report-html", html]
        print("$", shlex.join(cmd))
        subprocess.run(cmd, check=True)
        cmd = [chromium] + CHROMIUM_FLAGS + [
            f"--user-data-dir={os.path.join(tmp, 'profile')}",
            f"--screenshot={png}", "file://" + html]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or not os.path.exists(png):
            print(r.stderr[-2000:])
            print(f"FAIL: chromium exited {r.returncode} without a screenshot")
            sys.exit(1)
        data = open(png, "rb").read()
        if a.keep:
            shutil.copyfile(png, a.keep)
    width, height, rows = decode_png(data)
    counts = collections.Counter(p for row in rows for p in row)
    total = width * height
    background, bg_count = counts.most_common(1)[0]
    foreground = 1 - bg_count / total
    kinds = {k: counts.get(c, 0) for k, c in KIND_COLOURS.items()}
    drawn = [k for k, n in kinds.items() if n >= MIN_KIND_PIXELS]
    rectangles = sum(kinds.values()) / total
    print(f"screenshot {width}x{height}, {len(data)} bytes; background "
          f"#{bytes(background).hex()} covers {bg_count / total:.1%}")
    print(f"non-background pixels: {foreground:.1%} (need >= {MIN_FOREGROUND:.0%}); "
          f"distinct colours: {len(counts)} (need >= {MIN_DISTINCT_COLOURS})")
    for k, n in kinds.items():
        print(f"  {k:<16} #{bytes(KIND_COLOURS[k]).hex()}: {n:>7} pixels "
              f"({n / total:.2%})")
    print(f"tensor kinds drawn (>= {MIN_KIND_PIXELS} pixels): {len(drawn)} "
          f"({', '.join(drawn)}; need >= {MIN_KINDS}); their rectangles cover "
          f"{rectangles:.1%} of the page (need >= {MIN_RECTANGLES:.0%})")
    errors = []
    if foreground < MIN_FOREGROUND:
        errors.append(f"only {foreground:.1%} of the pixels differ from the background")
    if len(counts) < MIN_DISTINCT_COLOURS:
        errors.append(f"only {len(counts)} distinct colours")
    if len(drawn) < MIN_KINDS:
        errors.append(f"only {len(drawn)} tensor kinds are drawn as arena rectangles")
    if rectangles < MIN_RECTANGLES:
        errors.append(f"the arena rectangles cover only {rectangles:.1%} of the page")
    for e in errors:
        print("FAIL:", e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
