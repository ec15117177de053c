#!/usr/bin/env python3
"""Times training the 8x8-digits CNN with `xai train` and with PyTorch, side by side.

Same architecture (examples/digits_cnn.json), data (data/digits.csv, 80% stratified train
split: 1438 rows), 30 epochs, batch 32, Adam lr 1e-3, f32, 2 threads. xai is timed as a whole
process (loading, training, evaluation and writing the model included); PyTorch in-process,
training loop only (imports and data loading excluded), which favours PyTorch.

Usage: python tools/bench_train_digits.py [--repeats 3] [--xai target/release/xai]
Needs torch and numpy (the project itself never needs Python).
"""
import argparse, os, subprocess, sys, tempfile, time

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def torch_train(x, y, epochs, seed):
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    n = x.shape[0]
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--xai", default=os.path.join(ROOT, "target", "release", "xai"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    data = np.loadtxt(os.path.join(ROOT, "data", "digits.csv"), delimiter=",", skiprows=1, dtype=np.float32)
    rng = np.random.default_rng(0)
    train_rows = rng.permutation(len(data))[:1438]
    x = torch.from_numpy(data[train_rows, :-1].reshape(-1, 1, 8, 8).copy())
    y = torch.from_numpy(data[train_rows, -1].astype(np.int64))
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            start = time.perf_counter()
            subprocess.run([a.xai, "train", "--model", os.path.join(ROOT, "examples", "digits_cnn.json"),
                            "--data", "digits", "--epochs", str(a.epochs), "--batch-size", "32", "--lr", "1e-3",
                            "--optimizer", "adam", "--test-fraction", "0.2", "--seed", str(r), "--quiet",
                            "--output", os.path.join(tmp, "m.json")], check=True, stdout=subprocess.DEVNULL)
            ours.append(time.perf_counter() - start)
            theirs.append(torch_train(x, y, a.epochs, r))
    mo, mt = float(np.median(ours)), float(np.median(theirs))
    print(f"xai train (whole process): median {mo:.3f} s over {a.repeats} runs")
    print(f"PyTorch {torch.__version__} (training loop): median {mt:.3f} s")
    print(f"ratio xai/PyTorch: {mo / mt:.3f}")


if __name__ == "__main__":
    sys.exit(main())
