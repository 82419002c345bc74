"""Shared by the plot scripts: read a run folder's records, save a figure as PDF and PNG.

Plot scripts read only the run folder's data; every number they draw comes from it
(tests/experiments/plot_scripts_test.py refuses literals that look like measured values).
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def run_dir():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} RUN_FOLDER")
    return sys.argv[1]


def records(folder, experiment):
    path = os.path.join(folder, "data", f"{experiment}.jsonl")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def save(fig, folder, name):
    for ext in ("pdf", "png"):
        fig.savefig(os.path.join(folder, "plots", f"{name}.{ext}"), dpi=150)  # style
    plt.close(fig)


def cdf(values):
    ordered = sorted(values)
    count = len(ordered)
    return ordered, [(i + 1) / count for i in range(count)]


def summary(folder):
    with open(os.path.join(folder, "summary.json"), encoding="utf-8") as f:
        return json.load(f)
