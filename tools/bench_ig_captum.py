#!/usr/bin/env python3
"""Side-by-side timing of xai vs Captum: Integrated Gradients (50 Gauss-Legendre steps) and
SmoothGrad (NoiseTunnel(Saliency), 50 samples) on the LeNet-5 fixture, 256 inputs of 1x28x28.

xai is timed as a whole process (`xai explain ...`, loading included); Captum in-process
(model already built, torch.set_num_threads(THREADS)). Prints per-repeat times, medians and the
xai/Captum ratio (the goal: <= 0.5).

    /work/pyenv/bin/python tools/bench_ig_captum.py [--repeats 5] [--n 256] [--threads 2]
        [--xai target/release/xai] [--internal-batch-size 512]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from export_pytorch import load  # noqa: E402

MODEL = ROOT / "xai-cli/tests/fixtures/lenet/model.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--internal-batch-size", type=int, default=512)
    ap.add_argument("--xai", default=str(ROOT / "target/release/xai"))
    ap.add_argument("--only", choices=["ig", "smoothgrad"], default=None)
    args = ap.parse_args()

    from captum.attr import IntegratedGradients, NoiseTunnel, Saliency

    torch.set_num_threads(args.threads)
    model = load(str(MODEL)).eval()
    rng = np.random.default_rng(0)
    x_np = rng.random((args.n, 1, 28, 28), dtype=np.float32)
    x = torch.from_numpy(x_np)
    with torch.no_grad():
        target = model(x).argmax(1)

    tmpdir = tempfile.TemporaryDirectory(prefix="xai_bench_")
    tmp = Path(tmpdir.name)
    inp = tmp / "input.npy"
    np.save(inp, x_np)

    def run_xai(method: list[str]) -> float:
        cmd = [args.xai, "explain", "--model", str(MODEL), "--input", str(inp),
               "--output", str(tmp / "out.npy"), *method]
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t

    def captum_ig() -> float:
        ig = IntegratedGradients(model)
        t = time.perf_counter()
        ig.attribute(x, target=target, n_steps=args.steps, method="gausslegendre",
                     internal_batch_size=args.internal_batch_size)
        return time.perf_counter() - t

    def captum_sg() -> float:
        nt = NoiseTunnel(Saliency(model))
        # xai's default noise: 0.15 x each example's range; the cost does not depend on it.
        t = time.perf_counter()
        nt.attribute(x, nt_type="smoothgrad", nt_samples=args.samples, stdevs=0.15,
                     target=target, abs=False)
        return time.perf_counter() - t

    cases = {
        "ig": (["--method", "integrated-gradients", "--steps", str(args.steps)], captum_ig),
        "smoothgrad": (["--method", "smoothgrad", "--samples", str(args.samples)], captum_sg),
    }
    for name, (method, captum) in cases.items():
        if args.only and name != args.only:
            continue
        run_xai(method)  # warm-up (page cache)
        captum()
        xs, cs = [], []
        for _ in range(args.repeats):  # interleaved, so load changes hit both alike
            xs.append(run_xai(method))
            cs.append(captum())
        mx, mc = statistics.median(xs), statistics.median(cs)
        print(f"{name:11s} xai    {' '.join(f'{v:.3f}' for v in xs)}  median {mx:.3f} s")
        print(f"{name:11s} captum {' '.join(f'{v:.3f}' for v in cs)}  median {mc:.3f} s")
        print(f"{name:11s} ratio xai/captum = {mx / mc:.3f}  (goal <= 0.5)", flush=True)
    tmpdir.cleanup()


if __name__ == "__main__":
    main()
