#!/usr/bin/python3
"""Checks `motec inspect` against PyTorch's own count for an exported model.

usage: check_inspect.py MOTEC MODELDIR NAME

Compares, layer by layer in execution order, the MACs and output shapes of
every Conv/Gemm/MatMul node motec reports with the Conv2d/Linear layers
PyTorch ran (export_models.py), and the totals. Prints a summary; exits 1 on
any difference. The layers are compared as the model has them (--no-stream:
the stream pass would split a chain of them into bands of rows, with the
halo rows counted again; docs/memory.md).
"""
import json
import subprocess
import sys


def main():
    motec, modeldir, name = sys.argv[1:4]
    ref = json.load(open(f"{modeldir}/{name}.json"))
    out = subprocess.run([motec, "inspect", f"{modeldir}/{name}.onnx", "--format", "json",
                          "--no-stream"],
                         check=True, capture_output=True, text=True).stdout
    got = json.loads(out)
    layers = [n for n in got["nodes"] if n["op"] in ("Conv", "Gemm", "MatMul")]
    errors = []
    if len(layers) != len(ref["layers"]):
        errors.append(f"{len(layers)} conv/gemm nodes but torch ran {len(ref['layers'])} layers")
    for i, (g, r) in enumerate(zip(layers, ref["layers"])):
        shape = "f32[" + ",".join(str(d) for d in r["shape"]) + "]"
        if g["macs"] != r["macs"] or g["results"][0] != shape:
            errors.append(f"layer {i} ({g['name']}): motec {g['macs']} MACs {g['results'][0]}, "
                          f"torch {r['macs']} MACs {shape}")
    if got["total_macs"] != ref["total_macs"]:
        errors.append(f"total MACs: motec {got['total_macs']}, torch {ref['total_macs']}")
    if got["param_elements"] != ref["torch_params"]:
        errors.append(f"params: motec {got['param_elements']}, torch {ref['torch_params']}")
    print(f"{name}: {len(layers)} layers, motec {got['total_macs']:,} MACs, "
          f"torch {ref['total_macs']:,} MACs, {got['param_elements']:,} params "
          f"(torch {ref['torch_params']:,})")
    for e in errors:
        print("MISMATCH", e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
