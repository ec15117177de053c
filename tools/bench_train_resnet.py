#!/usr/bin/env python3
"""Times training a small ResNet on the bundled MNIST digits with `xai train` and with PyTorch,
side by side, and prints both held-out accuracies.

The net: examples/mnist_resnet.json (model format version 2): stem conv 1→16 + ReLU + 2×2 max
pooling, two residual blocks (conv, batch norm, ReLU, conv, batch norm, `x + y`, ReLU; the
second 16→32 with stride 2 and a 1×1 projection shortcut), global average pooling, linear.
Data: data/mnist_5k.csv.gz, 80% stratified train split (4,000 rows), pixels standardised with the
train split's mean and std (`--standardize`). 15 epochs, batch 64, Adam lr 2e-3 with cosine
annealing per epoch, f32. xai is timed twice: as a whole process (loading, training,
evaluation and writing the model included) and by its training loop alone (the epochs'
`train_seconds` it reports); PyTorch in-process, the training loop only (imports, data loading
and evaluation excluded), at its best thread count (1 or 2, both measured). The whole-process
ratio favours PyTorch; the loop ratio compares like with like.

Usage: python tools/bench_train_resnet.py [--repeats 3] [--epochs 15] [--xai target/release/xai]
Needs torch and numpy (the project itself never needs Python).
"""
import argparse, gzip, json, os, subprocess, sys, tempfile, time

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.shortcut = nn.Conv2d(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(y + (x if self.shortcut is None else self.shortcut(x)))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.relu, self.stem_pool = nn.Conv2d(1, 16, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2)
        self.block1, self.block2 = Block(16, 16, 1), Block(16, 32, 2)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(32, 10)

    def forward(self, x):
        x = self.block2(self.block1(self.stem_pool(self.relu(self.stem(x)))))
        return self.fc(torch.flatten(self.pool(x), 1))


def split(seed):
    """A stratified 80/20 split as `xai train --test-fraction 0.2` makes it (per class)."""
    with gzip.open(os.path.join(ROOT, "data", "mnist_5k.csv.gz"), "rt") as f:
        a = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float32)
    x, y = a[:, :-1].reshape(-1, 1, 28, 28), a[:, -1].astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:100] for c in range(10)])
    train = np.setdiff1d(np.arange(len(y)), test)
    return x[train], y[train], x[test], y[test]


def torch_train(epochs, seed, threads):
    torch.set_num_threads(threads)
    xt, yt, xv, yv = split(seed)
    mean, std = xt.mean(), xt.std()
    xt, xv = torch.from_numpy((xt - mean) / std), torch.from_numpy((xv - mean) / std)
    yt, yv = torch.from_numpy(yt), torch.from_numpy(yv)
    torch.manual_seed(seed)
    model = ResNet()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
        sched.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        acc = (model(xv).argmax(1) == yv).float().mean().item()
    return seconds, acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--xai", default=os.path.join(ROOT, "target", "release", "xai"))
    a = ap.parse_args()
    ours, our_loop, our_acc, theirs = [], [], [], {1: [], 2: []}
    their_acc = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            start = time.perf_counter()
            out = subprocess.run(
                [a.xai, "train", "--model", os.path.join(ROOT, "examples", "mnist_resnet.json"),
                 "--data", "mnist", "--epochs", str(a.epochs), "--batch-size", "64", "--lr", "2e-3",
                 "--optimizer", "adam", "--schedule", "cosine", "--standardize", "--test-fraction", "0.2",
                 "--seed", str(r), "--quiet", "--output", os.path.join(tmp, "m.json")],
                check=True, stdout=subprocess.PIPE, text=True).stdout
            ours.append(time.perf_counter() - start)
            report = json.loads(out.strip().splitlines()[-1])
            our_acc.append(report["test_accuracy"])
            our_loop.append(report["train_seconds"])
            for threads in (1, 2):
                s, acc = torch_train(a.epochs, r, threads)
                theirs[threads].append(s)
                their_acc.append(acc)
    mo = float(np.median(ours))
    best = min(theirs, key=lambda t: np.median(theirs[t]))
    mt = float(np.median(theirs[best]))
    ml = float(np.median(our_loop))
    print(f"xai train (whole process): median {mo:.2f} s over {a.repeats} runs; "
          f"held-out accuracy {min(our_acc):.3f}–{max(our_acc):.3f}")
    print(f"xai train (training loop): median {ml:.2f} s")
    for t in (1, 2):
        print(f"PyTorch {torch.__version__}, {t} thread(s) (training loop): median {np.median(theirs[t]):.2f} s")
    print(f"PyTorch held-out accuracy {min(their_acc):.3f}–{max(their_acc):.3f}")
    print(f"ratio xai/PyTorch (best PyTorch setting, {best} thread(s)): whole process {mo / mt:.3f}, "
          f"training loops {ml / mt:.3f}")


if __name__ == "__main__":
    sys.exit(main())
