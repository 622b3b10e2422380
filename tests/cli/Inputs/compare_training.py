#!/usr/bin/python3
"""Compares `motec inspect --train --format json` of three update specs.

usage: compare_training.py FULL.json BIAS.json CLASSIFIER.json
Prints the trainable counts and which spec saves fewer activation bytes and
has fewer backward nodes; FileCheck reads the lines.
"""
import json
import sys

full, bias, last = (json.load(open(p))["training"] for p in sys.argv[1:4])
print(f"full: {full['trainable_params']} trainable, bias: {bias['trainable_params']} "
      f"trainable, classifier: {last['trainable_params']} trainable")


def order(key):
    a, b, c = full[key], bias[key], last[key]
    first = "bias < full" if b < a else "bias >= full"
    second = "classifier < bias" if c < b else "classifier >= bias"
    return f"{first}, {second}"


print("saved activation bytes:", order("saved_activation_bytes"))
print("backward nodes:", order("backward_nodes"))
