#!/usr/bin/env python3
"""CART fit time, xai against scikit-learn, on the same rows in one run.

Usage (from the repository root; needs scikit-learn and numpy)::

    python tools/bench_cart.py [--rows 100000] [--features 30] [--repeats 3]

Makes a seeded ``make_classification`` problem (``--rows`` × ``--features``, 10 informative
features, 2 classes, ``random_state=0``), writes it as a CSV, and times the fastest of
``--repeats`` fits of a fully grown Gini tree (scikit-learn defaults: all features, no depth
limit) by scikit-learn's ``DecisionTreeClassifier`` (single-threaded: it has no thread option)
and by xai's ``Cart`` (``benches/src/bin/cart_fit.rs``, all cores and one core by
``RAYON_NUM_THREADS``). Only the fit is timed on both sides. Prints each time, the trees'
depth and leaf count, and the ratios xai / scikit-learn (below 1: xai is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import sklearn
from sklearn.datasets import make_classification
from sklearn.tree import DecisionTreeClassifier


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--features", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    x, y = make_classification(
        n_samples=a.rows, n_features=a.features, n_informative=10, random_state=0
    )
    x = x.astype(np.float32)
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "xai-benches", "--bin", "cart_fit"], check=True
    )
    with tempfile.TemporaryDirectory() as d:
        csv = Path(d) / "cart.csv"
        header = ",".join(f"f{j}" for j in range(a.features)) + ",target"
        np.savetxt(csv, np.column_stack([x, y]), delimiter=",", header=header, comments="", fmt="%.9g")
        # Read back what xai reads: the CSV's float32 values.
        data = np.loadtxt(csv, delimiter=",", skiprows=1, dtype=np.float64)
        xs, ys = data[:, :-1].astype(np.float32), data[:, -1].astype(int)
        best = float("inf")
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            tree = DecisionTreeClassifier(random_state=0).fit(xs, ys)
            best = min(best, time.perf_counter() - t0)
        print(f"scikit-learn {sklearn.__version__}: {best:.3f} s, depth {tree.get_depth()}, leaves {tree.get_n_leaves()}")
        ours = {}
        for threads in [os.cpu_count(), 1]:
            env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
            out = subprocess.run(
                ["target/release/cart_fit", str(csv), "gini", str(a.repeats)],
                check=True, capture_output=True, text=True, env=env,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            ours[threads] = r["seconds"]
            print(f"xai ({threads} threads): {r['seconds']:.3f} s, depth {r['depth']}, leaves {r['leaves']}")
        for threads, s in ours.items():
            print(f"ratio xai/scikit-learn ({threads} threads): {s / best:.3f}")


if __name__ == "__main__":
    main()
